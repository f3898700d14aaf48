"""Re-verify an export bundle offline, trusting nothing but a trust bundle.

A third party (an auditor, another organisation) receives a bundle and the WIT issuers'
keys, and checks that every entry holds up on its own:

1. each WIT verifies against the trust bundle *at the time its ECT was issued* (the ECT's
   ``iat`` is the clock: WITs are short-lived and the bundle is read long after), and was
   not itself issued later than that ECT (beyond the leeway);
2. each ECT verifies with its WIT's ``cnf.jwk`` and names the WIT's ``sub`` as ``iss``
   (``tokens.ect.verify_ect``; the auditor is no audience, so any audience is accepted);
3. the DAG rules hold across the bundle (``verification.dag.check_dag``, the very rules
   the middleware applies, over a bundle-backed ``TaskStore``): one ECT per ``jti``,
   parents present (a parent may be missing only where every record of the ECT says its
   recorder could not resolve it), parents not issued after their children beyond the
   skew, no cycles.

The same ECT recorded twice (minted by A, received by B, in a merged export) is one task;
two *different* ECTs with one ``jti`` break rule 1. Problems are reported per line with
the library's stable error codes, plus the bundle's own: ``bundle.malformed`` (a line that
is not an entry), ``bundle.wit_missing`` (no WIT recorded with the ECT) and
``wit.issued_after_ect``. An entry that fails is not a task, so its children report
``dag.parent_unknown`` too, naming the line that failed.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field

from ..errors import ECTError, ECTMiddlewareError
from ..limits import Limits
from ..tokens import claims as c
from ..tokens import jws
from ..tokens.ect import ECTClaims, verify_ect
from ..tokens.jws import ECT
from ..tokens.trust import TrustBundle
from ..tokens.wit import VerifiedWIT, WITVerifier
from ..verification.dag import TaskRef, TaskStore, check_dag, in_scope
from .bundle import BundleLine, MalformedLine, read_bundle


@dataclass(frozen=True)
class Problem:
    """What is wrong with the entry on ``line`` (``jti`` as the token claims it, if any)."""

    line: int
    jti: str | None
    code: str
    detail: str

    def __str__(self) -> str:
        jti = self.jti if c.is_uuid(self.jti) else "?"  # never echo arbitrary token text
        return f"line {self.line}: jti {jti}: {self.code}: {self.detail}"


@dataclass(frozen=True)
class BundleReport:
    entries: int
    tasks: int
    workflows: tuple[str, ...]
    #: parents absent from the bundle that every recorder of the child marked unresolved
    unresolved: tuple[str, ...]
    problems: tuple[Problem, ...]

    @property
    def ok(self) -> bool:
        return self.entries > 0 and not self.problems


@dataclass
class _Task:
    claims: ECTClaims
    lines: list[int] = field(default_factory=list)
    #: per record of this ECT: the parents its recorder marked unresolved
    unresolved: list[frozenset[str]] = field(default_factory=list)


class BundleRejection(ECTMiddlewareError):
    """A failure with one of the bundle's own codes (not HTTP errors, so not in ``CODES``)."""

    def __init__(self, code: str, detail: str) -> None:
        super().__init__(f"{code}: {detail}")
        self.code = code
        self.detail = detail


