"""``ect demo``: run the whole mission on this machine with embedded defaults."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..demo.servers import SOURCE_EXAMPLES


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("demo", help="run a cross-organisation agent workflow end to end")
    p.add_argument(
        "--out",
        type=Path,
        default=Path(".ect/demo"),
        help="folder for identities, ledgers, logs and pictures (default: %(default)s)",
    )
    p.add_argument(
        "--examples",
        type=Path,
        default=SOURCE_EXAMPLES,
        help="folder holding fastapi_app/ and flask_app/ (default: the source tree's)",
    )
    p.add_argument(
        "--mcp",
        action="store_true",
        help="instead: an agent calls tools on another organisation's MCP server",
    )
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    if args.mcp:
        from ..demo.mcp_scenario import run_mcp_demo  # needs the [mcp] extra too

        return run_mcp_demo(args.out, args.examples)
    from ..demo import run_demo  # needs the [demo] extra (httpx); imported only when used

    return run_demo(args.out, args.examples)
