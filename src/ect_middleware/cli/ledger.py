"""``ect ledger``: placeholder until its module lands."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    sub.add_parser("ledger", help="(not yet available)").set_defaults(run=lambda args: 1)
