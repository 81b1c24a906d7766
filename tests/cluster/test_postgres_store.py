"""What only the PostgreSQL store promises: several processes (pool connections, stores) on
one database agree on seqs and client ids, waits are bounded, and a database restart loses
and duplicates nothing."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

import psycopg
import pytest
from psycopg_pool import PoolTimeout

from relay.errors import DuplicateError, StoreBusy, StoreError
from relay.store.postgres import PostgresStore
from relay.store.postgres_schema import MIGRATIONS
from tests import services
from tests.cluster import storekit as kit
from tests.cluster.conftest import Stores

SID = "s1"
WAIT = 30.0  # most seconds any wait on the database takes here


@pytest.fixture
async def pg(postgres_dsn: str) -> AsyncIterator[Stores]:
    made = Stores("postgres", postgres_dsn)
    yield made
    await made.close()


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


@asynccontextmanager
async def _row_locks(dsn: str, *sids: str) -> AsyncIterator[Callable[[int], Awaitable[None]]]:
    """Hold the row locks of sessions ``sids`` until the block ends; the block gets
    ``queued(n)``, which waits until ``n`` transactions wait behind a lock."""
    async with await psycopg.AsyncConnection.connect(dsn) as holder:
        await holder.execute("SELECT id FROM sessions WHERE id = ANY(%s) FOR UPDATE",
                             [list(sids)])

        async def queued(n: int) -> None:
            async def check() -> bool:
                return n == await _scalar(
                    dsn, "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'"
                    " AND datname = current_database()")
            await _until(check, f"{n} transactions waiting on a lock")

        try:
            yield queued
        finally:
            await holder.rollback()


async def _events(dsn: str, sid: str = SID) -> list[int]:
    async with await psycopg.AsyncConnection.connect(dsn) as conn:
        cur = await conn.execute("SELECT seq FROM events WHERE session_id = %s ORDER BY seq",
                                 [sid])
        return [int(r[0]) for r in await cur.fetchall()]


@pytest.mark.parametrize("processes", [1, 2])
async def test_one_client_id_committed_twice_at_once_is_stored_once(
        pg: Stores, processes: int) -> None:
    """Two connections commit the same action at the same moment (one store's pool, or two
    relays): one row, one seq, and both callers get that seq."""
    one = await pg.open(max_size=4, busy_timeout=WAIT)
    two = await pg.open(max_size=4, busy_timeout=WAIT) if processes == 2 else one
    await kit.users(one, "ann")
    await kit.new_session(one, SID)
    async with _row_locks(pg.target, SID) as queued:
        a = asyncio.create_task(one.commit(kit.chat(SID, "m")))
        b = asyncio.create_task(two.commit(kit.chat(SID, "m")))
        await queued(2)
    assert await asyncio.gather(a, b) == [1, 1]
    assert await _events(pg.target) == [1]
    assert await _scalar(pg.target, "SELECT count(*) FROM chat") == 1
    assert await _scalar(pg.target, "SELECT count(*) FROM actions") == 1
    assert (await one.get_session(SID)).last_seq == 1  # type: ignore[union-attr]
    assert await two.commit(kit.chat(SID, "n")) == 2


async def test_one_client_id_in_two_sessions_at_once_is_stored_in_one(pg: Stores) -> None:
    """The unique key holds across sessions (whose commits no row lock orders): the loser
    gets DuplicateError and its session's seq is not used up."""
    store = await pg.open(max_size=4, busy_timeout=WAIT)
    await kit.users(store, "ann")
    await kit.new_session(store, "a")
    await kit.new_session(store, "b")
    async with _row_locks(pg.target, "a", "b") as queued:
        first = asyncio.create_task(store.commit(kit.chat("a", "m")))
        second = asyncio.create_task(store.commit(kit.chat("b", "m")))
        await queued(2)
    results = await asyncio.gather(first, second, return_exceptions=True)
    [won] = [r for r in results if isinstance(r, int)]
    [lost] = [r for r in results if not isinstance(r, int)]
    assert won == 1 and isinstance(lost, DuplicateError)
    assert sorted([*await _events(pg.target, "a"), *await _events(pg.target, "b")]) == [1]
    action = await store.action("m")
    assert action is not None and action.seq == 1
    loser = "b" if action.session_id == "a" else "a"
    assert (await store.get_session(loser)).last_seq == 0  # type: ignore[union-attr]


