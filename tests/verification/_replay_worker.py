"""Run in a separate process: claim keys in a shared SQLite replay cache."""

from __future__ import annotations

import sys
import time

from ect_middleware.replay.sqlite import SQLiteReplayCache


def main(path: str, keys: int, out: str) -> None:
    cache = SQLiteReplayCache(path, time.time)
    won = [str(k) for k in range(keys) if cache.first_use(f"k{k}", time.time() + 60)]
    with open(out, "w") as handle:
        handle.write("\n".join(won))
    cache.close()


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]), sys.argv[3])
