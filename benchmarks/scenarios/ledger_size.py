"""Per-request cost with a ledger of 1,000 entries against one of 1,000,000 (100,000 with
--quick), side by side: the same in-process ASGI request, only the ledger differs.

The big ledger is built once and cached under .ect/bench/; what a run appends is removed
afterwards, so every run starts from the same file. Both files are read once before the
measurement, so that they are in the OS page cache as on a service that has been running:
the first run after the cache was evicted otherwise pays for disk reads (1.21 instead of
1.04 once, here).
"""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path

from ect_middleware import ECTMiddleware
from ect_middleware.ledger.sqlite import SQLiteLedger

from .. import apps, identities, prefill
from ..common import Result, scenario_main, scratch
from ..inproc import asgi_variant, interleave, ratio, spread, us


def run(quick: bool) -> Result:
    result = Result("ledger-size")
    big_size = 100_000 if quick else 1_000_000
    with scratch("ledger-size") as folder:
        ids = identities.create(folder / "identities")
        small = folder / "small.db"
        shutil.copyfile(prefill.cached_ledger(1_000), small)
        big = prefill.cached_ledger(big_size)
        head = _head(big)
        for path in (small, big):
            _read_through(path)
        try:
            loop = asyncio.new_event_loop()
            variants = {}
            for name, path in (("small", small), ("big", big)):
                app = apps.starlette_app(with_ect_transport=True)
                app.add_middleware(ECTMiddleware, settings=ids.settings(f"sqlite:///{path}"))
                variants[name] = asgi_variant(app, loop)
            timings = interleave(
                variants,
                ids.request_headers,
                rounds=5 if quick else 15,
                per_round=60 if quick else 200,
            )
            loop.close()
        finally:
            prefill.restore(big, head)
    small_us, big_us = timings.median("small"), timings.median("big")
    result.add(
        "ledger of 1,000 entries", us(small_us), "µs/req", note=spread(timings.per_request["small"])
    )
    result.add(
        f"ledger of {big_size:,} entries",
        us(big_us),
        "µs/req",
        note=spread(timings.per_request["big"]),
    )
    result.add(
        "ratio (big / small)",
        ratio(big_us, small_us),
        "x",
        target="<= 1.15",
        met=big_us <= 1.15 * small_us,
    )
    return result


def _read_through(path: Path) -> None:
    with path.open("rb") as handle:
        while handle.read(1 << 20):
            pass


def _head(path: Path) -> tuple[int, str]:
    ledger = SQLiteLedger(path, create=False)
    try:
        return ledger.head()
    finally:
        ledger.close()


if __name__ == "__main__":
    scenario_main("ledger_size", run)
