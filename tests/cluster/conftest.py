"""Session-wide throwaway Redis and PostgreSQL servers (tests/services.py).

- ``redis_server``: a RedisServer (stop, start, restart, pause helpers).
- ``postgres_server``: a PostgresServer (stop, start, restart, create_database).
- ``postgres_dsn``: a dsn for one test: a fresh empty schema in the run's database.
- ``stores`` (parametrized: sqlite, postgres): opens stores on one fresh database (a temp file,
  or a fresh PostgreSQL schema); ``store``: one store opened from it.

Without the binaries the tests that need them are skipped, or fail under CI=true (tests/ci.py).
"""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

from relay.adapters.sqlite_store import SqliteStore
from relay.core.ports import Store
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


class Stores:
    """Opens stores of one kind on one database: ``await stores.open()``; several stores
    opened on the same database stand for several relay processes. All are closed after
    the test."""

    def __init__(self, kind: str, target: str) -> None:
        self.kind = kind
        self.target = target  # the SQLite file, or the PostgreSQL dsn
        self.opened: list[Store] = []

    async def open(self, **options: Any) -> Store:
        if self.kind == "sqlite":
            options.setdefault("synchronous", "NORMAL")  # what is tested here is not fsync
            store: Store = SqliteStore(self.target, **options)
        else:
            from relay.store.postgres import PostgresStore  # needs psycopg (the scale extra)
            store = PostgresStore(self.target, **options)
        await store.open()
        self.opened.append(store)
        return store

    async def close(self, store: Store | None = None) -> None:
        """Close ``store`` (a restart), or at the end every store still open."""
        for s in [store] if store is not None else list(self.opened):
            self.opened.remove(s)
            await s.close()


@pytest.fixture(params=["sqlite", "postgres"])
async def stores(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Stores]:
    if request.param == "sqlite":
        made = Stores("sqlite", str(tmp_path / "relay.sqlite3"))
    else:
        made = Stores("postgres", request.getfixturevalue("postgres_dsn"))
    yield made
    await made.close()


@pytest.fixture
async def store(stores: Stores) -> Store:
    return await stores.open()
