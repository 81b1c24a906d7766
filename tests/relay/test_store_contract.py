"""The Store contract (tests/storecontract/) on the SQLite store: no server needed.

The same contract runs on PostgreSQL in tests/cluster/test_store_contract.py.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.storecontract import Stores
from tests.storecontract.commits import CommitContract
from tests.storecontract.history import HistoryContract
from tests.storecontract.records import RecordsContract


@pytest.fixture
async def stores(tmp_path: Path) -> AsyncIterator[Stores]:
    """Stores on one fresh SQLite file."""
    made = Stores("sqlite", tmp_path / "relay.sqlite3")
    yield made
    await made.close()


class TestSqliteRecords(RecordsContract):
    pass


class TestSqliteCommits(CommitContract):
    pass


class TestSqliteHistory(HistoryContract):
    pass
