"""Instructions per request, counted by valgrind: a figure a busy machine does not disturb.

    python -m benchmarks.instructions                      # about 4 minutes on 2 cores
    python -m benchmarks.instructions --src ../before/src  # the same for another checkout
    python -m benchmarks.instructions --ledger none        # or background (ECT_LEDGER_WRITE)

On a shared virtual machine the wall-clock rows of one version move by 15 % from run to
run, more than most changes to compare. Instruction counts do not. Each variant (the asgi
and wsgi scenarios' requests, bare and with the middleware, and the crypto floor's
signature operations) runs in a child process under callgrind twice, with 50 and with 250
requests whose tokens are minted in both; the difference over 200 is one request, with
imports and set-up cancelled out.

Instructions are not time: signature code runs several instructions per cycle, the
interpreter about one, so these ratios are far below the wall-clock ones. Use them to
compare two versions of the code, not against the targets.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from . import apps, identities
from .common import ROOT, log_like_an_application
from .floor import CryptoFloor, OpCount
from .inproc import HOST

KINDS = ("asgi-bare", "asgi", "wsgi-bare", "wsgi", "floor")
SMALL, LARGE = 50, 250
_COLLECTED = re.compile(r"Collected : (\d+)")
#: what the middleware does per request (``floor.count_ops`` on the asgi scenario)
OP_COUNT = OpCount(verify=2, sign=3)


#: the ledger modes the runner compares: ledger URL (None: a fresh SQLite file), write mode
MODES: dict[str, tuple[str | None, str]] = {
    "durable": (None, "durable"),
    "background": (None, "background"),
    "none": ("none", "durable"),
}


def child(kind: str, n: int, mode: str = "durable") -> None:
    """Run ``n`` requests of ``kind`` (tokens minted first, as in every variant)."""
    from ect_middleware import ECTMiddleware, ECTWSGIMiddleware

    sys.stderr = open(os.devnull, "w")  # noqa: SIM115 (the log lines, for the process's life)
    log_like_an_application()
    folder = Path(tempfile.mkdtemp())
    ids = identities.create(folder / "identities")
    batch = [ids.request_headers() for _ in range(n)]
    # The service's clock stands still at the moment the tokens were minted: under
    # valgrind on a busy machine the batch can take longer than a WPT lives (a minute).
    minted_at = time.time()
    ledger, write = MODES[mode]
    # The default write mode is left unnamed, so that a source without the setting
    # (``--src`` of an older checkout) can be counted in it.
    settings = ids.settings(
        ledger or f"sqlite:///{folder / 'ledger.db'}",
        clock=lambda: minted_at,
        **({} if write == "durable" else {"ledger_write": write}),
    )
    if kind == "floor":
        floor = CryptoFloor(ids.caller_key.private.public_key(), ids.service_key.private, OP_COUNT)
        floor.run([floor.prepare(h) for h in batch])
    elif kind.startswith("asgi"):
        app = apps.starlette_app(with_ect_transport=kind == "asgi")
        if kind == "asgi":
            app.add_middleware(ECTMiddleware, settings=settings)

        async def run() -> None:
            for headers in batch:
                assert await apps.call_asgi(app, headers, HOST) == 200

        asyncio.run(run())
    else:
        wsgi = apps.wsgi_app(with_ect_transport=kind == "wsgi")
        if kind == "wsgi":
            wsgi = ECTWSGIMiddleware(wsgi, settings=settings)
        for headers in batch:
            assert apps.call_wsgi(wsgi, headers, HOST) == 200
    shutil.rmtree(folder, ignore_errors=True)


def count(src: Path, kind: str, n: int, mode: str = "durable") -> int:
    """Instructions of one child run under callgrind."""
    done = subprocess.run(
        [
            "valgrind",
            "--tool=callgrind",
            "--callgrind-out-file=/dev/null",
            sys.executable,
            "-m",
            "benchmarks.instructions",
            "--child",
            kind,
            str(n),
            mode,
        ],
        cwd=ROOT,
        # A fixed hash seed: set and dict layouts, and so the counts, repeat exactly.
        env={**os.environ, "PYTHONPATH": f"{src}{os.pathsep}{ROOT}", "PYTHONHASHSEED": "0"},
        capture_output=True,
        text=True,
        check=True,
    )
    match = _COLLECTED.search(done.stderr)
    if match is None:
        raise RuntimeError(f"no instruction count from valgrind for {kind}")
    return int(match.group(1))


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.instructions")
    parser.add_argument("--src", type=Path, default=ROOT / "src")
    parser.add_argument("--ledger", choices=tuple(MODES), default="durable")
    parser.add_argument("--child", nargs="+", metavar="KIND N [MODE]", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child[0], int(args.child[1]), *args.child[2:3])
        return
    if shutil.which("valgrind") is None:
        sys.exit("valgrind is not installed (apt-get install valgrind)")
    jobs = [(kind, n) for kind in KINDS for n in (SMALL, LARGE)]
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 1) as pool:
        counted = pool.map(lambda job: count(args.src, job[0], job[1], args.ledger), jobs)
        counts = dict(zip(jobs, counted, strict=True))
    per = {kind: (counts[kind, LARGE] - counts[kind, SMALL]) / (LARGE - SMALL) for kind in KINDS}
    floor = per["floor"]
    print(f"instructions per request (valgrind), {args.src}, ledger {args.ledger}")
    print(f"  crypto floor ({OP_COUNT}): {floor / 1e6:.3f} M")
    for name in ("asgi", "wsgi"):
        overhead = per[name] - per[f"{name}-bare"]
        print(
            f"  {name}: bare {per[f'{name}-bare'] / 1e6:.3f} M, with the middleware "
            f"{per[name] / 1e6:.3f} M, overhead {overhead / 1e6:.3f} M "
            f"({overhead / floor:.2f}x the floor), beyond it {(overhead - floor) / 1e6:.3f} M"
        )


if __name__ == "__main__":
    main()
