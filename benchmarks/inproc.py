"""Interleaved, in-process measurement of request handlers (no sockets).

Each round gives every variant a fresh batch of requests (tokens are minted before the
clock starts, never reused: a WPT or ECT may be presented once) and times the batch. The
order of the variants rotates from round to round. The result is, per variant, one
per-request time per round; the table reports their median.

Besides the bare app, the app with the middleware in each ledger mode and the crypto
floor and contract bound run back to back, the same run interleaves the bare app with the
floor's and each mode's contract bound's work done at their places in it
(``benchmarks/placed.py``): "in place", the least that work costs inside a request, caches
cold from the app's own work between the steps. Each in-place row reports (in place -
bare) / the crypto floor.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ect_middleware.errors import ConfigurationError
from ect_middleware.ledger.sqlite import SQLiteLedger
from ect_middleware.runtime import Runtime

from . import apps
from .apps import Headers, call_asgi, call_wsgi
from .bound import ContractBound
from .common import Result, median, timed_both
from .floor import CryptoFloor, OpCount
from .identities import SERVICE_URL, Identities
from .placed import AsyncPlacedTransport, Placed, PlacedASGI, PlacedTransport, PlacedWSGI, Steps

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


def placed_asgi_variant(steps: Steps[Any], loop: asyncio.AbstractEventLoop) -> Variant:
    """The bare Starlette app with ``steps`` at their places: a pure ASGI middleware added
    where ``ECTMiddleware`` is, a transport around the peer's."""
    placed = Placed(steps)
    app = apps.starlette_app(
        with_ect_transport=False, around_peer=lambda inner: AsyncPlacedTransport(inner, placed)
    )
    app.add_middleware(PlacedASGI, placed=placed)
    return _loading(placed, asgi_variant(app, loop))


def placed_wsgi_variant(steps: Steps[Any]) -> Variant:
    """The bare WSGI app with ``steps`` at their places."""
    placed = Placed(steps)
    app = apps.wsgi_app(
        with_ect_transport=False, around_peer=lambda inner: PlacedTransport(inner, placed)
    )
    return _loading(placed, wsgi_variant(PlacedWSGI(app, placed)))


def _loading(placed: Placed[Any], variant: Variant) -> Variant:
    def prepare(batch: list[Headers]) -> Callable[[], object]:
        placed.load(batch)
        return variant(batch)

    return prepare


def in_place_variants(
    place: Callable[[Steps[Any]], Variant],
    floor: CryptoFloor,
    ids: Identities,
    transactions: tuple[int, ...],
    ledger: SQLiteLedger,
) -> dict[str, Variant]:
    """The crypto floor in place and, per ledger mode, the contract bound in place (with
    the request's transactions where the mode makes them on the request's path)."""
    variants = {FLOOR_IN_PLACE: place(floor)}
    for name in MODES:
        on_path = () if name in OFF_THE_PATH else transactions
        variants[bound_in_place(name)] = place(ContractBound(ids, floor.ops, on_path, ledger))
    return variants


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


#: The modes whose ledger transactions are not on the request's path, and why: their
#: contract bound in place makes none. The others make them durable before the outbound
#: call and before the response.
OFF_THE_PATH = {
    "ect-background": "the writer thread's transactions, behind the response, are off the "
    "request's path: not included",
    "ect-none": "no ledger, no transactions",
}
#: The variant of the crypto floor in place.
FLOOR_IN_PLACE = "floor-placed"


def bound_in_place(mode: str) -> str:
    """The variant of ``mode``'s contract bound in place."""
    return f"bound-placed-{mode}"


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
    """The crypto floor in place; per ledger mode, with the middleware, its overhead over
    the crypto floor and its contract bound in place over the same floor."""
    bare, floor = timings.median("bare"), timings.median("floor")
    cpu_bare, cpu_floor = timings.cpu_median("bare"), timings.cpu_median("floor")

    def over_floor(variant: str) -> tuple[float, str]:
        """(variant - bare) / floor, and the note's start: µs, the ratio in CPU time."""
        extra = timings.median(variant) - bare
        cpu = ratio(timings.cpu_median(variant) - cpu_bare, cpu_floor)
        return ratio(extra, floor), f"{us(extra):.0f} µs; in CPU time: {cpu:.2f}x"

    value, note = over_floor(FLOOR_IN_PLACE)
    result.add(
        "the crypto floor in place / crypto floor",
        value,
        "x",
        note=f"{note}; the same raw operations at their places in the bare app (before it, "
        "in its httpx transport, as it answers), minus the bare app",
    )
    unavailable = {m.name: m.unavailable for m in modes if m.runtime is None}
    for name, (label, _, target) in MODES.items():
        bound_value, bound_note = over_floor(bound_in_place(name))
        if name in unavailable:
            result.add(f"{label}: overhead / crypto floor", 0.0, "x", note=unavailable[name])
        else:
            overhead = timings.median(name) - bare
            cpu = timings.cpu_median(name) - cpu_bare
            result.add(
                f"{label}: overhead / crypto floor",
                ratio(overhead, floor),
                "x",
                target=f"<= {target:.2f}",
                met=overhead <= target * floor,
                note=f"overhead {us(overhead):.0f} µs; in CPU time: {ratio(cpu, cpu_floor):.2f}x; "
                f"the contract bound in place: {bound_value:.2f}x",
            )
        result.add(
            f"{label}: contract bound in place / crypto floor",
            bound_value,
            "x",
            note=f"{bound_note}; "
            + OFF_THE_PATH.get(name, "its ledger transactions on the request's path"),
        )
