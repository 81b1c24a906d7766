"""The PostgreSQL store's durable writes: one Write in one transaction (see
relay.core.ports.Store.commit).

The session's row lock orders the commits of a session across every relay process: the
seq is ``UPDATE sessions SET last_seq = last_seq + 1 ... RETURNING``, which takes the lock,
and a rolled-back commit gives its seq back. The client id is a unique key: a commit whose
id another transaction stored meanwhile (in this session or another) waits for it, finds
the conflict and rolls back, then answers with what was stored. The guard's member row and
the bases are read with row locks, so a change committed by another process (a project
revocation from another session, an edit of a shared thread) is either seen here or waits
until this commit is done.
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AbstractAsyncContextManager, nullcontext
from typing import Any

from psycopg import AsyncCursor, AsyncPipeline
from psycopg.rows import DictRow

from relay.adapters.postgres_rows import (
    INSERT_LOG,
    Conn,
    dump,
    load,
    log_params,
    upsert_member,
    upsert_project_member,
)
from relay.core.records import Entity, Guard, Write, snapshot
from relay.errors import AlreadyStored, GuardFailed, IdConflict, StoreError, WriteConflict
from wire import ChatMessage, Comment, Event, Thread

_PIPELINE = AsyncPipeline.is_supported()
_TABLES: dict[type[Any], str] = {ChatMessage: "chat", Comment: "comments", Thread: "threads"}


class _Taken(Exception):
    """Another transaction stored the write's client id first: roll this one back."""


async def commit(conn: Conn, write: Write) -> Event:
    """Check, stamp and store ``write`` in one transaction on ``conn`` (autocommit)."""
    try:
        async with conn.transaction():
            return await _commit(conn, write)
    except _Taken:
        pass
    await _stored_before(conn, write)
    raise StoreError(f"client id {write.client_id} was stored and is gone")


async def _commit(conn: Conn, write: Write) -> Event:
    sid = write.session_id
    cur = await conn.execute(
        "UPDATE sessions SET last_seq = last_seq + 1 WHERE id = %s RETURNING last_seq, ended_at",
        [sid])
    session = await cur.fetchone()
    if session is None:
        raise StoreError(f"no session {sid}")
    seq = int(session["last_seq"])
    if write.client_id is not None:
        cur = await conn.execute(
            "INSERT INTO actions (client_id, user_id, session_id, fingerprint, seq)"
            " VALUES (%s, %s, %s, %s, %s) ON CONFLICT (client_id) DO NOTHING RETURNING seq",
            [write.client_id, write.user_id, sid, write.fingerprint, seq])
        if await cur.fetchone() is None:
            raise _Taken()
    if write.guard is not None:
        await _check(conn, sid, write.guard, session["ended_at"] is not None)
    await _check_bases(conn, write.bases)
    event = write.stamp(seq)
    await _store(conn, write, event, seq)
    return event


async def _stored_before(conn: Conn, write: Write) -> None:
    """Raise AlreadyStored or IdConflict when the write's client id is stored."""
    cur = await conn.execute(
        "SELECT a.user_id, a.fingerprint, e.data FROM actions a LEFT JOIN events e"
        " ON e.session_id = a.session_id AND e.seq = a.seq WHERE a.client_id = %s",
        [write.client_id])
    row = await cur.fetchone()
    if row is None:
        return
    if row["fingerprint"] != write.fingerprint or row["user_id"] != write.user_id:
        raise IdConflict(f"client id {write.client_id} was used for another action")
    if row["data"] is None:
        raise StoreError(f"client id {write.client_id} has no event")
    raise AlreadyStored(load(row["data"], Event))


async def _check(conn: Conn, session_id: str, guard: Guard, ended: bool) -> None:
    """The guard against the member row, locked (FOR SHARE) until the commit ends."""
    role = None
    if guard.user_id is not None:
        cur = await conn.execute(
            "SELECT role FROM members WHERE session_id = %s AND user_id = %s"
            " AND removed_at IS NULL FOR SHARE", [session_id, guard.user_id])
        row = await cur.fetchone()
        role = row["role"] if row is not None else None
        if role not in guard.roles:
            raise GuardFailed(role, ended)
    if guard.open and ended:
        raise GuardFailed(role, ended)


async def _check_bases(conn: Conn, bases: list[Entity]) -> None:
    """Each base against its stored row, locked (FOR UPDATE, in one order) until the commit
    ends; a thread is compared without its comments."""
    for base in sorted(bases, key=lambda b: (_TABLES[type(b)], b.id)):
        cur = await conn.execute(
            f"SELECT data FROM {_TABLES[type(base)]} WHERE id = %s FOR UPDATE", [base.id])
        row = await cur.fetchone()
        if row is None or load(row["data"], type(base)) != base:
            raise WriteConflict(f"{type(base).__name__} {base.id} changed")


async def _store(conn: Conn, write: Write, event: Event, seq: int) -> None:
    """Everything of a commit after its checks, sent as one pipeline."""
    sid = write.session_id
    audience = None if write.audience is None else sorted(write.audience)
    pipeline: AbstractAsyncContextManager[Any] = conn.pipeline() if _PIPELINE \
        else nullcontext()
    async with pipeline, conn.cursor() as cur:
        if write.ended_at is not None:
            await cur.execute("UPDATE sessions SET ended_at = %s WHERE id = %s",
                              [write.ended_at, sid])
        await cur.execute(
            "INSERT INTO events (session_id, seq, kind, audience, data)"
            " VALUES (%s, %s, %s, %s, %s)", [sid, seq, event.kind, audience, dump(event)])
        await _many(cur, "INSERT INTO chat (id, session_id, seq, audience, data)"
                    " VALUES (%s, %s, %s, %s, %s) ON CONFLICT (id) DO UPDATE SET"
                    " data = EXCLUDED.data",
                    [[m.id, m.session_id, m.seq, audience, dump(m)] for m in write.chats])
        await _many(cur, "INSERT INTO threads (id, session_id, repo_key, project_id,"
                    " created_at, data) VALUES (%s, %s, %s, %s, %s, %s)"
                    " ON CONFLICT (id) DO UPDATE SET data = EXCLUDED.data",
                    [[t.id, t.session_id, write.thread_repo_key, write.thread_project_id,
                      t.created_at, dump(snapshot(t))] for t in write.threads])
        await _many(cur, "INSERT INTO comments (id, thread_id, created_at, data)"
                    " VALUES (%s, %s, %s, %s) ON CONFLICT (id) DO UPDATE SET"
                    " data = EXCLUDED.data",
                    [[c.id, c.thread_id, c.created_at, dump(c)] for c in write.comments])
        await _many(cur, "INSERT INTO mentions (user_id, session_id, seq, data)"
                    " VALUES (%s, %s, %s, %s)",
                    [[uid, sid, seq, dump(m)] for uid, m in write.mentions])
        if write.deleted_threads:
            await cur.execute("DELETE FROM comments WHERE thread_id = ANY(%s)",
                              [write.deleted_threads])
            await cur.execute("DELETE FROM threads WHERE id = ANY(%s)", [write.deleted_threads])
        for member in write.members:
            await upsert_member(cur, member)
        for pm in write.project_members:
            await upsert_project_member(cur, pm)
        await _many(cur, INSERT_LOG, [log_params(sid, line) for line in write.log])


async def _many(cur: AsyncCursor[DictRow], sql: str, params: Sequence[Sequence[Any]]) -> None:
    if params:
        await cur.executemany(sql, params)
