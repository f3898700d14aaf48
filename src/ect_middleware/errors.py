"""Every error this library raises, and the stable codes of its rejections (PROFILE §10).

One family: every exception class the library defines derives from ``ECTMiddlewareError``
(keep it so: a test walks the package). A mistake in code calling the library, such as an
empty ``exec_act``, stays Python's own ``ValueError``/``TypeError``::

    ECTMiddlewareError
    ├── ConfigurationError               unusable configuration: at startup, naming the setting
    ├── LedgerError                      the ledger could not record or read an entry
    ├── ECTError                         a rejection: ``code``, HTTP ``status``, problem+json
    │   └── CallerNotAllowed             403 caller.not_allowed (authorization)
    ├── InvalidKey (ValueError)          a JWK or PEM that is not an acceptable key (tokens.keys)
    ├── MalformedLine (ValueError)       an audit bundle line that is not an entry (audit.bundle)
    └── BundleRejection                  an entry that does not re-verify (audit.reverify)

Every rejection code is spelled in full once, as a key of ``CODES`` (its HTTP status and
title), and in full again wherever it is raised: ``ECTError("wpt.audience_mismatch", ...)``,
so one grep finds a code's definition and every place that raises it. The checks all three
token kinds share raise the kind's own code (``kind.codes.malformed``, see
``tokens/jws.py``), spelled in full where each kind is declared. Codes, statuses and titles
are public API: never rename or renumber one; add a code as one new line here.

Error details are written by this library only: they never contain a token, a key, or a
hash of a body.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Final


class ECTMiddlewareError(Exception):
    """Base of every error ect-middleware raises."""


class ConfigurationError(ECTMiddlewareError):
    """The service's own configuration is unusable (raised at startup, never per request);
    the message names the setting."""


class LedgerError(ECTMiddlewareError):
    """The ledger could not record or read an entry."""


#: code -> (HTTP status, short human title); read-only
CODES: Final[Mapping[str, tuple[int, str]]] = MappingProxyType(
    {
        # WIT: who the caller is (each kind's first eleven: the checks all three kinds share)
        "wit.missing": (400, "WIT missing"),
        "wit.duplicate": (400, "more than one WIT header"),
        "wit.too_large": (400, "WIT exceeds the size limit"),
        "wit.malformed": (400, "WIT is not a well-formed compact JWS"),
        "wit.typ_invalid": (400, "WIT has the wrong typ"),
        "wit.alg_not_allowed": (400, "WIT algorithm not allowed"),
        "wit.header_forbidden": (400, "WIT carries a forbidden JOSE header"),
        "wit.bad_signature": (400, "WIT signature invalid"),
        "wit.expired": (400, "WIT expired"),
        "wit.not_yet_valid": (400, "WIT not valid yet (nbf)"),
        "wit.claims_invalid": (400, "WIT claims missing or ill-typed"),
        "wit.untrusted_domain": (400, "WIT issued by an untrusted trust domain"),
        "wit.unknown_kid": (400, "WIT signing key not found in the trust bundle"),
        "wit.invalid_sub": (400, "WIT subject is not a valid workload identifier"),
        "wit.cnf_invalid": (400, "WIT confirmation key invalid"),
        "wit.unexpected_subject": (400, "WIT subject is not the expected peer"),
        "wit.issuer_mismatch": (400, "WIT issuer is not the trust domain's configured issuer"),
        "wit.audience_mismatch": (400, "WIT audience does not name this service"),
        # WPT: proof of possession, for this request
        "wpt.missing": (400, "WPT missing"),
        "wpt.duplicate": (400, "more than one WPT header"),
        "wpt.too_large": (400, "WPT exceeds the size limit"),
        "wpt.malformed": (400, "WPT is not a well-formed compact JWS"),
        "wpt.typ_invalid": (400, "WPT has the wrong typ"),
        "wpt.alg_not_allowed": (400, "WPT algorithm not allowed"),
        "wpt.header_forbidden": (400, "WPT carries a forbidden JOSE header"),
        "wpt.bad_signature": (400, "WPT signature invalid"),
        "wpt.expired": (400, "WPT expired"),
        "wpt.not_yet_valid": (400, "WPT not valid yet (nbf)"),
        "wpt.claims_invalid": (400, "WPT claims missing or ill-typed"),
        "wpt.alg_mismatch": (400, "WPT algorithm differs from the WIT confirmation key"),
        "wpt.audience_mismatch": (400, "WPT audience is not this service"),
        "wpt.lifetime_exceeded": (400, "WPT lifetime exceeds the maximum"),
        "wpt.wth_mismatch": (400, "WPT not bound to the presented WIT"),
        "wpt.ath_mismatch": (400, "WPT not bound to the Authorization token"),
        "wpt.tth_mismatch": (400, "WPT not bound to the Txn-Token"),
        "wpt.oth_mismatch": (400, "WPT not bound to the Execution-Context header"),
        "wpt.oth_unknown": (400, "WPT binds a header this service does not understand"),
        "wpt.replayed": (400, "WPT replayed"),
        # ECT: what was done, and after what
        "ect.missing": (400, "ECT missing"),
        "ect.duplicate": (400, "more than one ECT header"),
        "ect.too_large": (400, "ECT exceeds the size limit"),
        "ect.malformed": (400, "ECT is not a well-formed compact JWS"),
        "ect.typ_invalid": (400, "ECT has the wrong typ"),
        "ect.alg_not_allowed": (400, "ECT algorithm not allowed"),
        "ect.header_forbidden": (400, "ECT carries a forbidden JOSE header"),
        "ect.bad_signature": (400, "ECT signature invalid"),
        "ect.expired": (400, "ECT expired"),
        "ect.not_yet_valid": (400, "ECT not valid yet (nbf)"),
        "ect.claims_invalid": (400, "ECT claims missing or ill-typed"),
        "ect.alg_mismatch": (400, "ECT algorithm differs from the issuer key"),
        "ect.issuer_mismatch": (400, "ECT issuer is not the authenticated caller"),
        "ect.audience_mismatch": (400, "ECT audience does not include this service"),
        "ect.issued_in_future": (400, "ECT issued in the future"),
        "ect.lifetime_exceeded": (400, "ECT lifetime exceeds the maximum"),
        "ect.invalid_id": (400, "ECT jti, wid or par entry is not a UUID"),
        "ect.ext_too_large": (400, "ECT ext claim too large"),
        "ect.ext_too_deep": (400, "ECT ext claim nested too deeply"),
        "ect.too_many": (400, "too many ECTs on one request"),
        "ect.wid_mismatch": (400, "ECTs on one request belong to different workflows"),
        "ect.replayed": (400, "ECT presented more than once"),
        "ect.unsigned": (400, "ECT is unsigned (assurance level L1), which is not accepted"),
        "ect.draft_conflict": (400, "ECT carries one claim in both draft spellings"),
        # DAG rules
        "dag.too_many_parents": (400, "ECT has too many parents"),
        "dag.parent_unknown": (400, "ECT parent not found"),
        "dag.parent_after_child": (400, "ECT parent issued after its child"),
        "dag.cycle": (400, "ECT would close a cycle"),
        "dag.ancestor_limit": (400, "ECT ancestry exceeds the walk limit"),
        # the request as a whole, policy, and what the middleware depends on
        "request.headers_too_large": (400, "Execution-Context headers exceed the size limit"),
        "policy.denied": (403, "denied by policy"),
        "caller.not_allowed": (403, "caller not allowed for this route"),
        "ledger.unavailable": (503, "audit ledger unavailable"),
        "replay.unavailable": (503, "replay cache unavailable"),
        "replay.caller_limit": (429, "caller holds too many live replay-cache entries"),
    }
)


class ECTError(ECTMiddlewareError):
    """A rejection with a stable ``code`` (a key of ``CODES``); ``status`` is the HTTP
    status it maps to."""

    def __init__(self, code: str, detail: str) -> None:
        status, title = CODES[code]
        super().__init__(f"{code}: {detail}")
        self.code = code
        self.detail = detail
        self.status = status
        self.title = title

    def problem(self) -> dict[str, object]:
        """The RFC 9457 problem document for this error."""
        return {
            "type": f"urn:ect-middleware:error:{self.code}",
            "title": self.title,
            "status": self.status,
            "detail": self.detail,
            "code": self.code,
        }
