"""The SQLite store's durable writes: one Write inside the caller's transaction.

Plain functions on the store's connection, called on its store thread with a
transaction open (BEGIN IMMEDIATE: no other writer until COMMIT), so the checks made
here and the seq allocated here hold for the whole commit.
"""

from __future__ import annotations

import json
from typing import Any, TypeVar

import sqlite_utils

from relay.adapters import sqlite_projects
from relay.core.records import Entity, Guard, LogLine, MemberRecord, Write
from relay.errors import AlreadyStored, GuardFailed, IdConflict, StoreError, WriteConflict
from wire import ChatMessage, Comment, Event, Thread
from wire.schema import structure, to_wire

T = TypeVar("T")


def dump(value: Any) -> str:
    return json.dumps(to_wire(value), separators=(",", ":"), ensure_ascii=False)


def load(data: str, tp: type[T]) -> T:
    return structure(json.loads(data), tp)


def one(db: sqlite_utils.Database, sql: str, params: Any = ()) -> dict[str, Any] | None:
    for row in db.query(sql, params):
        return row
    return None


def audience(users: frozenset[str] | None) -> str | None:
    return None if users is None else "," + ",".join(sorted(users)) + ","


def upsert_member(db: sqlite_utils.Database, m: MemberRecord) -> None:
    db.execute(
        "INSERT INTO members (session_id, user_id, role, joined_at, removed_at)"
        " VALUES (?, ?, ?, ?, ?) ON CONFLICT (session_id, user_id) DO UPDATE SET"
        " role = excluded.role, joined_at = excluded.joined_at,"
        " removed_at = excluded.removed_at",
        [m.session_id, m.user_id, m.role, m.joined_at, m.removed_at],
    )


def insert_log(db: sqlite_utils.Database, session_id: str, line: LogLine) -> None:
    db.execute(
        "INSERT INTO event_log (session_id, kind, actor, at, subject, detail)"
        " VALUES (?, ?, ?, ?, ?, ?)",
        [session_id, line.kind, line.actor, line.at, line.subject, line.detail],
    )


def commit(db: sqlite_utils.Database, write: Write) -> Event:
    """Check, stamp and store ``write``; see relay.core.ports.Store.commit."""
    sid = write.session_id
    if write.client_id is not None:
        _dedupe(db, write)
    session = one(db, "SELECT last_seq, ended_at FROM sessions WHERE id = ?", [sid])
    if session is None:
        raise StoreError(f"no session {sid}")
    if write.guard is not None:
        _check(db, sid, write.guard, session["ended_at"] is not None)
    for base in write.bases:
        if _current(db, base) != base:
            raise WriteConflict(f"{type(base).__name__} {base.id} changed")
    seq = int(session["last_seq"]) + 1
    event = write.stamp(seq)
    db.execute("UPDATE sessions SET last_seq = ? WHERE id = ?", [seq, sid])
    if write.ended_at is not None:
        db.execute("UPDATE sessions SET ended_at = ? WHERE id = ?", [write.ended_at, sid])
    if write.client_id is not None:
        db.execute(
            "INSERT INTO actions (client_id, user_id, session_id, fingerprint, seq)"
            " VALUES (?, ?, ?, ?, ?)",
            [write.client_id, write.user_id, sid, write.fingerprint, seq],
        )
    seen = audience(write.audience)
    db.execute(
        "INSERT INTO events (session_id, seq, kind, audience, data) VALUES (?, ?, ?, ?, ?)",
        [sid, seq, event.kind, seen, dump(event)],
    )
    for msg in write.chats:
        db.execute(
            "INSERT INTO chat (id, session_id, seq, audience, data) VALUES (?, ?, ?, ?, ?)"
            " ON CONFLICT (id) DO UPDATE SET data = excluded.data",
            [msg.id, msg.session_id, msg.seq, seen, dump(msg)],
        )
    for thread in write.threads:
        meta = Thread(
            id=thread.id, session_id=thread.session_id, anchor=thread.anchor,
            author=thread.author, created_at=thread.created_at, comments=[],
            resolved=thread.resolved, resolved_by=thread.resolved_by,
        )
        db.execute(
            "INSERT INTO threads (id, session_id, repo_key, project_id, created_at, data)"
            " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO UPDATE SET data = excluded.data",
            [thread.id, thread.session_id, write.thread_repo_key, write.thread_project_id,
             thread.created_at, dump(meta)],
        )
    for c in write.comments:
        db.execute(
            "INSERT INTO comments (id, thread_id, created_at, data) VALUES (?, ?, ?, ?)"
            " ON CONFLICT (id) DO UPDATE SET data = excluded.data",
            [c.id, c.thread_id, c.created_at, dump(c)],
        )
    for user_id, mention in write.mentions:
        db.execute(
            "INSERT INTO mentions (user_id, session_id, seq, data) VALUES (?, ?, ?, ?)",
            [user_id, sid, seq, dump(mention)],
        )
    for thread_id in write.deleted_threads:
        db.execute("DELETE FROM comments WHERE thread_id = ?", [thread_id])
        db.execute("DELETE FROM threads WHERE id = ?", [thread_id])
    for member in write.members:
        upsert_member(db, member)
    for pm in write.project_members:
        sqlite_projects.upsert_member(db, pm)
    for line in write.log:
        insert_log(db, sid, line)
    return event


def _dedupe(db: sqlite_utils.Database, write: Write) -> None:
    """Raise when the write's client id was stored before."""
    row = one(db, "SELECT * FROM actions WHERE client_id = ?", [write.client_id])
    if row is None:
        return
    if row["fingerprint"] != write.fingerprint or row["user_id"] != write.user_id:
        raise IdConflict(f"client id {write.client_id} was used for another action")
    stored = one(db, "SELECT data FROM events WHERE session_id = ? AND seq = ?",
                 [row["session_id"], row["seq"]])
    if stored is None:
        raise StoreError(f"client id {write.client_id} has no event")
    raise AlreadyStored(load(stored["data"], Event))


def _check(db: sqlite_utils.Database, session_id: str, guard: Guard, ended: bool) -> None:
    role = None
    if guard.user_id is not None:
        row = one(db, "SELECT role FROM members WHERE session_id = ? AND user_id = ?"
                  " AND removed_at IS NULL", [session_id, guard.user_id])
        role = row["role"] if row is not None else None
        if role not in guard.roles:
            raise GuardFailed(role, ended)
    if guard.open and ended:
        raise GuardFailed(role, ended)


def _current(db: sqlite_utils.Database, base: Entity) -> Entity | None:
    """The stored state of ``base``'s entity (a thread without its comments)."""
    if isinstance(base, ChatMessage):
        row = one(db, "SELECT data FROM chat WHERE id = ?", [base.id])
        return load(row["data"], ChatMessage) if row else None
    if isinstance(base, Comment):
        row = one(db, "SELECT data FROM comments WHERE id = ?", [base.id])
        return load(row["data"], Comment) if row else None
    row = one(db, "SELECT data FROM threads WHERE id = ?", [base.id])
    return load(row["data"], Thread) if row else None
