"""The Store contract (relay.core.ports.Store): one suite for every store.

The tests are methods of ``RecordsContract``, ``CommitContract`` and ``HistoryContract``
(records.py, commits.py, history.py). A test module runs them on one kind of store by
subclassing them next to a ``stores`` fixture (a ``Stores`` on a fresh database):
tests/relay/test_store_contract.py for SQLite (no server needed),
tests/cluster/test_store_contract.py for PostgreSQL (the throwaway server of
tests/cluster/conftest.py). kit.py makes the records and writes, shaped like the core's.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from relay.core.ports import Store


class Stores:
    """Opens stores of one kind on one database: ``await stores.open()``. Several stores
    opened on the same database stand for several relay processes, or a restart. All are
    closed after the test (``close``)."""

    def __init__(self, kind: str, target: str | Path) -> None:
        self.kind = kind  # "sqlite" or "postgres"
        self.target = str(target)  # the SQLite file, or the PostgreSQL dsn
        self.opened: list[Store] = []

    async def open(self, **options: Any) -> Store:
        store: Store
        if self.kind == "sqlite":
            from relay.adapters.sqlite_store import SqliteStore
            options.setdefault("synchronous", "NORMAL")  # what is tested here is not fsync
            store = SqliteStore(self.target, **options)
        else:
            from relay.adapters.postgres_store import PostgresStore  # the scale extra
            store = PostgresStore(self.target, **options)
        await store.open()
        self.opened.append(store)
        return store

    async def close(self, store: Store | None = None) -> None:
        """Close ``store`` (a restart), or every store still open."""
        for s in [store] if store is not None else list(self.opened):
            self.opened.remove(s)
            await s.close()


class Contract:
    """Base of the contract classes: ``store`` is one store opened from ``stores``."""

    @pytest.fixture
    async def store(self, stores: Stores) -> Store:
        return await stores.open()
