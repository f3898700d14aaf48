"""Interleaved, in-process measurement of request handlers (no sockets).

Each round gives every variant a fresh batch of requests (tokens are minted before the
clock starts, never reused: a WPT or ECT may be presented once) and times the batch. The
order of the variants rotates from round to round. The result is, per variant, one
per-request time per round; the table reports their median.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ect_middleware.errors import ConfigurationError
from ect_middleware.runtime import Runtime

from .apps import Headers, call_asgi, call_wsgi
from .common import Result, median, timed_both
from .floor import OpCount
from .identities import SERVICE_URL, Identities

HOST = SERVICE_URL.split("://", 1)[1]

#: Prepares a batch (untimed) and returns the function that runs it (timed).
Variant = Callable[[list[Headers]], Callable[[], object]]


@dataclass
class Timings:
    #: per variant, the wall-clock seconds per request of each round
    per_request: dict[str, list[float]]
    #: the same in CPU seconds of this process
    cpu_per_request: dict[str, list[float]]

    def median(self, name: str) -> float:
        return median(self.per_request[name])

    def cpu_median(self, name: str) -> float:
        return median(self.cpu_per_request[name])


def asgi_variant(app: Any, loop: asyncio.AbstractEventLoop, expect: int = 200) -> Variant:
    def prepare(batch: list[Headers]) -> Callable[[], object]:
        async def run() -> None:
            for headers in batch:
                status = await call_asgi(app, headers, HOST)
                if status != expect:
                    raise RuntimeError(f"ASGI request answered {status}, not {expect}")

        return lambda: loop.run_until_complete(run())

    return prepare


def wsgi_variant(app: Callable[..., Any]) -> Variant:
    def prepare(batch: list[Headers]) -> Callable[[], object]:
        def run() -> None:
            for headers in batch:
                status = call_wsgi(app, headers, HOST)
                if status != 200:
                    raise RuntimeError(f"WSGI request answered {status}")

        return run

    return prepare


def interleave(
    variants: dict[str, Variant],
    make_request: Callable[[], Headers] | Mapping[str, Callable[[], Headers]],
    *,
    rounds: int,
    per_round: int,
    warmup: int = 20,
    settle: Mapping[str, Callable[[], object]] | None = None,
) -> Timings:
    """Time ``variants`` round after round; ``make_request`` is shared or one per variant.
    ``settle``: per variant, what to run (untimed) after each of its batches, so that work
    it left behind (queued ledger writes) is not timed as part of the next variant."""
    settle = settle or {}
    names = list(variants)
    makers = (
        {name: make_request[name] for name in names}
        if isinstance(make_request, Mapping)
        else dict.fromkeys(names, make_request)
    )
    for name in names:
        variants[name]([makers[name]() for _ in range(warmup)])()
    timings = Timings({name: [] for name in names}, {name: [] for name in names})
    for round_number in range(rounds):
        shift = round_number % len(names)
        for name in names[shift:] + names[:shift]:
            run = variants[name]([makers[name]() for _ in range(per_round)])
            wall, cpu = timed_both(run)
            timings.per_request[name].append(wall / per_round)
            timings.cpu_per_request[name].append(cpu / per_round)
            if name in settle:
                settle[name]()
    return timings


def us(seconds: float) -> float:
    return round(seconds * 1e6, 1)


def ratio(a: float, b: float) -> float:
    return round(a / b, 3) if b else float("inf")


def spread(values: Sequence[float]) -> str:
    """The interquartile range of per-round times, in µs, to show how noisy a row was."""
    ordered = sorted(values)
    q1, q3 = ordered[len(ordered) // 4], ordered[(3 * len(ordered)) // 4]
    return f"IQR {us(q1):.0f}-{us(q3):.0f} µs"


def report_overhead(
    result: Result,
    timings: Timings,
    ops: OpCount,
    app_name: str,
    in_request: float,
    transactions: Sequence[int],
) -> None:
    """Bare, with the middleware, the overhead, the floor and the contract bound: the ASGI
    and WSGI rows. ``in_request``: the seconds per request the signature operations take
    inside requests (``floor.in_request_signature_time``), shown next to the floor;
    ``transactions``: the entries of each of the request's ledger transactions."""
    bare, ect, floor, bound = (timings.median(n) for n in ("bare", "ect", "floor", "bound"))
    overhead = ect - bare
    result.add(f"bare {app_name} app", us(bare), "µs/req", note=spread(timings.per_request["bare"]))
    result.add(
        "with the ECT middleware", us(ect), "µs/req", note=spread(timings.per_request["ect"])
    )
    cpu_overhead = timings.cpu_median("ect") - timings.cpu_median("bare")
    result.add(
        "overhead (with - bare)", us(overhead), "µs/req", note=f"CPU {us(cpu_overhead):.0f} µs"
    )
    result.add(
        "crypto floor",
        us(floor),
        "µs/req",
        note=f"{ops}; CPU {us(timings.cpu_median('floor')):.0f} µs",
    )
    result.add(
        "contract bound: python-jose, the ledger transactions, the log line",
        us(bound),
        "µs/req",
        note=f"{ratio(bound, floor):.2f}x the floor; {len(transactions)} transactions "
        f"({'+'.join(map(str, transactions))} entries); nothing else (see benchmarks/bound.py)",
    )
    result.add(
        "overhead / crypto floor",
        ratio(overhead, floor),
        "x",
        target="<= 1.30",
        met=overhead <= 1.3 * floor,
        note=f"in CPU time: {ratio(cpu_overhead, timings.cpu_median('floor')):.2f}x; "
        f"the contract bound alone: {ratio(bound, floor):.2f}x",
    )
    result.add(
        "the same signatures, timed inside requests",
        us(in_request),
        "µs/req",
        note=f"{ratio(in_request, floor):.2f}x the floor, which runs them back to back",
    )
    result.add(
        "overhead beyond the signatures as timed inside requests",
        us(overhead - in_request),
        "µs/req",
        note="the JOSE, ledger, logging, context and hook work",
    )


