"""The DAG rules at their limits, through the whole in-process ASGI request.

- an ECT with 256 parents (the maximum), all recorded in the ledger, against one with a
  single recorded parent;
- an ECT at the end of a chain 9,999 tasks deep (accepted: 9,999 ancestors), and one at the
  end of a chain 10,001 deep (rejected when the walk passes 10,000 ancestors);
- the worst case for the walk: 32 ECTs (the most a request may carry) naming two parents
  each near the tip of a chain 9,000 deep (accepted: one walk of 9,000 ancestors).
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

from ect_middleware import ECTMiddleware
from ect_middleware.ledger import NewEntry
from ect_middleware.ledger.sqlite import SQLiteLedger

from .. import apps, identities, prefill
from ..common import Result, median, scenario_main, scratch, timed
from ..identities import CALLER, SERVICE
from ..inproc import asgi_variant, interleave, ratio, spread, us


def run(quick: bool) -> Result:
    result = Result("dag")
    with scratch("dag") as folder:
        ids = identities.create(folder / "identities")
        ledger = folder / "ledger.db"
        app = apps.starlette_app(with_ect_transport=True)
        app.add_middleware(ECTMiddleware, settings=ids.settings(f"sqlite:///{ledger}"))
        loop = asyncio.new_event_loop()
        SQLiteLedger(ledger).close()  # the schema, before the bulk loads below
        fan_in = str(uuid.uuid4())
        parents = [str(uuid.uuid4()) for _ in range(256)]
        prefill.bulk_append(ledger, _roots(fan_in, parents))
        deep, too_deep = str(uuid.uuid4()), str(uuid.uuid4())
        deep_tip = _chain(ledger, deep, 9_999)[-1]
        too_deep_tip = _chain(ledger, too_deep, 10_001)[-1]
        worst = str(uuid.uuid4())
        worst_chain = _chain(ledger, worst, 9_000)
        worst_pars = [[worst_chain[-1], worst_chain[-2 - n]] for n in range(32)]

        timings = interleave(
            {"1 parent": asgi_variant(app, loop), "256 parents": asgi_variant(app, loop)},
            {
                "1 parent": lambda: ids.request_headers(par=parents[:1], wid=fan_in),
                "256 parents": lambda: ids.request_headers(par=parents, wid=fan_in),
            },
            rounds=5 if quick else 15,
            per_round=20 if quick else 60,
        )
        walks = 3 if quick else 7
        accepted = [
            timed(asgi_variant(app, loop)([ids.request_headers(par=[deep_tip], wid=deep)]))
            for _ in range(walks)
        ]
        rejected = [
            timed(
                asgi_variant(app, loop, expect=400)(
                    [ids.request_headers(par=[too_deep_tip], wid=too_deep)]
                )
            )
            for _ in range(walks)
        ]
        widest = [
            timed(asgi_variant(app, loop)([ids.request_headers(each=worst_pars, wid=worst)]))
            for _ in range(walks)
        ]
        loop.close()
    one, many = timings.median("1 parent"), timings.median("256 parents")
    result.add(
        "ECT with 1 recorded parent",
        us(one),
        "µs/req",
        note=spread(timings.per_request["1 parent"]),
    )
    result.add(
        "ECT with 256 recorded parents",
        us(many),
        "µs/req",
        note=spread(timings.per_request["256 parents"]),
    )
    result.add("ratio (256 / 1)", ratio(many, one), "x")
    result.add(
        "chain 9,999 deep (accepted)",
        round(median(accepted) * 1e3, 2),
        "ms/req",
        note=f"median of {walks} requests",
    )
    result.add(
        "chain 10,001 deep (rejected)",
        round(median(rejected) * 1e3, 2),
        "ms/req",
        note="dag.ancestor_limit",
    )
    result.add(
        "32 ECTs x 2 parents, chain 9,000 deep",
        round(median(widest) * 1e3, 2),
        "ms/req",
        note=f"median of {walks} requests",
    )
    return result


def _roots(wid: str, jtis: list[str]) -> Iterator[NewEntry]:
    """Root tasks of the caller, recorded as received."""
    iat = time.time() - 60
    for jti in jtis:
        token = prefill.fake_ect(CALLER, SERVICE, jti, wid, [], iat)
        yield NewEntry(token, None, "received", SERVICE, jti, wid, CALLER, iat, ())


def _chain(ledger: Path, wid: str, depth: int) -> list[str]:
    """Record a chain of ``depth`` tasks in workflow ``wid``; their jtis, first to last."""
    jtis = [str(uuid.uuid4()) for _ in range(depth)]
    iat = time.time() - 60

    def entries() -> Iterator[NewEntry]:
        for i, jti in enumerate(jtis):
            par = (jtis[i - 1],) if i else ()
            token = prefill.fake_ect(CALLER, SERVICE, jti, wid, list(par), iat)
            yield NewEntry(token, None, "received", SERVICE, jti, wid, CALLER, iat, par)

    prefill.bulk_append(ledger, entries())
    return jtis


if __name__ == "__main__":
    scenario_main("dag", run)
