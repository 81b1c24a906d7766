"""Rows of the PostgreSQL store: wire JSON, row to record, and the row writes that
``create_session`` and ``commit`` share (plain functions on a connection or cursor)."""

from __future__ import annotations

import json
from typing import Any, TypeVar

from psycopg import AsyncConnection, AsyncCursor
from psycopg.rows import DictRow

from relay.core.records import (
    InviteRecord,
    LogLine,
    MemberRecord,
    ProjectMemberRecord,
    ProjectRecord,
    SessionRecord,
)
from wire import Comment, Invite, RepoIdentity, Thread
from wire.schema import structure, to_wire

T = TypeVar("T")
Conn = AsyncConnection[DictRow]
Target = Conn | AsyncCursor[DictRow]
PROJECT = "id, owner, repo_key, created_at"
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


def log_params(session_id: str, line: LogLine) -> list[Any]:
    return [session_id, line.kind, line.actor, line.at, line.subject, line.detail]


async def with_comments(conn: Conn, threads: list[tuple[str, str]]) -> list[Thread]:
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
