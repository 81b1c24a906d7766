"""Projects and their members in the SQLite store (plain functions on its connection)."""

from __future__ import annotations

from typing import Any

import sqlite_utils

from relay.core.records import ProjectMemberRecord, ProjectRecord


def _one(db: sqlite_utils.Database, sql: str, params: Any) -> dict[str, Any] | None:
    for row in db.query(sql, params):
        return row
    return None


def insert_project(db: sqlite_utils.Database, project: ProjectRecord) -> None:
    """A new project; its owner is its first member."""
    db.execute(
        "INSERT INTO projects (id, owner, repo_key, created_at) VALUES (?, ?, ?, ?)",
        [project.id, project.owner, project.repo_key, project.created_at],
    )
    upsert_member(db, ProjectMemberRecord(project_id=project.id, user_id=project.owner,
                                          granted_at=project.created_at))


def get_project(db: sqlite_utils.Database, project_id: str) -> ProjectRecord | None:
    row = _one(db, "SELECT * FROM projects WHERE id = ?", [project_id])
    return ProjectRecord(**row) if row else None


def latest_project(db: sqlite_utils.Database, owner: str, repo_key: str) -> ProjectRecord | None:
    row = _one(
        db,
        "SELECT * FROM projects WHERE owner = ? AND repo_key = ?"
        " ORDER BY created_at DESC, rowid DESC LIMIT 1",
        [owner, repo_key],
    )
    return ProjectRecord(**row) if row else None


def member(db: sqlite_utils.Database, project_id: str, user_id: str) -> ProjectMemberRecord | None:
    row = _one(db, "SELECT * FROM project_members WHERE project_id = ? AND user_id = ?",
               [project_id, user_id])
    return ProjectMemberRecord(**row) if row else None


def upsert_member(db: sqlite_utils.Database, pm: ProjectMemberRecord) -> None:
    """A grant, or a revocation: that also removes the user from every session of the
    project (inside the caller's transaction)."""
    db.execute(
        "INSERT INTO project_members (project_id, user_id, granted_at, removed_at)"
        " VALUES (?, ?, ?, ?) ON CONFLICT (project_id, user_id) DO UPDATE SET"
        " granted_at = CASE WHEN excluded.removed_at IS NULL THEN excluded.granted_at"
        " ELSE project_members.granted_at END, removed_at = excluded.removed_at",
        [pm.project_id, pm.user_id, pm.granted_at, pm.removed_at],
    )
    if pm.removed_at is not None:
        db.execute(
            "UPDATE members SET removed_at = ? WHERE user_id = ? AND removed_at IS NULL"
            " AND session_id IN (SELECT id FROM sessions WHERE project_id = ?)",
            [pm.removed_at, pm.user_id, pm.project_id],
        )
