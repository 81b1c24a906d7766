"""Rows of the PostgreSQL store: wire JSON, row to record, and the writes of ``commit`` and
``create_session`` (plain functions on a connection or cursor)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from contextlib import AbstractAsyncContextManager, nullcontext
from typing import Any, TypeVar

from psycopg import AsyncConnection, AsyncCursor, AsyncPipeline
from psycopg.rows import DictRow

from relay.store.base import (
    InviteRecord,
    LogLine,
    MemberRecord,
    ProjectMemberRecord,
    ProjectRecord,
    SessionRecord,
    Write,
)
from wire import Comment, Event, Invite, RepoIdentity, Thread
from wire.schema import structure, to_wire

T = TypeVar("T")
Target = AsyncConnection[DictRow] | AsyncCursor[DictRow]

_PIPELINE = AsyncPipeline.is_supported()
PROJECT = "id, owner, repo_key, created_at"
UPSERT_CHAT = (
    "INSERT INTO chat (id, session_id, seq, audience, data) VALUES (%s, %s, %s, %s, %s)"
    " ON CONFLICT (id) DO UPDATE SET data = EXCLUDED.data")
UPSERT_THREAD = (
    "INSERT INTO threads (id, session_id, repo_key, project_id, created_at, data)"
    " VALUES (%s, %s, %s, %s, %s, %s) ON CONFLICT (id) DO UPDATE SET data = EXCLUDED.data")
UPSERT_COMMENT = (
    "INSERT INTO comments (id, thread_id, created_at, data) VALUES (%s, %s, %s, %s)"
    " ON CONFLICT (id) DO UPDATE SET data = EXCLUDED.data")
INSERT_LOG = (
    "INSERT INTO event_log (session_id, kind, actor, at, subject, detail)"
    " VALUES (%s, %s, %s, %s, %s, %s)")


def dump(value: Any) -> str:
    return json.dumps(to_wire(value), separators=(",", ":"), ensure_ascii=False)


def load(data: str, tp: type[T]) -> T:
    return structure(json.loads(data), tp)


def session(row: dict[str, Any]) -> SessionRecord:
    return SessionRecord(
        id=row["id"], name=row["name"], repo=load(row["repo"], RepoIdentity),
        repo_key=row["repo_key"], host=row["host"], created_at=row["created_at"],
        ended_at=row["ended_at"], last_seq=int(row["last_seq"]),
        host_name=row.get("host_name") or row["host"], project_id=row["project_id"] or "",
    )


def invite(row: dict[str, Any]) -> InviteRecord:
    inv = Invite(
        invite_id=row["id"], session_id=row["session_id"], role=row["role"],
        token=row["token"], expires_at=row["expires_at"], revoked=bool(row["revoked"]),
        uses=row["uses"], max_uses=row["max_uses"],
    )
    return InviteRecord(invite=inv, created_by=row["created_by"], created_at=row["created_at"])


def thread_meta(thread: Thread) -> Thread:
    """The thread as stored: without its comments (they are rows of their own)."""
    return Thread(
        id=thread.id, session_id=thread.session_id, anchor=thread.anchor,
        author=thread.author, created_at=thread.created_at, comments=[],
        resolved=thread.resolved, resolved_by=thread.resolved_by,
    )


def log_params(session_id: str, line: LogLine) -> list[Any]:
    return [session_id, line.kind, line.actor, line.at, line.subject, line.detail]


async def with_comments(conn: AsyncConnection[DictRow],
                        threads: list[tuple[str, str]]) -> list[Thread]:
    """Threads (id, stored JSON) with their comments, oldest first, in one query."""
    if not threads:
        return []
    cur = await conn.execute(
        "SELECT thread_id, data FROM comments WHERE thread_id = ANY(%s)"
        " ORDER BY created_at, pos", [[tid for tid, _ in threads]])
    comments: dict[str, list[Comment]] = {}
    for row in await cur.fetchall():
        comments.setdefault(row["thread_id"], []).append(load(row["data"], Comment))
    out = []
    for tid, data in threads:
        thread = load(data, Thread)
        thread.comments = comments.get(tid, [])
        out.append(thread)
    return out


async def insert_project(target: Target, project: ProjectRecord) -> None:
    """A new project; its owner is its first member."""
    await target.execute(
        "INSERT INTO projects (id, owner, repo_key, created_at) VALUES (%s, %s, %s, %s)",
        [project.id, project.owner, project.repo_key, project.created_at])
    await upsert_project_member(target, ProjectMemberRecord(
        project_id=project.id, user_id=project.owner, granted_at=project.created_at))


async def upsert_member(target: Target, m: MemberRecord) -> None:
    await target.execute(
        "INSERT INTO members (session_id, user_id, role, joined_at, removed_at)"
        " VALUES (%s, %s, %s, %s, %s) ON CONFLICT (session_id, user_id) DO UPDATE SET"
        " role = EXCLUDED.role, joined_at = EXCLUDED.joined_at,"
        " removed_at = EXCLUDED.removed_at",
        [m.session_id, m.user_id, m.role, m.joined_at, m.removed_at])


async def upsert_project_member(target: Target, pm: ProjectMemberRecord) -> None:
    """A grant, or a revocation: that also removes the user from every session of the
    project (inside the caller's transaction)."""
    await target.execute(
        "INSERT INTO project_members (project_id, user_id, granted_at, removed_at)"
        " VALUES (%s, %s, %s, %s) ON CONFLICT (project_id, user_id) DO UPDATE SET"
        " granted_at = CASE WHEN EXCLUDED.removed_at IS NULL THEN EXCLUDED.granted_at"
        " ELSE project_members.granted_at END, removed_at = EXCLUDED.removed_at",
        [pm.project_id, pm.user_id, pm.granted_at, pm.removed_at])
    if pm.removed_at is not None:
        await target.execute(
            "UPDATE members SET removed_at = %s WHERE user_id = %s AND removed_at IS NULL"
            " AND session_id IN (SELECT id FROM sessions WHERE project_id = %s)",
            [pm.removed_at, pm.user_id, pm.project_id])


async def write_entities(conn: AsyncConnection[DictRow], write: Write, event: Event,
                         seq: int) -> None:
    """Everything of a commit after its seq, sent as one pipeline."""
    sid = write.session_id
    audience = None if write.audience is None else sorted(write.audience)
    pipeline: AbstractAsyncContextManager[Any] = conn.pipeline() if _PIPELINE \
        else nullcontext()
    async with pipeline, conn.cursor() as cur:
        await cur.execute(
            "INSERT INTO events (session_id, seq, kind, audience, data)"
            " VALUES (%s, %s, %s, %s, %s)", [sid, seq, event.kind, audience, dump(event)])
        await _many(cur, UPSERT_CHAT, [
            [m.id, m.session_id, m.seq, audience, dump(m)] for m in write.chats])
        await _many(cur, UPSERT_THREAD, [
            [t.id, t.session_id, write.thread_repo_key, write.thread_project_id,
             t.created_at, dump(thread_meta(t))] for t in write.threads])
        await _many(cur, UPSERT_COMMENT, [
            [c.id, c.thread_id, c.created_at, dump(c)] for c in write.comments])
        for _uid, mention in write.mentions:
            mention.seq = seq
        await _many(cur, "INSERT INTO mentions (user_id, session_id, seq, data)"
                    " VALUES (%s, %s, %s, %s)",
                    [[uid, sid, seq, dump(m)] for uid, m in write.mentions])
        if write.deleted_threads:
            await cur.execute("DELETE FROM comments WHERE thread_id = ANY(%s)",
                              [write.deleted_threads])
            await cur.execute("DELETE FROM threads WHERE id = ANY(%s)",
                              [write.deleted_threads])
        for member in write.members:
            await upsert_member(cur, member)
        for pm in write.project_members:
            await upsert_project_member(cur, pm)
        await _many(cur, INSERT_LOG, [log_params(sid, line) for line in write.log])


async def _many(cur: AsyncCursor[DictRow], sql: str, params: Sequence[Sequence[Any]]) -> None:
    if params:
        await cur.executemany(sql, params)
