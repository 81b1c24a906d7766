"""Session-wide throwaway Redis and PostgreSQL servers (tests/services.py).

- ``redis_server``: a RedisServer (stop, start, restart, pause helpers).
- ``postgres_server``: a PostgresServer (stop, start, restart, create_database).
- ``postgres_dsn``: a fresh empty database on it for one test, dropped afterwards.

Without the binaries the tests that need them are skipped, or fail under CI=true (tests/ci.py).
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator

import pytest

from tests import services
from tests.ci import need

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


@pytest.fixture
def postgres_dsn(postgres_server: services.PostgresServer) -> Iterator[str]:
    postgres_server.ensure_running()  # a test that stopped it may have failed before starting it
    dsn = postgres_server.create_database()
    yield dsn
    postgres_server.ensure_running()
    postgres_server.drop_database(dsn)
