"""The measured app under a real uvicorn (one worker, loopback), for the server scenario.

python -m benchmarks.serve bare|ect IDENTITIES_FOLDER LEDGER_URL PORT
"""

from __future__ import annotations

import sys
from pathlib import Path

import uvicorn

from ect_middleware import ECTMiddleware

from . import apps, identities
from .common import log_like_an_application


def main(argv: list[str]) -> None:
    variant, folder, ledger, port = argv
    log_like_an_application()
    app = apps.starlette_app(with_ect_transport=variant == "ect")
    if variant == "ect":
        app.add_middleware(ECTMiddleware, settings=identities.load(Path(folder)).settings(ledger))
    uvicorn.run(
        app,
        host="127.0.0.1",
        port=int(port),
        workers=1,
        log_level="warning",
        access_log=False,
        lifespan="off",
    )


if __name__ == "__main__":
    main(sys.argv[1:])
