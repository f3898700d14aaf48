"""Where the middleware's time goes: the asgi (or wsgi) scenario's request under pyinstrument.

    python -m benchmarks.profile              # ASGI, 2,000 requests, the call tree
    python -m benchmarks.profile wsgi --requests 5000 --html profile.html

Tokens are minted before the profiler starts; log lines go to /dev/null (as in the
scenarios, where the runner swallows them).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
from collections.abc import Callable
from pathlib import Path

from pyinstrument import Profiler

from ect_middleware import ECTMiddleware, ECTWSGIMiddleware

from . import apps, identities
from .common import log_like_an_application, scratch
from .inproc import asgi_variant, wsgi_variant


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.profile")
    parser.add_argument("kind", nargs="?", choices=("asgi", "wsgi"), default="asgi")
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--html", type=Path, help="write pyinstrument's HTML view here")
    args = parser.parse_args()
    with scratch(f"profile-{args.kind}") as folder, open(os.devnull, "w") as sink:
        ids = identities.create(folder / "identities")
        settings = ids.settings(f"sqlite:///{folder / 'ledger.db'}")
        loop = asyncio.new_event_loop()
        if args.kind == "asgi":
            app = apps.starlette_app(with_ect_transport=True)
            app.add_middleware(ECTMiddleware, settings=settings)
            variant = asgi_variant(app, loop)
        else:
            variant = wsgi_variant(
                ECTWSGIMiddleware(apps.wsgi_app(with_ect_transport=True), settings=settings)
            )
        log_like_an_application(sink)
        with contextlib.redirect_stderr(sink):
            variant([ids.request_headers() for _ in range(50)])()  # warm the caches
            run: Callable[[], object] = variant(
                [ids.request_headers() for _ in range(args.requests)]
            )
            profiler = Profiler(interval=0.0002)
            with profiler:
                run()
        loop.close()
    if args.html:
        args.html.write_text(profiler.output_html())
    print(profiler.output_text(unicode=True, color=False))


if __name__ == "__main__":
    main()
