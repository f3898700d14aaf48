"""Inbound + one outbound hop through ``ECTWSGIMiddleware``, in-process: a bare WSGI
callable (no framework) against the same callable wrapped, in each ledger mode; the crypto
floor and the contract bound, back to back; and the bare callable with the crypto floor's
work, and with each mode's contract bound's work, at their places (a WSGI wrapper and a
transport around the peer's: "in place")."""

from __future__ import annotations

from ect_middleware import ECTWSGIMiddleware
from ect_middleware.ledger.sqlite import SQLiteLedger

from .. import apps, identities
from ..bound import ContractBound, count_transactions
from ..common import Result, scenario_main, scratch
from ..floor import CryptoFloor, count_ops, in_request_signature_time
from ..inproc import (
    HOST,
    in_place_variants,
    interleave,
    ledger_modes,
    placed_wsgi_variant,
    report_modes,
    report_overhead,
    wsgi_variant,
)


def run(quick: bool) -> Result:
    result = Result("wsgi")
    with scratch("wsgi") as folder:
        ids = identities.create(folder / "identities")
        settings = ids.settings(f"sqlite:///{folder / 'ledger.db'}")
        bare = apps.wsgi_app(with_ect_transport=False)
        with_ect = ECTWSGIMiddleware(apps.wsgi_app(with_ect_transport=True), settings=settings)
        ops = count_ops(ids, lambda h: apps.call_wsgi(with_ect, h, HOST))
        transactions = count_transactions(ids, lambda h: apps.call_wsgi(with_ect, h, HOST))
        floor = CryptoFloor(ids.caller_key.private.public_key(), ids.service_key.private, ops)
        bound_ledger = SQLiteLedger(folder / "bound.db")
        bound = ContractBound(ids, ops, transactions, bound_ledger)
        modes = ledger_modes(ids, lambda name: f"sqlite:///{folder / name}.db")
        variants = {
            "bare": wsgi_variant(bare),
            "ect": wsgi_variant(with_ect),
            "floor": lambda batch: lambda: floor.run([floor.prepare(h) for h in batch]),
            "bound": lambda batch: lambda: bound.run([bound.prepare(h) for h in batch]),
        }
        for mode in modes:
            if mode.runtime is not None:
                app = apps.wsgi_app(with_ect_transport=True)
                variants[mode.name] = wsgi_variant(ECTWSGIMiddleware(app, runtime=mode.runtime))
        variants |= in_place_variants(placed_wsgi_variant, floor, ids, transactions, bound_ledger)
        timings = interleave(
            variants,
            ids.request_headers,
            rounds=5 if quick else 15,
            per_round=60 if quick else 300,
            settle={m.name: m.settle for m in modes if m.runtime is not None},
        )
        in_request = in_request_signature_time(ids, lambda batch: wsgi_variant(with_ect)(batch)())
        for mode in modes:
            if mode.runtime is not None:
                mode.runtime.close()
    report_overhead(result, timings, ops, "WSGI", in_request, transactions)
    report_modes(result, timings, modes)
    return result


if __name__ == "__main__":
    scenario_main("wsgi", run)
