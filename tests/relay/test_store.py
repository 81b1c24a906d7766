"""The SQLite store: WAL, versioned migrations, atomic writes."""

from __future__ import annotations

import sqlite3

import pytest

from relay.errors import DuplicateError
from relay.store.base import MemberRecord, SessionRecord, UserRecord, Write
from relay.store.migrations import MIGRATIONS
from relay.store.sqlite import SqliteStore
from wire import ChatMessage, Event, RepoIdentity, UserRef

ANN = UserRef(id="ann", name="Ann")


async def _store(path) -> SqliteStore:  # type: ignore[no-untyped-def]
    store = SqliteStore(path)
    await store.open()
    return store


async def _with_session(store: SqliteStore) -> str:
    await store.create_user(UserRecord(id="ann", name="Ann", pw_hash="x", created_at=1.0))
    await store.create_session(
        SessionRecord(id="s1", name="s", repo=RepoIdentity(), repo_key="session:s1",
                      host="ann", created_at=1.0),
        MemberRecord(session_id="s1", user_id="ann", name="Ann", role="host", joined_at=1.0))
    return "s1"


def _chat_write(sid: str, mid: str, fail: bool = False) -> Write:
    msg = ChatMessage(id=mid, session_id=sid, seq=0, author=ANN, text="t", created_at=2.0)

    def build(seq: int) -> Event:
        if fail:
            raise RuntimeError("boom")
        msg.seq = seq
        return Event(session_id=sid, seq=seq, id=mid, kind="chat_created", actor=ANN, at=2.0,
                     message=msg)

    return Write(session_id=sid, build=build, client_id=mid, user_id="ann", fingerprint="f",
                 chats=[msg])


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


async def test_seq_is_per_session_and_gapless(tmp_path):
    store = await _store(tmp_path / "r.sqlite3")
    sid = await _with_session(store)
    seqs = [await store.commit(_chat_write(sid, f"m{i}")) for i in range(3)]
    assert seqs == [1, 2, 3]
    assert (await store.get_session(sid)).last_seq == 3  # type: ignore[union-attr]


async def test_failed_write_stores_nothing_and_does_not_advance_seq(tmp_path):
    store = await _store(tmp_path / "r.sqlite3")
    sid = await _with_session(store)
    with pytest.raises(RuntimeError):
        await store.commit(_chat_write(sid, "bad", fail=True))
    assert await store.chat("bad") is None
    assert await store.action("bad") is None
    assert await store.commit(_chat_write(sid, "good")) == 1


async def test_a_client_id_is_stored_once(tmp_path):
    store = await _store(tmp_path / "r.sqlite3")
    sid = await _with_session(store)
    await store.commit(_chat_write(sid, "m"))
    with pytest.raises(DuplicateError):
        await store.commit(_chat_write(sid, "m"))
    assert len(await store.events_after(sid, 0, "ann", 10)) == 1
