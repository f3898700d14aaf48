"""``ect demo``: run the whole mission on this machine with embedded defaults."""

from __future__ import annotations

import argparse
import importlib.util
from pathlib import Path

from ..demo import DEMO_MODULES, EXAMPLES, MCP_DEMO_MODULES
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
    p.add_argument(
        "--mcp",
        action="store_true",
        help="instead: an agent calls tools on another organisation's MCP server",
    )
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    needed = DEMO_MODULES + MCP_DEMO_MODULES if args.mcp else DEMO_MODULES
    missing = [name for name in needed if importlib.util.find_spec(name) is None]
    if missing:
        extra = "demo,mcp" if args.mcp else "demo"
        raise ConfigurationError(
            f"needs the {extra} extra (missing: {', '.join(missing)}): "
            f"pip install 'ect-middleware[{extra}]'"
        )
    if args.mcp:
        from ..demo.mcp_scenario import run_mcp_demo  # the extras' modules load only here

        return run_mcp_demo(args.out, args.examples)
    from ..demo.scenario import run_demo

    return run_demo(args.out, args.examples)
