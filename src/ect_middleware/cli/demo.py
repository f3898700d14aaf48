"""``ect demo``: run the whole mission on this machine with embedded defaults."""

from __future__ import annotations

import argparse
import importlib.util
from pathlib import Path

from ..demo import DEMO_MODULES, EXAMPLES
from ..errors import ConfigurationError


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "demo", help="run a cross-organisation agent workflow end to end (the demo extra)"
    )
    p.add_argument(
        "--out",
        type=Path,
        default=Path(".ect/demo"),
        help="folder for identities, ledgers, logs and pictures (default: %(default)s)",
    )
    p.add_argument(
        "--examples",
        type=Path,
        default=EXAMPLES,
        help="folder holding fastapi_app/ and flask_app/ (default: the installed package's)",
    )
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    missing = [name for name in DEMO_MODULES if importlib.util.find_spec(name) is None]
    if missing:
        raise ConfigurationError(
            f"needs the demo extra (missing: {', '.join(missing)}): "
            "pip install 'ect-middleware[demo]'"
        )
    from ..demo.scenario import run_demo  # the demo extra's modules load only here

    return run_demo(args.out, args.examples)