#: The ledger modes compared, by variant name: (label, settings, the target ratio of the
#: overhead to the crypto floor). ``ect`` is the default (durable writes, SQLite).
MODES = {
    "ect": ("durable writes (default)", {}, 3.0),
    "ect-background": ("background writes", {"ledger_write": "background"}, 2.0),
    "ect-none": ("no ledger (ECT_LEDGER=none)", {"ledger": "none"}, 1.5),
}


@dataclass
class Mode:
    """One ledger mode's runtime, or why the measured source cannot run it."""

    name: str
    runtime: Runtime | None
    unavailable: str = ""

    def settle(self) -> None:
        """Wait for the ledger writes the last batch queued (background writes)."""
        # ``writer`` in this tree; ``_writer`` in the sources ``--src`` may measure
        writer = getattr(self.runtime, "writer", None) or getattr(self.runtime, "_writer", None)
        drain = getattr(writer, "drain", None)
        if drain is not None:
            drain()


def ledger_modes(ids: Identities, ledger_url: Callable[[str], str]) -> list[Mode]:
    """The runtimes of the modes besides the default, each with a ledger of its own
    (``ledger_url(name)``); a mode the measured source refuses is reported, not run."""
    modes = []
    for name, (_, overrides, _) in MODES.items():
        if name == "ect":
            continue
        values = {"ledger": ledger_url(name), **overrides}
        try:
            modes.append(Mode(name, Runtime(ids.settings(**values))))
        except (ConfigurationError, TypeError) as exc:  # TypeError: an unknown setting
            modes.append(Mode(name, None, f"not run: {str(exc).splitlines()[0][:120]}"))
    return modes


def report_modes(result: Result, timings: Timings, modes: Sequence[Mode]) -> None:
    """Per ledger mode: with the middleware, and its overhead over the crypto floor."""
    bare, floor = timings.median("bare"), timings.median("floor")
    unavailable = {m.name: m.unavailable for m in modes if m.runtime is None}
    for name, (label, _, target) in MODES.items():
        if name in unavailable:
            result.add(f"{label}: overhead / crypto floor", 0.0, "x", note=unavailable[name])
            continue
        overhead = timings.median(name) - bare
        cpu = timings.cpu_median(name) - timings.cpu_median("bare")
        result.add(
            f"{label}: overhead / crypto floor",
            ratio(overhead, floor),
            "x",
            target=f"<= {target:.2f}",
            met=overhead <= target * floor,
            note=f"overhead {us(overhead):.0f} µs; in CPU time: "
            f"{ratio(cpu, timings.cpu_median('floor')):.2f}x",
        )
