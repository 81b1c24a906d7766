"""The SQLite store's own: WAL, versioned migrations (what every store promises is in
test_store_contract.py)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from relay.adapters.sqlite_migrations import MIGRATIONS
from relay.adapters.sqlite_store import SqliteStore


async def _store(path: Path) -> SqliteStore:
    store = SqliteStore(path)
    await store.open()
    return store


async def test_database_uses_wal_and_records_applied_migrations_once(tmp_path):
    path = tmp_path / "r.sqlite3"
    store = await _store(path)
    await store.close()
    store = await _store(path)  # reopening applies nothing twice
    await store.close()
    db = sqlite3.connect(path)
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    versions = [r[0] for r in db.execute("SELECT version FROM schema_migrations")]
    assert versions == list(range(1, len(MIGRATIONS) + 1))
