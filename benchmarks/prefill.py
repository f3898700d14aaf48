"""Pre-filled ledgers for the scaling scenarios, built fast and cached under .ect/bench/.

Entries are written the way the middleware writes them (per request: the received ECT, the
outbound ECT and the completion ECT, in one workflow), sealed into a valid hash chain, but
bulk-inserted in one transaction instead of one ``append`` each. Their tokens are shaped
like real ones (same header, claims and lengths) without valid signatures: a ledger never
re-verifies signatures, and signing a million tokens would take minutes.
"""

from __future__ import annotations

import base64
import json
import os
import secrets
import sqlite3
import time
import uuid
from collections.abc import Iterable, Iterator
from pathlib import Path

from ect_middleware.ledger.base import NewEntry, seal

# The SQLite engine's own insert statement and row layout, so the prefill cannot drift
# from the schema (benchmark code may use the engine's private helpers; the product never).
from ect_middleware.ledger.sqlite import _INSERT as INSERT
from ect_middleware.ledger.sqlite import SQLiteLedger
from ect_middleware.ledger.sqlite import _row as row_of

from .common import BENCH_DIR
from .identities import CALLER, PEER, SERVICE

#: Bump when the shape of the pre-filled entries changes, to rebuild cached ledgers.
FORMAT = 1
CHUNK = 20_000


def cached_ledger(entries: int) -> Path:
    """The path of a cached ledger holding ``entries`` entries; built on first use."""
    path = BENCH_DIR / f"ledger-{entries}-v{FORMAT}.db"
    if not path.exists():
        BENCH_DIR.mkdir(parents=True, exist_ok=True)
        partial = path.with_suffix(".partial")
        for leftover in BENCH_DIR.glob(partial.name + "*"):
            leftover.unlink()
        SQLiteLedger(partial).close()  # the schema, made by the engine itself
        bulk_append(partial, _entries(entries))
        os.replace(partial, path)
    return path


def bulk_append(path: Path, entries: Iterable[NewEntry]) -> None:
    """Seal ``entries`` onto the chain of the ledger at ``path`` in one transaction."""
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        conn.execute("PRAGMA cache_size=-262144")  # 256 MiB, for this bulk load only
        conn.execute("BEGIN IMMEDIATE")
        seq, prev_hash = conn.execute("SELECT seq, hash FROM chain_head WHERE id = 1").fetchone()
        recorded_us = int(time.time() * 1_000_000)
        chunk: list[tuple[object, ...]] = []
        for entry in entries:
            seq += 1
            sealed = seal(entry, seq=seq, recorded_us=recorded_us, prev_hash=prev_hash)
            prev_hash = sealed.hash
            chunk.append(row_of(sealed))
            if len(chunk) == CHUNK:
                conn.executemany(INSERT, chunk)
                chunk.clear()
        conn.executemany(INSERT, chunk)
        conn.execute("UPDATE chain_head SET seq = ?, hash = ? WHERE id = 1", (seq, prev_hash))
        conn.execute("COMMIT")
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        conn.close()


def restore(path: Path, head: tuple[int, str]) -> None:
    """Remove what a run appended to a cached ledger, so the next run starts alike."""
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        conn.execute("BEGIN IMMEDIATE")
        conn.execute("DELETE FROM entries WHERE seq > ?", (head[0],))
        conn.execute("UPDATE chain_head SET seq = ?, hash = ? WHERE id = 1", head)
        conn.execute("COMMIT")
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        conn.close()


def _entries(count: int) -> Iterator[NewEntry]:
    """Per simulated request: received ECT, outbound ECT, completion ECT."""
    caller_wit, service_wit = fake_wit(CALLER), fake_wit(SERVICE)
    made = 0
    iat = time.time() - 86_400
    while made < count:
        wid = str(uuid.uuid4())
        earlier = str(uuid.uuid4())  # the caller's earlier task: not in this ledger
        received = str(uuid.uuid4())
        iat += 0.001
        batch = [
            NewEntry(
                fake_ect(CALLER, SERVICE, received, wid, [earlier], iat),
                caller_wit,
                "received",
                SERVICE,
                received,
                wid,
                CALLER,
                iat,
                (earlier,),
                (earlier,),
            ),
        ]
        for aud in (PEER, CALLER):
            jti = str(uuid.uuid4())
            batch.append(
                NewEntry(
                    fake_ect(SERVICE, aud, jti, wid, [received], iat),
                    service_wit,
                    "minted",
                    SERVICE,
                    jti,
                    wid,
                    SERVICE,
                    iat,
                    (received,),
                )
            )
        for entry in batch[: count - made]:
            made += 1
            yield entry


def fake_ect(iss: str, aud: str, jti: str, wid: str, par: list[str], iat: float) -> str:
    """A compact JWS with a real ECT header and claims and a random 64-byte signature."""
    header = {"alg": "ES256", "kid": "bench", "typ": "wimse-exec+jwt"}
    claims = {
        "iss": iss,
        "aud": aud,
        "iat": int(iat),
        "exp": int(iat) + 300,
        "jti": jti,
        "exec_act": "POST /work",
        "par": par,
        "wid": wid,
    }
    return (
        ".".join(
            _b64(json.dumps(part, separators=(",", ":")).encode()) for part in (header, claims)
        )
        + "."
        + _b64(secrets.token_bytes(64))
    )


def fake_wit(sub: str) -> str:
    """A compact JWS shaped like a development WIT (ES256 ``cnf.jwk``), unsigned."""
    jwk = {
        "alg": "ES256",
        "crv": "P-256",
        "kty": "EC",
        "x": _b64(secrets.token_bytes(32)),
        "y": _b64(secrets.token_bytes(32)),
    }
    header = {"alg": "ES256", "kid": "bench-issuer", "typ": "wit+jwt"}
    claims = {
        "cnf": {"jwk": jwk},
        "exp": 4_102_444_800,
        "iat": 1_700_000_000,
        "jti": _b64(secrets.token_bytes(16)),
        "sub": sub,
    }
    return (
        ".".join(
            _b64(json.dumps(part, separators=(",", ":")).encode()) for part in (header, claims)
        )
        + "."
        + _b64(secrets.token_bytes(64))
    )


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")
