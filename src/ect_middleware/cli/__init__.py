"""The ``ect`` command line: each sub-command lives in its own module."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from ..errors import ConfigurationError, ECTError, LedgerError
from . import demo, dev_identity, inspect, ledger

COMMANDS = (demo, dev_identity, inspect, ledger)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="ect", description="Execution Context Tokens tools")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for command in COMMANDS:
        command.register(sub)
    args = parser.parse_args(argv)
    try:
        code: int = args.run(args)
    except (ConfigurationError, ECTError, LedgerError, ValueError, OSError) as exc:
        print(f"ect {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    except Exception as exc:  # a bug: still one line, and never a token (we raise no such text)
        print(f"ect {args.command}: internal error: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 70
    return code
