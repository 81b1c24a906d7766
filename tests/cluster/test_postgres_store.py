"""What only the PostgreSQL store promises: several processes (pool connections, stores) on
one database agree on seqs, client ids, guards and bases, waits are bounded, and a database
restart loses and duplicates nothing."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager

import psycopg
import pytest
from psycopg_pool import PoolTimeout

from relay.adapters.postgres_migrations import MIGRATIONS
from relay.adapters.postgres_rows import dump
from relay.adapters.postgres_store import PostgresStore
from relay.core.records import Guard, snapshot
from relay.errors import (
    AlreadyStored,
    GuardFailed,
    StoreBusy,
    StoreError,
    StoreUnavailable,
    WriteConflict,
)
from tests import services
from tests.storecontract import Stores, kit
from wire import Event

SID, PID = kit.SID, kit.PID
WAIT = 30.0  # most seconds any wait on the database takes here


async def _until(check: Callable[[], Awaitable[bool]], what: str, timeout: float = WAIT) -> None:
    deadline = time.monotonic() + timeout
    while not await check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.01)


async def _scalar(dsn: str, sql: str, *params: object) -> object:
    async with await psycopg.AsyncConnection.connect(dsn, autocommit=True) as conn:
        cur = await conn.execute(sql, params or None)
        row = await cur.fetchone()
        return row[0] if row else None


async def _queued(dsn: str, n: int) -> None:
    """Wait until ``n`` transactions wait behind a lock."""
    async def check() -> bool:
        return n == await _scalar(
            dsn, "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'"
            " AND datname = current_database()")
    await _until(check, f"{n} transactions waiting on a lock")


@asynccontextmanager
async def _holding(dsn: str, sql: str, *params: object,
                   commit: bool = False) -> AsyncIterator[None]:
    """Run ``sql`` in a transaction of another connection (another relay process) and keep
    its row locks until the block ends; then roll it back, or commit it."""
    async with await psycopg.AsyncConnection.connect(dsn) as other:
        await other.execute(sql, params or None)
        try:
            yield
        except BaseException:
            await other.rollback()
            raise
        if commit:
            await other.commit()
        else:
            await other.rollback()


def _row_locks(dsn: str, *sids: str) -> AbstractAsyncContextManager[None]:
    """Hold the row locks of sessions ``sids`` until the block ends."""
    return _holding(dsn, "SELECT id FROM sessions WHERE id = ANY(%s) FOR UPDATE", list(sids))


async def _events(dsn: str, sid: str = SID) -> list[int]:
    async with await psycopg.AsyncConnection.connect(dsn) as conn:
        cur = await conn.execute("SELECT seq FROM events WHERE session_id = %s ORDER BY seq",
                                 [sid])
        return [int(r[0]) for r in await cur.fetchall()]


@pytest.mark.parametrize("processes", [1, 2])
async def test_one_client_id_committed_twice_at_once_is_stored_once(
        pg: Stores, processes: int) -> None:
    """Two connections commit the same action at the same moment (one store's pool, or two
    relays): one row, one seq; one caller gets the event, the other AlreadyStored with it."""
    one = await pg.open(max_size=4, busy_timeout=WAIT)
    two = await pg.open(max_size=4, busy_timeout=WAIT) if processes == 2 else one
    await kit.session(one)
    async with _row_locks(pg.target, SID):
        a = asyncio.create_task(one.commit(kit.chat(SID, "m")))
        b = asyncio.create_task(two.commit(kit.chat(SID, "m")))
        await _queued(pg.target, 2)
    results = await asyncio.gather(a, b, return_exceptions=True)
    [stored] = [r for r in results if isinstance(r, Event)]
    [again] = [r for r in results if not isinstance(r, Event)]
    assert stored.seq == 1 and isinstance(again, AlreadyStored) and again.event == stored
    assert await _events(pg.target) == [1]
    assert await _scalar(pg.target, "SELECT count(*) FROM chat") == 1
    assert await _scalar(pg.target, "SELECT count(*) FROM actions") == 1
    assert (await one.get_session(SID)).last_seq == 1  # type: ignore[union-attr]
    assert (await two.commit(kit.chat(SID, "n"))).seq == 2


async def test_one_client_id_in_two_sessions_at_once_is_stored_in_one(pg: Stores) -> None:
    """The unique key holds across sessions (whose commits no row lock orders): the loser
    gets the winner's event (AlreadyStored) and its session's seq is not used up."""
    store = await pg.open(max_size=4, busy_timeout=WAIT)
    await kit.session(store, "a")
    await kit.session(store, "b")
    async with _row_locks(pg.target, "a", "b"):
        first = asyncio.create_task(store.commit(kit.chat("a", "m")))
        second = asyncio.create_task(store.commit(kit.chat("b", "m")))
        await _queued(pg.target, 2)
    results = await asyncio.gather(first, second, return_exceptions=True)
    [won] = [r for r in results if isinstance(r, Event)]
    [lost] = [r for r in results if not isinstance(r, Event)]
    assert won.seq == 1 and isinstance(lost, AlreadyStored) and lost.event == won
    assert sorted([*await _events(pg.target, "a"), *await _events(pg.target, "b")]) == [1]
    action = await store.action("m")
    assert action is not None and (action.session_id, action.seq) == (won.session_id, 1)
    loser = "b" if won.session_id == "a" else "a"
    assert (await store.get_session(loser)).last_seq == 0  # type: ignore[union-attr]


async def test_fifty_concurrent_commits_into_one_session_get_seqs_1_to_50(pg: Stores) -> None:
    one = await pg.open(max_size=10, busy_timeout=WAIT)
    two = await pg.open(max_size=10, busy_timeout=WAIT)
    await kit.session(one)
    writes = [kit.chat(SID, f"m{i}") for i in range(50)]
    events = await asyncio.gather(*[(one, two)[i % 2].commit(w) for i, w in enumerate(writes)])
    assert sorted(e.seq for e in events) == list(range(1, 51))
    assert await _events(pg.target) == list(range(1, 51))
    for i, event in enumerate(events):  # each caller got the seq its message was stored with
        msg = await one.chat(f"m{i}")
        assert event.id == f"m{i}" and msg is not None and msg.seq == event.seq
        assert (await one.action(f"m{i}")).seq == event.seq  # type: ignore[union-attr]


async def test_a_revocation_committed_meanwhile_elsewhere_fails_the_guard(pg: Stores) -> None:
    """Another process revokes bob's project (from another session of it: no lock of this
    session is taken) while bob's guarded commit is in flight: the commit waits for that
    transaction's member row and finds bob removed."""
    store = await pg.open(busy_timeout=WAIT)
    await kit.session(store, bob="editor")
    revoke = "UPDATE members SET removed_at = 9 WHERE user_id = 'bob' AND session_id = %s"
    async with _holding(pg.target, revoke, SID, commit=True):
        sent = asyncio.create_task(store.commit(
            kit.chat(SID, "m", author="bob", guard=Guard("bob", kit.WRITERS))))
        await _queued(pg.target, 1)
    with pytest.raises(GuardFailed) as refused:
        await sent
    assert refused.value.role is None
    assert await store.action("m") is None and await kit.seqs(store) == [1]


