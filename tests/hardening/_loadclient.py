"""A load client process: ``python -m tests.hardening._loadclient CONFIG.json OUT.jsonl``.

It runs ``threads`` clients, each on its own keep-alive connection, until each has had
``per_thread`` requests answered 2xx (or the deadline passes). Every request carries the
caller's WIT, a fresh WPT and a freshly minted ECT (fully verified by the service); short
chains of work are built by naming the previous response's completion ECT as the parent.
A connection error (the server was killed) is recorded and the client carries on with
fresh tokens once the server is back. One JSON line per request goes to OUT.
"""

from __future__ import annotations

import http.client
import json
import sys
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO
from urllib.parse import urlsplit

from ect_middleware.limits import Limits
from ect_middleware.tokens.ect import mint_ect
from ect_middleware.tokens.jws import read_payload
from ect_middleware.tokens.keys import SigningKey, load_signing_key
from ect_middleware.tokens.wpt import Bindings, mint_wpt

CHAIN = 4  # requests per workflow before a client starts a new one
LIMITS = Limits()


@dataclass(frozen=True)
class Config:
    url: str  # the service's /work URL
    caller: str  # the caller's workload id
    key_file: str
    wit_file: str
    server: str  # the service's workload id (the ECTs' audience)
    threads: int
    per_thread: int
    deadline: float  # seconds


def run_thread(
    config: Config, key: SigningKey, wit: str, out: TextIO, lock: threading.Lock
) -> None:
    parts = urlsplit(config.url)
    target = f"{parts.scheme}://{parts.netloc}{parts.path}"
    conn: http.client.HTTPConnection | None = None
    done, chain, wid, parent = 0, 0, str(uuid.uuid4()), None
    stop_at = time.monotonic() + config.deadline
    while done < config.per_thread and time.monotonic() < stop_at:
        if chain == 0:
            wid, parent = str(uuid.uuid4()), None
        ect = mint_ect(
            key, iss=config.caller, aud=config.server, par=[parent] if parent else [],
            exec_act="load.work", wid=wid, limits=LIMITS, clock=time.time,
        )  # fmt: skip
        wpt = mint_wpt(
            key, wit, target, Bindings(execution_context=ect.token), lifetime=60, clock=time.time
        )
        headers = {
            "Workload-Identity-Token": wit,
            "Workload-Proof-Token": wpt,
            "Execution-Context": ect.token,
        }
        record: dict[str, Any] = {"sent": ect.jti, "wid": wid}
        try:
            if conn is None:
                conn = http.client.HTTPConnection(parts.netloc, timeout=60)
            conn.request("GET", parts.path, headers=headers)
            response = conn.getresponse()
            body = response.read()
            record["status"] = response.status
            completion = response.getheader("execution-context")
            payload = read_payload(completion) if completion else None
            record["completion"] = payload.get("jti") if payload else None
            if response.status == 200:
                answer = json.loads(body)
                record.update(minted=answer["minted"], pid=answer["pid"], sink=answer["sink"])
                done += 1
                chain = (chain + 1) % CHAIN
                parent = record["completion"]
            else:
                record["body"] = body.decode("utf-8", "replace")[:300]
                chain = 0
        except (OSError, http.client.HTTPException) as exc:
            record["status"] = None
            record["error"] = type(exc).__name__
            chain = 0
            if conn is not None:
                conn.close()
            conn = None
            time.sleep(0.05)
        with lock:
            out.write(json.dumps(record) + "\n")
    if conn is not None:
        conn.close()


def main(argv: list[str]) -> int:
    config = Config(**json.loads(Path(argv[0]).read_text()))
    key = load_signing_key(config.key_file)
    wit = Path(config.wit_file).read_text().strip()
    lock = threading.Lock()
    with open(argv[1], "w", encoding="utf-8") as out:
        threads = [
            threading.Thread(target=run_thread, args=(config, key, wit, out, lock))
            for _ in range(config.threads)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
