"""Session-wide throwaway Redis and PostgreSQL servers (tests/services.py).

- ``redis_server``: a RedisServer (stop, start, restart, pause helpers).
- ``postgres_server``: a PostgresServer (stop, start, restart, create_database).
- ``postgres_dsn``: a dsn for one test: a fresh empty schema in the run's database.
- ``pg``: a ``Stores`` (tests/storecontract) that opens PostgreSQL stores on that schema,
  closed after the test.

Without the binaries the tests that need them are skipped, or fail under CI=true (tests/ci.py).
"""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator, Iterator

import pytest

from tests import services
from tests.ci import need
from tests.storecontract import Stores

INSTALL_HINT = "apt-get install postgresql redis-server (make tools)"


@pytest.fixture(scope="session")
def redis_server() -> Iterator[services.RedisServer]:
    need(services.redis_missing(), INSTALL_HINT)
    folder = services.temp_folder("ensemble-redis-")
    server = services.RedisServer(folder)
    try:
        yield server.start()
    finally:
        server.stop()
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[services.PostgresServer]:
    need(services.postgres_missing(), INSTALL_HINT)
    folder = services.temp_folder("ensemble-pg-")
    server = services.PostgresServer(folder)
    try:
        yield server.init().start()
    finally:
        server.stop("immediate")
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="session")
def postgres_database(postgres_server: services.PostgresServer) -> str:
    """One database for the test run; each test works in a schema of its own in it."""
    return postgres_server.create_database("relay_tests")


@pytest.fixture
def postgres_dsn(postgres_server: services.PostgresServer, postgres_database: str) -> str:
    """A fresh empty schema, first on the search path of every connection made with this
    dsn: as good as a fresh database to a store, and made in a millisecond where CREATE
    DATABASE takes a quarter of a second or more."""
    postgres_server.ensure_running()  # a test that stopped it may have failed before starting it
    return postgres_server.create_schema(postgres_database)


@pytest.fixture
async def pg(postgres_dsn: str) -> AsyncIterator[Stores]:
    made = Stores("postgres", postgres_dsn)
    yield made
    await made.close()