async def test_fifty_concurrent_commits_into_one_session_get_seqs_1_to_50(pg: Stores) -> None:
    one = await pg.open(max_size=10, busy_timeout=WAIT)
    two = await pg.open(max_size=10, busy_timeout=WAIT)
    await kit.users(one, "ann")
    await kit.new_session(one, SID)
    writes = [kit.chat(SID, f"m{i}") for i in range(50)]
    seqs = await asyncio.gather(*[(one, two)[i % 2].commit(w) for i, w in enumerate(writes)])
    assert sorted(seqs) == list(range(1, 51))
    assert await _events(pg.target) == list(range(1, 51))
    for i, seq in enumerate(seqs):  # each caller got the seq its own message was stored with
        msg = await one.chat(f"m{i}")
        assert msg is not None and msg.seq == seq
        assert (await one.action(f"m{i}")).seq == seq  # type: ignore[union-attr]


async def test_a_lock_held_too_long_or_no_free_connection_is_busy(pg: Stores) -> None:
    """StoreBusy after ``busy_timeout``: nothing stored, no seq used up."""
    store = await pg.open(max_size=1, busy_timeout=0.3)
    assert isinstance(store, PostgresStore) and store._pool is not None
    await kit.users(store, "ann")
    await kit.new_session(store, SID)
    async with _row_locks(pg.target, SID):
        with pytest.raises(StoreBusy) as locked:
            await store.commit(kit.chat(SID, "m"))
    assert isinstance(locked.value.__cause__, psycopg.errors.LockNotAvailable)
    async with store._pool.connection():  # the only connection is taken
        with pytest.raises(StoreBusy) as no_connection:
            await store.commit(kit.chat(SID, "m"))
    assert isinstance(no_connection.value.__cause__, PoolTimeout)
    assert await store.action("m") is None
    assert await store.commit(kit.chat(SID, "m")) == 1


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
    await kit.users(store, "ann")
    await kit.new_session(store, SID)
    with pytest.raises(StoreError):
        await store.commit(kit.chat(SID, "bad\x00id"))
    assert await store.commit(kit.chat(SID, "m", "text with \x00 inside")) == 1
    assert (await store.chat("m")).text == "text with \x00 inside"  # type: ignore[union-attr]


async def test_a_database_restart_fails_calls_meanwhile_and_loses_or_doubles_nothing(
        pg: Stores, postgres_server: services.PostgresServer) -> None:
    """A writer keeps committing, sending each message again after a StoreError as a relay's
    client would, while PostgreSQL stops (fast) and starts again: calls fail with StoreError
    while it is down and succeed after; every acked message is stored with its acked seq,
    every message once, with gapless seqs."""
    store = await pg.open(busy_timeout=0.5)
    await kit.users(store, "ann")
    await kit.new_session(store, SID)
    acked: dict[str, int] = {}
    errors: list[StoreError] = []
    stop = asyncio.Event()

    async def writer() -> None:
        i = 0
        while not stop.is_set():
            try:
                acked[f"m{i}"] = await store.commit(kit.chat(SID, f"m{i}"))
                i += 1
            except StoreError as exc:
                errors.append(exc)
                await asyncio.sleep(0.05)  # then the same message again

    async def count(n: int) -> bool:
        return len(acked) >= n

    task = asyncio.create_task(writer())
    try:
        await _until(lambda: count(5), "acks before the stop")
        await asyncio.to_thread(postgres_server.stop)
        try:
            await _until(lambda: _true(bool(errors)), "a failed commit while down")
            failed_at = len(acked)
            problem = await store.probe()  # type: ignore[attr-defined]
            assert problem is not None and "cannot be reached" in problem
            assert len(acked) == failed_at  # nothing was acked while the database was down
        finally:
            await asyncio.to_thread(postgres_server.ensure_running)
        await _until(lambda: count(failed_at + 5), "acks after the restart")
    finally:
        stop.set()
        await task
    assert await store.probe() is None  # type: ignore[attr-defined]
    total = len(acked)
    assert sorted(acked.values()) == list(range(1, total + 1))
    assert await _events(pg.target) == list(range(1, total + 1))
    assert await _scalar(pg.target, "SELECT count(*) FROM chat") == total
    for mid, seq in acked.items():
        assert (await store.chat(mid)).seq == seq  # type: ignore[union-attr]
    # an acked message sent again (its ack was lost) is answered, not stored again
    assert await store.commit(kit.chat(SID, "m0")) == acked["m0"]
    assert await _events(pg.target) == list(range(1, total + 1))


async def _true(value: bool) -> bool:
    return value
