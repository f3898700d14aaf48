"""Workload identifiers (PROFILE §2): absolute URIs naming a workload in a trust domain."""

from __future__ import annotations

import re

MAX_ID_BYTES = 2048

# scheme "://" host [path]; no userinfo, port, query or fragment; printable ASCII only.
_WORKLOAD_ID = re.compile(
    r"([A-Za-z][A-Za-z0-9+.-]*)://([A-Za-z0-9._-]+)(/[!$&'()*+,;=:@%/A-Za-z0-9._~-]*)?"
)


def is_workload_id(value: object) -> bool:
    return (
        isinstance(value, str)
        and len(value) <= MAX_ID_BYTES
        and _WORKLOAD_ID.fullmatch(value) is not None
    )


def trust_domain(workload_id: str) -> str:
    """The trust domain origin (scheme + authority) of a valid workload identifier."""
    match = _WORKLOAD_ID.fullmatch(workload_id)
    if match is None:
        raise ValueError("not a workload identifier")
    return f"{match.group(1)}://{match.group(2)}"
