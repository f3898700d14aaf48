"""Fixtures for the tests that need external services (PostgreSQL, Redis): a PostgreSQL
schema and a Redis key prefix per test.

If a service is not reachable the tests fail (they never skip): CI starts both
(``.ci/services``), and a developer machine of this project's kind has them running.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from ect_middleware.ledger.postgres import PostgresLedger

from ..support.clock import fixed_clock
from ..support.services import (
    POSTGRES,
    REDIS,
    admin,
    delete_keys,
    drop_schema,
    new_schema_name,
    redis_client,
    with_options,
)


@pytest.fixture(scope="session", autouse=True)
def _services_are_up() -> None:
    try:
        admin().close()
    except Exception as exc:
        pytest.fail(f"PostgreSQL at ECT_TEST_POSTGRES is not reachable: {type(exc).__name__}")
    client = redis_client()
    try:
        client.ping()
    except Exception as exc:
        pytest.fail(f"Redis at ECT_TEST_REDIS is not reachable: {type(exc).__name__}")
    finally:
        client.close()


@pytest.fixture
def schema() -> Iterator[str]:
    """A schema name of this test's own; dropped (with everything in it) afterwards."""
    name = new_schema_name()
    yield name
    drop_schema(name)


@pytest.fixture
def pg_url(schema: str) -> str:
    """``ECT_LEDGER`` for a PostgreSQL ledger in this test's own schema."""
    return with_options(POSTGRES, schema=schema)


@pytest.fixture
def pg_ledger(schema: str) -> Iterator[PostgresLedger]:
    """A PostgreSQL ledger in this test's schema, with the fixed clock of the ledger tests."""
    ledger = PostgresLedger(POSTGRES, schema=schema, clock=fixed_clock)
    yield ledger
    ledger.close()


@pytest.fixture
def redis_prefix() -> Iterator[str]:
    prefix = f"ect-test:{uuid.uuid4().hex[:12]}:"
    yield prefix
    delete_keys(prefix)


@pytest.fixture
def redis_url(redis_prefix: str) -> str:
    """``ECT_REPLAY`` for a Redis replay cache under this test's own key prefix."""
    return with_options(REDIS, prefix=redis_prefix)