async def test_an_edit_committed_meanwhile_elsewhere_is_a_write_conflict(pg: Stores) -> None:
    """Another process edits the message while an edit built from the old text is in
    flight: the commit waits for that row and refuses (no lost update)."""
    store = await pg.open(busy_timeout=WAIT)
    await kit.session(store)
    await store.commit(kit.chat(SID, "m", "old"))
    read = await store.chat("m")
    assert read is not None
    theirs = snapshot(read)
    theirs.text = "theirs"
    async with _holding(pg.target, "UPDATE chat SET data = %s WHERE id = 'm'", dump(theirs),
                        commit=True):
        mine = asyncio.create_task(store.commit(kit.edit(read, "mine")))
        await _queued(pg.target, 1)
    with pytest.raises(WriteConflict):
        await mine
    assert (await store.chat("m")).text == "theirs"  # type: ignore[union-attr]


async def test_a_lock_held_too_long_or_no_free_connection_is_busy(pg: Stores) -> None:
    """StoreBusy after ``busy_timeout``: nothing stored, no seq used up."""
    store = await pg.open(max_size=1, busy_timeout=0.3)
    assert isinstance(store, PostgresStore) and store._pool is not None
    await kit.session(store)
    async with _row_locks(pg.target, SID):
        with pytest.raises(StoreBusy) as locked:
            await store.commit(kit.chat(SID, "m"))
    assert isinstance(locked.value.__cause__, psycopg.errors.LockNotAvailable)
    async with store._pool.connection():  # the only connection is taken
        with pytest.raises(StoreBusy) as no_connection:
            await store.commit(kit.chat(SID, "m"))
    assert isinstance(no_connection.value.__cause__, PoolTimeout)
    assert await store.action("m") is None
    assert (await store.commit(kit.chat(SID, "m"))).seq == 1


