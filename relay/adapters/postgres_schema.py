"""Versioned schema migrations of the PostgreSQL store: append, never edit a shipped one.

The logical schema is the SQLite store's (relay/store/migrations.py) after its migration 2,
with PostgreSQL types: times are double precision, seqs bigint, flags boolean, an audience is
a text array (NULL: everyone), entities are their wire JSON as text. ``pos`` columns keep the
insertion order that SQLite's rowid gives. A session's ``last_seq`` is its seq counter: no
PostgreSQL sequence allocates seqs (a sequence has gaps).
"""

from __future__ import annotations

import logging
import time
from typing import Any

from psycopg import AsyncConnection
from psycopg.rows import tuple_row

from relay.errors import StoreError

log = logging.getLogger("relay.store")

# Serializes migrations of relays that start together on one database.
MIGRATION_LOCK = 0x656E_7365_6D62  # "ensemb"

MIGRATIONS: list[str] = [
    # 1: initial schema (users, sessions, projects, members, invites, the event log)
    """
    CREATE TABLE users (
        id TEXT PRIMARY KEY, name TEXT NOT NULL, pw_hash TEXT NOT NULL,
        created_at DOUBLE PRECISION NOT NULL
    );
    CREATE TABLE projects (
        id TEXT PRIMARY KEY, owner TEXT NOT NULL, repo_key TEXT NOT NULL,
        created_at DOUBLE PRECISION NOT NULL,
        pos BIGINT GENERATED ALWAYS AS IDENTITY
    );
    CREATE INDEX projects_owner_repo ON projects (owner, repo_key, created_at);
    CREATE TABLE project_members (
        project_id TEXT NOT NULL, user_id TEXT NOT NULL, granted_at DOUBLE PRECISION NOT NULL,
        removed_at DOUBLE PRECISION, PRIMARY KEY (project_id, user_id)
    );
    CREATE INDEX project_members_user ON project_members (user_id);
    CREATE TABLE sessions (
        id TEXT PRIMARY KEY, name TEXT NOT NULL, host TEXT NOT NULL, repo TEXT NOT NULL,
        repo_key TEXT NOT NULL, created_at DOUBLE PRECISION NOT NULL,
        ended_at DOUBLE PRECISION, last_seq BIGINT NOT NULL DEFAULT 0, project_id TEXT
    );
    CREATE INDEX sessions_project ON sessions (project_id);
    CREATE TABLE members (
        session_id TEXT NOT NULL, user_id TEXT NOT NULL, role TEXT NOT NULL,
        joined_at DOUBLE PRECISION NOT NULL, removed_at DOUBLE PRECISION,
        PRIMARY KEY (session_id, user_id)
    );
    CREATE INDEX members_user ON members (user_id);
    CREATE TABLE invites (
        id TEXT PRIMARY KEY, session_id TEXT NOT NULL, token TEXT NOT NULL UNIQUE,
        role TEXT NOT NULL, created_by TEXT NOT NULL, created_at DOUBLE PRECISION NOT NULL,
        expires_at DOUBLE PRECISION NOT NULL, revoked BOOLEAN NOT NULL DEFAULT FALSE,
        uses INTEGER NOT NULL DEFAULT 0, max_uses INTEGER
    );
    CREATE INDEX invites_session ON invites (session_id, created_at);
    CREATE TABLE actions (
        client_id TEXT PRIMARY KEY, user_id TEXT NOT NULL, session_id TEXT NOT NULL,
        fingerprint TEXT NOT NULL, seq BIGINT NOT NULL
    );
    CREATE TABLE events (
        session_id TEXT NOT NULL, seq BIGINT NOT NULL, kind TEXT NOT NULL,
        audience TEXT[], data TEXT NOT NULL, PRIMARY KEY (session_id, seq)
    );
    CREATE TABLE chat (
        id TEXT PRIMARY KEY, session_id TEXT NOT NULL, seq BIGINT NOT NULL,
        audience TEXT[], data TEXT NOT NULL
    );
    CREATE INDEX chat_session_seq ON chat (session_id, seq);
    CREATE TABLE threads (
        id TEXT PRIMARY KEY, session_id TEXT NOT NULL, repo_key TEXT NOT NULL,
        project_id TEXT, created_at DOUBLE PRECISION NOT NULL, data TEXT NOT NULL,
        pos BIGINT GENERATED ALWAYS AS IDENTITY
    );
    CREATE INDEX threads_project ON threads (project_id, created_at, pos);
    CREATE TABLE comments (
        id TEXT PRIMARY KEY, thread_id TEXT NOT NULL, created_at DOUBLE PRECISION NOT NULL,
        data TEXT NOT NULL, pos BIGINT GENERATED ALWAYS AS IDENTITY
    );
    CREATE INDEX comments_thread ON comments (thread_id, created_at, pos);
    CREATE TABLE mentions (
        id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY, user_id TEXT NOT NULL,
        session_id TEXT NOT NULL, seq BIGINT NOT NULL,
        delivered BOOLEAN NOT NULL DEFAULT FALSE, data TEXT NOT NULL
    );
    CREATE INDEX mentions_pending ON mentions (user_id, session_id, delivered);
    CREATE TABLE event_log (
        id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY, session_id TEXT NOT NULL,
        kind TEXT NOT NULL, actor TEXT NOT NULL, at DOUBLE PRECISION NOT NULL,
        subject TEXT, detail TEXT
    );
    CREATE INDEX event_log_session ON event_log (session_id, id);
    """,
]


async def migrate(conn: AsyncConnection[Any]) -> int:
    """Apply the migrations this database lacks, in one transaction under an advisory lock
    (relays starting together wait for each other); return the schema version."""
    async with conn.transaction():
        await conn.execute("SET LOCAL statement_timeout = 0")
        await conn.execute("SET LOCAL lock_timeout = 0")
        await conn.execute("SELECT pg_advisory_xact_lock(%s)", [MIGRATION_LOCK])
        await conn.execute(
            "CREATE TABLE IF NOT EXISTS schema_version ("
            " version INTEGER PRIMARY KEY, applied_at DOUBLE PRECISION NOT NULL)")
        cur = conn.cursor(row_factory=tuple_row)
        await cur.execute("SELECT version FROM schema_version")
        done = {int(row[0]) for row in await cur.fetchall()}
        newest = max(done, default=0)
        if newest > len(MIGRATIONS):
            raise StoreError(f"the database has schema version {newest}; this relay knows "
                             f"versions up to {len(MIGRATIONS)}")
        for version, script in enumerate(MIGRATIONS, start=1):
            if version in done:
                continue
            await conn.execute(script.encode())
            await conn.execute(
                "INSERT INTO schema_version (version, applied_at) VALUES (%s, %s)",
                [version, time.time()])
            log.info("applied schema migration version=%d", version)
    return len(MIGRATIONS)
