"""The Store contract (tests/storecontract/) on the PostgreSQL store, each test on a fresh
schema of the throwaway server. The same contract runs on SQLite in
tests/relay/test_store_contract.py."""

from __future__ import annotations

import pytest

from tests.storecontract import Stores
from tests.storecontract.commits import CommitContract
from tests.storecontract.history import HistoryContract
from tests.storecontract.records import RecordsContract


@pytest.fixture
def stores(pg: Stores) -> Stores:
    return pg


class TestPostgresRecords(RecordsContract):
    pass


class TestPostgresCommits(CommitContract):
    pass


class TestPostgresHistory(HistoryContract):
    pass