async def test_a_call_whose_connection_the_server_cuts_is_unavailable_and_stores_nothing(
        pg: Stores) -> None:
    """The server ends the backend of a commit mid-call (as a shutdown or failover does):
    StoreUnavailable, a StoreBusy, so the client is told to send it again; nothing was
    stored and the same message commits afterwards."""
    store = await pg.open(busy_timeout=10.0)
    await kit.session(store)
    async with _row_locks(pg.target, SID):
        commit = asyncio.create_task(store.commit(kit.chat(SID, "m")))
        await _queued(pg.target, 1)
        assert await _scalar(
            pg.target, "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
            " WHERE wait_event_type = 'Lock' AND datname = current_database()") == 1
        with pytest.raises(StoreUnavailable) as cut:
            await commit
    assert isinstance(cut.value, StoreBusy)
    assert isinstance(cut.value.__cause__, psycopg.OperationalError)
    assert await store.action("m") is None
    assert (await store.commit(kit.chat(SID, "m"))).seq == 1


async def test_stores_opening_together_migrate_once(pg: Stores) -> None:
    stores = await asyncio.gather(*[pg.open() for _ in range(3)])
    assert len(stores) == 3
    versions = await _scalar(pg.target, "SELECT array_agg(version) FROM schema_version")
    assert versions == list(range(1, len(MIGRATIONS) + 1))


async def test_a_newer_schema_or_no_database_is_refused_at_open(pg: Stores) -> None:
    await pg.open()
    async with await psycopg.AsyncConnection.connect(pg.target, autocommit=True) as conn:
        await conn.execute("INSERT INTO schema_version VALUES (%s, 0)", [len(MIGRATIONS) + 1])
    with pytest.raises(StoreError, match="schema version"):
        await pg.open()
    nowhere = PostgresStore(f"host=127.0.0.1 port={services.free_port()} user=postgres",
                            connect_timeout=2.0)
    with pytest.raises(StoreError, match="cannot connect"):
        await nowhere.open()


async def test_a_nul_character_is_refused_and_stores_nothing(pg: Stores) -> None:
    """PostgreSQL text cannot hold U+0000; inside entities it is JSON-escaped and kept."""
    store = await pg.open()
    await kit.session(store)
    with pytest.raises(StoreError):
        await store.commit(kit.chat(SID, "bad\x00id"))
    assert (await store.commit(kit.chat(SID, "m", "text with \x00 inside"))).seq == 1
    assert (await store.chat("m")).text == "text with \x00 inside"  # type: ignore[union-attr]


async def test_a_database_restart_fails_calls_meanwhile_and_loses_or_doubles_nothing(
        pg: Stores, postgres_server: services.PostgresServer) -> None:
    """A writer keeps committing, sending each message again after a StoreError as a relay's
    client would, while PostgreSQL stops (fast) and starts again: calls fail with StoreError
    while it is down and succeed after; every acked message (an AlreadyStored answer is an
    ack too) is stored with its acked seq, every message once, with gapless seqs."""
    store = await pg.open(busy_timeout=0.5)
    await kit.session(store)
    acked: dict[str, int] = {}
    errors: list[StoreError] = []
    stop = asyncio.Event()

    async def writer() -> None:
        i = 0
        while not stop.is_set():
            try:
                acked[f"m{i}"] = (await store.commit(kit.chat(SID, f"m{i}"))).seq
                i += 1
            except AlreadyStored as exc:  # stored, but the answer was lost
                acked[f"m{i}"] = exc.event.seq
                i += 1
            except StoreError as exc:
                errors.append(exc)
                await asyncio.sleep(0.05)  # then the same message again

    async def count(n: int) -> bool:
        return len(acked) >= n

    async def failed() -> bool:
        return bool(errors)

    task = asyncio.create_task(writer())
    try:
        await _until(lambda: count(5), "acks before the stop")
        await asyncio.to_thread(postgres_server.stop)
        try:
            await _until(failed, "a failed commit while down")
            failed_at = len(acked)
            problem = await store.probe()
            assert problem is not None and "cannot be reached" in problem
            assert len(acked) == failed_at  # nothing was acked while the database was down
        finally:
            await asyncio.to_thread(postgres_server.ensure_running)
        await _until(lambda: count(failed_at + 5), "acks after the restart")
    finally:
        stop.set()
        await task
    assert await store.probe() is None
    assert all(isinstance(e, StoreBusy) for e in errors), errors  # the client sends again
    total = len(acked)
    assert sorted(acked.values()) == list(range(1, total + 1))
    assert await _events(pg.target) == list(range(1, total + 1))
    assert await _scalar(pg.target, "SELECT count(*) FROM chat") == total
    for mid, seq in acked.items():
        assert (await store.chat(mid)).seq == seq  # type: ignore[union-attr]
    # an acked message sent again (its ack was lost) is answered, not stored again
    with pytest.raises(AlreadyStored) as again:
        await store.commit(kit.chat(SID, "m0"))
    assert again.value.event.seq == acked["m0"]
    assert await _events(pg.target) == list(range(1, total + 1))
