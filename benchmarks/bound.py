"""The contract bound: the least any middleware built on this project's contract pays per
request, to show where the crypto floor's 1.3x target lies.

CONTRACT §1 puts every signature through python-jose, CONTRACT §4 logs every checkpoint
(the inbound decision is one); PROFILE §7, as docs/PROFILE.md decides it,
makes each entry durable (one hash-chained SQLite transaction per flush) before the call
or response that depends on it.
The bound does only that for the same request: python-jose's key calls for the same
verifications and signatures (``Key.verify``, ``Key.sign``: what its ``jws`` functions end
in), the same ledger transactions (observed on a real request) with the request's own
tokens, and the checkpoint's log line through the same logging path
(``ect_middleware.logs``, configured as the scenario's application configures it). No
claim checks, no DAG, no replay cache, no context, no hooks: everything else a middleware
does comes on top.

Its work is split into the steps a middleware does at three places (``inbound``: before
the app; ``outbound``: in the transport, before the peer is called; ``completion``: once
the app has answered, before the response). ``run`` does them back to back ("contract
bound"); ``benchmarks/placed.py`` does them at their places in the bare app ("contract
bound in place"), where the app's own work between them leaves the caches cold, as the
middleware's own work finds them. A bound made with no transactions is the bound of a
mode whose ledger writes are off the request's path (background writes) or absent.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from ect_middleware.ledger.base import NewEntry
from ect_middleware.ledger.sqlite import SQLiteLedger
from ect_middleware.ledger.writer import LedgerWriter
from ect_middleware.logs import log as _log  # the middleware's own path for the line
from ect_middleware.runtime import INBOUND_POLICY
from ect_middleware.tokens.encoding import b64url_decode

from .apps import Headers
from .floor import OpCount
from .identities import CALLER, SERVICE, Identities


@contextmanager
def observed_transactions() -> Iterator[list[int]]:
    """The entries of each ledger transaction the middleware hands its writer, in order."""
    sizes: list[int] = []
    original = LedgerWriter.submit

    def counting(self: LedgerWriter, entries: Any) -> Any:
        sizes.append(len(entries))
        return original(self, entries)

    LedgerWriter.submit = counting  # type: ignore[method-assign]
    try:
        yield sizes
    finally:
        LedgerWriter.submit = original  # type: ignore[method-assign]


def count_transactions(ids: Identities, call: Callable[[Headers], int]) -> tuple[int, ...]:
    """The entries of each ledger transaction of one request through ``call``."""
    call(ids.request_headers())
    with observed_transactions() as sizes:
        status = call(ids.request_headers())
    if status != 200:
        raise RuntimeError(f"the observed request was answered {status}")
    return tuple(sizes)


@dataclass(frozen=True)
class _Prepared:
    checks: list[tuple[bytes, bytes]]  # (signing input, raw signature) per verification
    signing_input: bytes  # what each signature signs: the request's ECT, without signature
    before_call: list[list[NewEntry]]  # the first transaction: durable before the call
    before_response: list[list[NewEntry]]  # the others: durable before the response
    checkpoint: dict[str, object]  # the fields of the inbound decision's log line


class ContractBound:
    """python-jose's calls, the durable ledger transactions and the checkpoint line of a
    request, nothing else."""

    def __init__(
        self, ids: Identities, ops: OpCount, transactions: tuple[int, ...], ledger: SQLiteLedger
    ) -> None:
        self._verify = ids.caller_key.public.jose_key.verify
        self._sign = ids.service_key.jose_key.sign
        self._wit = ids.caller_wit
        self._ledger = ledger
        self.ops = ops
        self.transactions = transactions

    def prepare(self, headers: Headers) -> _Prepared:
        tokens = [v for k, v in headers if k in ("workload-proof-token", "execution-context")]
        pairs = [_split(t) for t in tokens]
        ect = dict(headers)["execution-context"]
        transactions = [[self._entry(ect) for _ in range(n)] for n in self.transactions]
        return _Prepared(
            checks=[pairs[i % len(pairs)] for i in range(self.ops.verify)],
            signing_input=ect.rpartition(".")[0].encode("ascii"),
            before_call=transactions[:1],
            before_response=transactions[1:],
            checkpoint={
                "workflow_id": str(uuid.uuid4()),
                "task_id": str(uuid.uuid4()),
                "caller": CALLER,
                "policy": INBOUND_POLICY,
                "decision": "approved",
                "enforcer": SERVICE,
                "parents": 1,
            },
        )

    def run(self, prepared: list[_Prepared]) -> None:
        """The bound's work for ``len(prepared)`` requests, back to back."""
        for request in prepared:
            self.inbound(request)
            self.outbound(request)
            self.completion(request)

    def inbound(self, request: _Prepared) -> None:
        """Before the app: the WPT's and ECT's verifications, the checkpoint's log line."""
        verify = self._verify
        for message, signature in request.checks:
            if not verify(message, signature):
                raise RuntimeError("the bound's verification failed")
        _log.info("ect.checkpoint", **request.checkpoint)

    def outbound(self, request: _Prepared) -> None:
        """In the transport, before the peer is called: the outbound ECT's and WPT's
        signatures, then the entries that must be durable before the call."""
        sign, message = self._sign, request.signing_input
        for _ in range(self.ops.outbound_signs):
            sign(message)
        self._write(request.before_call)

    def completion(self, request: _Prepared) -> None:
        """Once the app has answered: the completion ECT's signature, then the entries
        that must be durable before the response."""
        sign, message = self._sign, request.signing_input
        for _ in range(self.ops.completion_signs):
            sign(message)
        self._write(request.before_response)

    def _write(self, transactions: list[list[NewEntry]]) -> None:
        for entries in transactions:
            if self._ledger.append_nowait(entries) is None:
                self._ledger.append(entries)

    def _entry(self, ect: str) -> NewEntry:
        return NewEntry(
            ect=ect,
            wit=self._wit,
            direction="received",
            recorder=SERVICE,
            jti=str(uuid.uuid4()),
            wid=str(uuid.uuid4()),
            iss=SERVICE,
            iat=0.0,
            par=(str(uuid.uuid4()),),
        )


def _split(token: str) -> tuple[bytes, bytes]:
    signing_input, _, signature = token.rpartition(".")
    return signing_input.encode("ascii"), b64url_decode(signature)
