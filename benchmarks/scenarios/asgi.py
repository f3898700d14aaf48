"""Inbound + one outbound hop through ``ECTMiddleware``, in-process (no sockets).

Variants, interleaved: the bare Starlette app; the same app with ``ECTMiddleware``
(verifying the cached WIT, the WPT and one ECT, minting one outbound ECT + WPT through the
httpx transport, recording in a SQLite ledger, minting the completion ECT), in each ledger
mode (durable writes, the default; background writes; no ledger); the same app with
OpenTelemetry's ASGI middleware; the crypto floor and the contract bound, back to back; and
the bare app with the crypto floor's work, and with each mode's contract bound's work, at
their places (a pure ASGI middleware and a transport around the peer's: "in place").
"""

from __future__ import annotations

import asyncio

from ect_middleware import ECTMiddleware
from ect_middleware.ledger.sqlite import SQLiteLedger

from .. import apps, identities, otel
from ..bound import ContractBound, count_transactions
from ..common import Result, scenario_main, scratch
from ..floor import CryptoFloor, count_ops, in_request_signature_time
from ..inproc import (
    HOST,
    asgi_variant,
    in_place_variants,
    interleave,
    ledger_modes,
    placed_asgi_variant,
    ratio,
    report_modes,
    report_overhead,
    us,
)


def run(quick: bool) -> Result:
    result = Result("asgi")
    with scratch("asgi") as folder:
        ids = identities.create(folder / "identities")
        settings = ids.settings(f"sqlite:///{folder / 'ledger.db'}")
        loop = asyncio.new_event_loop()
        bare = apps.starlette_app(with_ect_transport=False)
        with_ect = apps.starlette_app(with_ect_transport=True)
        with_ect.add_middleware(ECTMiddleware, settings=settings)
        with_otel = otel.instrument(apps.starlette_app(with_ect_transport=False))

        def call(headers: apps.Headers) -> int:
            return loop.run_until_complete(apps.call_asgi(with_ect, headers, HOST))

        ops = count_ops(ids, call)
        transactions = count_transactions(ids, call)
        floor = CryptoFloor(ids.caller_key.private.public_key(), ids.service_key.private, ops)
        bound_ledger = SQLiteLedger(folder / "bound.db")
        bound = ContractBound(ids, ops, transactions, bound_ledger)
        modes = ledger_modes(ids, lambda name: f"sqlite:///{folder / name}.db")
        variants = {
            "bare": asgi_variant(bare, loop),
            "ect": asgi_variant(with_ect, loop),
            "otel": asgi_variant(with_otel, loop),
            "floor": lambda batch: lambda: floor.run([floor.prepare(h) for h in batch]),
            "bound": lambda batch: lambda: bound.run([bound.prepare(h) for h in batch]),
        }
        for mode in modes:
            if mode.runtime is not None:
                app = apps.starlette_app(with_ect_transport=True)
                app.add_middleware(ECTMiddleware, runtime=mode.runtime)
                variants[mode.name] = asgi_variant(app, loop)
        variants |= in_place_variants(
            lambda steps: placed_asgi_variant(steps, loop), floor, ids, transactions, bound_ledger
        )
        timings = interleave(
            variants,
            ids.request_headers,
            rounds=5 if quick else 15,
            per_round=60 if quick else 300,
            settle={m.name: m.settle for m in modes if m.runtime is not None},
        )
        in_request = in_request_signature_time(
            ids, lambda batch: asgi_variant(with_ect, loop)(batch)()
        )
        loop.close()
        for mode in modes:
            if mode.runtime is not None:
                mode.runtime.close()
    report_overhead(result, timings, ops, "Starlette", in_request, transactions)
    report_modes(result, timings, modes)
    otel_overhead = timings.median("otel") - timings.median("bare")
    ours = timings.median("ect") - timings.median("bare") - timings.median("floor")
    result.add("with OpenTelemetry ASGI (SDK)", us(timings.median("otel")), "µs/req")
    result.add("OpenTelemetry overhead", us(otel_overhead), "µs/req")
    result.add(
        "our overhead - floor vs OTel overhead",
        ratio(ours, otel_overhead),
        "x",
        target="< 1.00",
        met=ours < otel_overhead,
        note=f"{us(ours):.0f} µs vs {us(otel_overhead):.0f} µs; of ours, the contract bound's "
        f"{us(timings.median('bound') - timings.median('floor')):.0f} µs",
    )
    return result


if __name__ == "__main__":
    scenario_main("asgi", run)
