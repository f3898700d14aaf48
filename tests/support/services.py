"""Where the test PostgreSQL and Redis are (``ECT_TEST_POSTGRES``, ``ECT_TEST_REDIS``), and
isolation on them: each test works in a PostgreSQL schema of its own, dropped afterwards,
and under a Redis key prefix of its own, deleted afterwards. No mocks: the services are
real (``.ci/services`` starts them in CI). Free of pytest state: ``spawn``-ed workers
import it too.
"""

from __future__ import annotations

import os
import uuid
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import psycopg
import redis

POSTGRES = os.environ.get("ECT_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test")
REDIS = os.environ.get("ECT_TEST_REDIS", "redis://127.0.0.1:6379/15")
#: An address where nothing listens: "the service is down".
NOWHERE_PORT = 9


def with_options(url: str, **options: str) -> str:
    """``url`` with query options added (or replaced)."""
    parts = urlsplit(url)
    query = dict(parse_qsl(parts.query, keep_blank_values=True))
    query.update(options)
    return urlunsplit((parts.scheme, parts.netloc, parts.path, urlencode(query), ""))


def new_schema_name() -> str:
    return f"ect_test_{uuid.uuid4().hex[:12]}"


def admin() -> psycopg.Connection[tuple[object, ...]]:
    """A superuser connection to the test database (the tests' "someone with psql")."""
    return psycopg.connect(POSTGRES, autocommit=True)


def drop_schema(name: str) -> None:
    with admin() as conn:
        conn.execute(
            psycopg.sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(psycopg.sql.Identifier(name))
        )


def redis_client() -> redis.Redis:
    return redis.Redis.from_url(REDIS)


def delete_keys(prefix: str) -> None:
    client = redis_client()
    try:
        keys = list(client.scan_iter(match=prefix + "*", count=1000))
        if keys:
            client.delete(*keys)
    finally:
        client.close()