class _IssuedAt:
    """The clock of the entry being verified: its ECT's ``iat``."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


class _BundleStore(TaskStore):
    """The bundle's verified ECTs as the DAG rules' ``TaskStore``.

    ``lookup`` sees every verified task (in a merged bundle a parent may come after its
    child); ``already_recorded`` sees the tasks admitted so far, so that a second,
    different ECT with an admitted ``jti`` (in any workflow) breaks uniqueness, as it
    would at a service.
    """

    def __init__(self, tasks: Iterable[ECTClaims]) -> None:
        self._by_jti: dict[str, list[TaskRef]] = {}
        for t in tasks:
            self._by_jti.setdefault(t.jti, []).append(TaskRef(t.jti, t.wid, t.iat, t.par))
        self._admitted: dict[str, int] = {}  # jti -> line

    def lookup(self, jti: str, wid: str | None) -> TaskRef | None:
        for ref in self._by_jti.get(jti, ()):
            if in_scope(ref.wid, wid):
                return ref
        return None

    def already_recorded(self, jti: str) -> bool:
        return jti in self._admitted

    def admitted_at(self, jti: str) -> int | None:
        """The line of the admitted ECT ``jti``, if one was admitted."""
        return self._admitted.get(jti)

    def admit(self, claims: ECTClaims, line: int) -> None:
        self._admitted.setdefault(claims.jti, line)


def reverify(
    lines: Iterable[str], trust: TrustBundle, limits: Limits | None = None
) -> BundleReport:
    """Check every entry of the bundle ``lines``; see the module docstring for the rules."""
    limits = limits or Limits()
    clock = _IssuedAt()
    wits = WITVerifier(lambda: trust, limits, clock)
    problems: list[Problem] = []
    tasks: dict[str, _Task] = {}  # compact ECT -> task: identical tokens are one task
    failed: dict[str, int] = {}  # jti claimed by an entry that failed -> its line
    entries = 0
    for item in read_bundle(lines):
        if isinstance(item, MalformedLine):
            problems.append(Problem(item.line, None, "bundle.malformed", item.detail))
            continue
        entries += 1
        try:
            claims = _verify_entry(item, wits, clock, limits)
        except (ECTError, BundleRejection) as exc:
            jti = _claimed_jti(item.ect)
            problems.append(Problem(item.line, jti, exc.code, exc.detail))
            if jti is not None:
                failed.setdefault(jti, item.line)
            continue
        task = tasks.setdefault(item.ect, _Task(claims))
        task.lines.append(item.line)
        task.unresolved.append(frozenset(item.unresolved))

    store = _BundleStore(t.claims for t in tasks.values())
    accepted_missing: set[str] = set()
    for task in tasks.values():
        problems += _check_dag(task, store, limits, failed, accepted_missing)
    problems.sort(key=lambda p: p.line)
    return BundleReport(
        entries=entries,
        tasks=len(tasks),
        workflows=tuple(dict.fromkeys(t.claims.wid or "" for t in tasks.values())),
        unresolved=tuple(sorted(accepted_missing)),
        problems=tuple(problems),
    )


def _verify_entry(
    item: BundleLine, wits: WITVerifier, clock: _IssuedAt, limits: Limits
) -> ECTClaims:
    """The WIT at the ECT's issue time, then the ECT with the WIT's key (rules 1 and 2)."""
    jws.parse(item.ect, ECT, limits.max_token_bytes)  # size, shape, typ, alg: before anything
    payload = jws.read_payload(item.ect)
    if payload is None:
        raise ECTError("ect.malformed", "payload is not a base64url JSON object")
    clock.now = c.numeric_date(payload, "iat", ECT)
    if item.wit is None:
        raise BundleRejection("bundle.wit_missing", "no WIT was recorded with this ECT")
    wit = wits.verify(item.wit)
    _check_issued_before(wit, clock.now, limits)
    return verify_ect(item.ect, wit, _audiences(payload.get("aud")), limits, clock)


def _check_issued_before(wit: VerifiedWIT, ect_iat: float, limits: Limits) -> None:
    """A WIT issued after the ECT cannot be what its issuer held then (a backdated ECT)."""
    issued = wit.claims.get("iat")
    if isinstance(issued, bool) or not isinstance(issued, (int, float)):
        return  # iat is optional in a WIT (PROFILE §3)
    if issued > ect_iat + limits.leeway:
        raise BundleRejection("wit.issued_after_ect", "the WIT was issued after the ECT")


def _audiences(aud: object) -> Sequence[str]:
    """The ECT's own audiences: an offline auditor is none of them and accepts any."""
    if isinstance(aud, str):
        return (aud,)
    if isinstance(aud, list):
        return tuple(a for a in aud if isinstance(a, str))
    return ()


def _check_dag(
    task: _Task,
    store: _BundleStore,
    limits: Limits,
    failed: dict[str, int],
    accepted_missing: set[str],
) -> Iterator[Problem]:
    claims, line = task.claims, task.lines[0]
    earlier = store.admitted_at(claims.jti)
    try:
        missing = check_dag([claims], store, limits, "partial")[claims.jti]
    except ECTError as exc:
        detail = exc.detail
        if exc.code == "ect.replayed" and earlier is not None:
            detail = f"a different ECT with the same jti is on line {earlier}"
        yield Problem(line, claims.jti, exc.code, detail)
        return
    finally:
        store.admit(claims, line)
    # A parent may be missing only if every recorder of this ECT could not resolve it.
    allowed = frozenset.intersection(*task.unresolved)
    for parent in missing:
        if parent in allowed:
            accepted_missing.add(parent)
        elif parent in failed:
            detail = f"parent {parent} is on line {failed[parent]}, which failed verification"
            yield Problem(line, claims.jti, "dag.parent_unknown", detail)
        else:
            detail = f"parent {parent} is not in the bundle and not marked unresolved"
            yield Problem(line, claims.jti, "dag.parent_unknown", detail)


def _claimed_jti(token: str) -> str | None:
    payload = jws.read_payload(token)
    jti = payload.get("jti") if payload else None
    return jti if isinstance(jti, str) else None
