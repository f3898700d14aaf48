"""Memory: RSS after 100,000 requests minus RSS after 1,000 (10,000 with --quick), through
the in-process ASGI app with the middleware and a SQLite ledger.

Requests are minted in batches just before they are sent (never all held at once), so the
growth measured is the service's: replay caches, WIT cache, ledger connections, logging.
"""

from __future__ import annotations

import asyncio
import gc

from ect_middleware import ECTMiddleware

from .. import apps, identities
from ..common import Result, rss_bytes, scenario_main, scratch
from ..inproc import HOST

BATCH = 500


def run(quick: bool) -> Result:
    result = Result("memory")
    total = 10_000 if quick else 100_000
    with scratch("memory") as folder:
        ids = identities.create(folder / "identities")
        middleware = ECTMiddleware(
            apps.starlette_app(with_ect_transport=True),
            settings=ids.settings(f"sqlite:///{folder / 'ledger.db'}"),
        )
        loop = asyncio.new_event_loop()

        async def send(count: int) -> None:
            for _ in range(count // BATCH):
                batch = [ids.request_headers() for _ in range(BATCH)]
                for headers in batch:
                    status = await apps.call_asgi(middleware, headers, HOST)
                    if status != 200:
                        raise RuntimeError(f"request answered {status}")

        loop.run_until_complete(send(1_000))
        gc.collect()
        early = rss_bytes()
        loop.run_until_complete(send(total - 1_000))
        gc.collect()
        late = rss_bytes()
        loop.close()
        runtime = middleware.runtime
        replay = len(runtime.replay) if runtime and hasattr(runtime.replay, "__len__") else -1
    growth = (late - early) / 2**20
    result.add("RSS after 1,000 requests", round(early / 2**20, 1), "MiB")
    result.add(
        f"RSS after {total:,} requests",
        round(late / 2**20, 1),
        "MiB",
        note=f"{replay:,} replay-cache entries live",
    )
    result.add("growth", round(growth, 1), "MiB", target="<= 20", met=growth <= 20)
    return result


if __name__ == "__main__":
    scenario_main("memory", run)
