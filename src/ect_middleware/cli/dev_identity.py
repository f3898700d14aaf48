"""``ect dev-identity``: development issuers, workload keys, WITs and a trust bundle."""

from __future__ import annotations

import argparse

from ..config import is_base_url
from ..devkit import DEFAULT_WIT_LIFETIME, create_dev_identities
from ..tokens.algorithms import ALLOWED


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("dev-identity", help="create development identities in a folder")
    p.add_argument(
        "workloads",
        nargs="+",
        metavar="WORKLOAD_ID",
        help="workload identifiers, e.g. spiffe://org-a.example/agent/a",
    )
    p.add_argument(
        "--out", default=".ect/identities", help="folder to write (default: %(default)s)"
    )
    p.add_argument("--alg", default="ES256", choices=sorted(ALLOWED), help="key algorithm")
    p.add_argument(
        "--domain-alg",
        action="append",
        default=[],
        metavar="DOMAIN=ALG",
        help="algorithm for one trust domain, e.g. spiffe://org-b.example=EdDSA",
    )
    p.add_argument("--wit-lifetime", type=int, default=DEFAULT_WIT_LIFETIME, metavar="SECONDS")
    p.add_argument(
        "--audience",
        action="append",
        default=[],
        metavar="URL",
        help="the public base URL of each workload, in the order given (repeat per workload):"
        " its ect.env then sets ECT_AUDIENCE, and ECT_PEERS names the others",
    )
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    per_domain = {}
    for item in args.domain_alg:
        domain, _, alg = item.partition("=")
        if alg not in ALLOWED:
            names = ", ".join(sorted(ALLOWED))
            raise ValueError(f"--domain-alg {item!r}: expected DOMAIN=ALG, ALG one of {names}")
        per_domain[domain] = alg
    if args.wit_lifetime <= 0:
        raise ValueError("--wit-lifetime must be a positive number of seconds")
    bad = [url for url in args.audience if not is_base_url(url)]
    if bad:
        raise ValueError(
            f"--audience {bad[0]!r}: expected a base URL such as http://127.0.0.1:8001"
        )
    if args.audience and len(args.audience) != len(args.workloads):
        raise ValueError(
            f"{len(args.audience)} --audience for {len(args.workloads)} workloads: "
            "give one per workload, in the same order"
        )
    made = create_dev_identities(
        args.out,
        args.workloads,
        algorithms=per_domain,
        default_alg=args.alg,
        wit_lifetime=args.wit_lifetime,
        audiences=dict(zip(args.workloads, args.audience, strict=False)),
    )
    print(f"trust bundle: {made.trust_bundle}")
    for wl in made.workloads.values():
        print(f"{wl.workload_id}\n  key: {wl.key_file}\n  wit: {wl.wit_file}\n  env: {wl.env_file}")
    example = next(iter(made.workloads.values())).env_file
    print(f"load an env file with: set -a; . {example}; set +a")
    print(f"  or: uvicorn --env-file {example}   (needs python-dotenv)")
    return 0
