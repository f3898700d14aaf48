"""Workload identifiers (PROFILE §2): absolute URIs naming a workload in a trust domain;
and the random UUIDs naming tasks and workflows."""

from __future__ import annotations

import os
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


def new_uuid() -> str:
    """A random (version 4) UUID, written as ``str(uuid.uuid4())`` writes it, from the
    same 16 random octets, without building a ``uuid.UUID``, which costs more than the
    rest (a request makes two or three)."""
    h = os.urandom(16).hex()
    variant = "89ab"[int(h[16], 16) & 0b11]  # the RFC 9562 variant: 0b10 and two random bits
    return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-{variant}{h[17:20]}-{h[20:]}"
