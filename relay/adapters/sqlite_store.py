"""SQLite store through sqlite-utils: WAL, versioned migrations, commit before ack.

Calls never run on the event loop: every public method runs, in call order, on one
store thread (relay/adapters/offloop.py), so a database held by another process stalls
only the calls that need it, never presence, health checks or other connections. A
durable write is one BEGIN IMMEDIATE transaction (relay/adapters/sqlite_writes.py): its
checks, its seq and its rows hold together against every other writer. A call waits
at most ``busy_timeout`` seconds from the moment it was made (queueing included)
and then raises StoreBusy. Entities are stored as their wire JSON next to the
indexed columns that queries need.
"""

from __future__ import annotations

import logging
import sqlite3
import time
from pathlib import Path
from typing import Any

import sqlite_utils

from relay.adapters import sqlite_projects, sqlite_writes
from relay.adapters.offloop import OffLoop, off_loop, write_problem
from relay.adapters.sqlite_migrations import MIGRATIONS
from relay.adapters.sqlite_writes import dump as _dump
from relay.adapters.sqlite_writes import load as _load
from relay.core.ports import Store
from relay.core.records import (
    ActionRecord,
    InviteRecord,
    LogLine,
    MemberRecord,
    ProjectMemberRecord,
    ProjectRecord,
    SessionRecord,
    UserRecord,
    Write,
)
from relay.errors import DuplicateError, StoreError
from wire import (
    ChatMessage,
    Comment,
    Event,
    Invite,
    LogEntry,
    Mention,
    RepoIdentity,
    Role,
    Thread,
)

log = logging.getLogger("relay.store")
_VISIBLE = "(audience IS NULL OR instr(audience, :uid) > 0)"


@off_loop
class SqliteStore(OffLoop, Store):
    def __init__(self, path: Path | str, synchronous: str = "FULL",
                 busy_timeout: float = 2.0) -> None:
        super().__init__(busy_timeout)
        self.path = str(path)
        self.synchronous = synchronous.upper()
        self._conn: sqlite3.Connection | None = None
        self._db: sqlite_utils.Database | None = None
        self._busy_ms = -1  # the connection's busy_timeout pragma now

    def _wait_at_most(self, seconds: float) -> None:
        ms = max(1, int(seconds * 1000))
        if self._conn is not None and abs(ms - self._busy_ms) > 50:
            self._conn.execute(f"PRAGMA busy_timeout={ms}")
            self._busy_ms = ms

    # -- lifecycle

    @property
    def db(self) -> sqlite_utils.Database:
        if self._db is None:
            raise StoreError("store is not open")
        return self._db

    async def open(self) -> None:
        conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        self._conn = conn
        self._db = sqlite_utils.Database(conn)
        if self.path != ":memory:":
            self._db.enable_wal()
        conn.execute(f"PRAGMA synchronous={self.synchronous}")
        conn.execute("PRAGMA foreign_keys=ON")
        self._wait_at_most(max(self.busy_timeout, 5.0))
        self._migrate()

    def _migrate(self) -> None:
        db = self.db
        if "schema_migrations" not in db.table_names():
            db.table("schema_migrations").create(
                {"version": int, "applied_at": float}, pk="version", if_not_exists=True
            )
        done = {row["version"] for row in db.query("SELECT version FROM schema_migrations")}
        for version, script in enumerate(MIGRATIONS, start=1):
            if version in done:
                continue
            with self._tx():
                for statement in script.split(";"):
                    if statement.strip():
                        db.execute(statement)
                db.execute(
                    "INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)",
                    [version, time.time()],
                )
            log.info("applied schema migration version=%d", version)

    def _tx(self) -> _Tx:
        if self._conn is None:
            raise StoreError("store is not open")
        return _Tx(self._conn)

    async def close(self) -> None:
        await self._submit(self._close)
        self._stop_thread()

    def _close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None
            self._db = None

    async def probe(self, timeout: float = 0.2) -> str | None:
        """Why the store cannot be written now, or None: a write in a transaction that is
        rolled back, plus a file created, synced and removed in the data folder. A database
        merely locked by another writer counts as writable (StoreBusy is raised)."""
        result: str | None = await self._submit(self._probe, time.monotonic() + timeout)
        return result

    def _probe(self, deadline: float) -> str | None:
        if self._conn is None:
            return "the store is not open"
        self._wait_at_most(max(0.001, deadline - time.monotonic()))
        return write_problem(self._conn, None if self.path == ":memory:" else
                             Path(self.path).parent)

    def _one(self, sql: str, params: Any = ()) -> dict[str, Any] | None:
        return sqlite_writes.one(self.db, sql, params)

    # -- users

    async def create_user(self, user: UserRecord) -> None:
        try:
            with self._tx():
                self.db.execute(
                    "INSERT INTO users (id, name, pw_hash, created_at) VALUES (?, ?, ?, ?)",
                    [user.id, user.name, user.pw_hash, user.created_at],
                )
        except sqlite3.IntegrityError as exc:
            raise DuplicateError(f"user {user.id} exists") from exc

    async def get_user(self, user_id: str) -> UserRecord | None:
        row = self._one("SELECT * FROM users WHERE id = ?", [user_id])
        return UserRecord(**row) if row else None

    # -- sessions

    def _session(self, row: dict[str, Any]) -> SessionRecord:
        return SessionRecord(
            id=row["id"], name=row["name"], repo=_load(row["repo"], RepoIdentity),
            repo_key=row["repo_key"], host=row["host"], created_at=row["created_at"],
            ended_at=row["ended_at"], last_seq=row["last_seq"],
            host_name=row.get("host_name") or row["host"], project_id=row["project_id"] or "",
        )

    async def create_session(self, session: SessionRecord, host: MemberRecord,
                             project: ProjectRecord | None = None) -> None:
        with self._tx():
            if project is not None:
                sqlite_projects.insert_project(self.db, project)
            self.db.execute(
                "INSERT INTO sessions (id, name, host, repo, repo_key, created_at, last_seq,"
                " project_id) VALUES (?, ?, ?, ?, ?, ?, 0, ?)",
                [session.id, session.name, session.host, _dump(session.repo), session.repo_key,
                 session.created_at, session.project_id],
            )
            sqlite_writes.upsert_member(self.db, host)

    async def get_session(self, session_id: str) -> SessionRecord | None:
        row = self._one(
            "SELECT s.*, u.name AS host_name FROM sessions s LEFT JOIN users u ON u.id = s.host"
            " WHERE s.id = ?",
            [session_id],
        )
        return self._session(row) if row else None

    async def sessions_of(self, user_id: str) -> list[tuple[SessionRecord, Role]]:
        rows = self.db.query(
            "SELECT s.*, m.role AS member_role, u.name AS host_name FROM sessions s"
            " JOIN members m ON m.session_id = s.id LEFT JOIN users u ON u.id = s.host"
            " WHERE m.user_id = ? AND m.removed_at IS NULL"
            " ORDER BY s.created_at DESC",
            [user_id],
        )
        out: list[tuple[SessionRecord, Role]] = []
        for row in rows:
            role = row.pop("member_role")
            out.append((self._session(row), role))
        return out

    async def members(self, session_id: str) -> list[MemberRecord]:
        rows = self.db.query(
            "SELECT m.*, u.name AS name FROM members m JOIN users u ON u.id = m.user_id"
            " WHERE m.session_id = ? ORDER BY m.joined_at",
            [session_id],
        )
        return [MemberRecord(**row) for row in rows]

    async def member(self, session_id: str, user_id: str) -> MemberRecord | None:
        row = self._one(
            "SELECT m.*, u.name AS name FROM members m JOIN users u ON u.id = m.user_id"
            " WHERE m.session_id = ? AND m.user_id = ? AND m.removed_at IS NULL",
            [session_id, user_id],
        )
        return MemberRecord(**row) if row else None

    async def session_count(self) -> int:
        row = self._one("SELECT count(*) AS n FROM sessions WHERE ended_at IS NULL")
        return int(row["n"]) if row else 0

    # -- projects

    async def get_project(self, project_id: str) -> ProjectRecord | None:
        return sqlite_projects.get_project(self.db, project_id)

    async def latest_project(self, owner: str, repo_key: str) -> ProjectRecord | None:
        return sqlite_projects.latest_project(self.db, owner, repo_key)

    async def project_member(self, project_id: str, user_id: str) -> ProjectMemberRecord | None:
        return sqlite_projects.member(self.db, project_id, user_id)

    # -- invites

    def _invite(self, row: dict[str, Any]) -> InviteRecord:
        inv = Invite(
            invite_id=row["id"], session_id=row["session_id"], role=row["role"],
            token=row["token"], expires_at=row["expires_at"], revoked=bool(row["revoked"]),
            uses=row["uses"], max_uses=row["max_uses"],
        )
        return InviteRecord(invite=inv, created_by=row["created_by"], created_at=row["created_at"])

    async def create_invite(self, record: InviteRecord) -> None:
        inv = record.invite
        with self._tx():
            self.db.execute(
                "INSERT INTO invites (id, session_id, token, role, created_by, created_at,"
                " expires_at, revoked, uses, max_uses) VALUES (?, ?, ?, ?, ?, ?, ?, 0, 0, ?)",
                [inv.invite_id, inv.session_id, inv.token, inv.role, record.created_by,
                 record.created_at, inv.expires_at, inv.max_uses],
            )

    async def invite_by_token(self, token: str) -> InviteRecord | None:
        row = self._one("SELECT * FROM invites WHERE token = ?", [token])
        return self._invite(row) if row else None

    async def invites(self, session_id: str) -> list[InviteRecord]:
        rows = self.db.query(
            "SELECT * FROM invites WHERE session_id = ? ORDER BY created_at", [session_id]
        )
        return [self._invite(r) for r in rows]

    async def revoke_invite(self, session_id: str, invite_id: str) -> bool:
        with self._tx():
            cur = self.db.execute(
                "UPDATE invites SET revoked = 1 WHERE id = ? AND session_id = ?",
                [invite_id, session_id],
            )
        return bool(cur.rowcount)

    async def use_invite(self, invite_id: str) -> bool:
        with self._tx():
            cur = self.db.execute(
                "UPDATE invites SET uses = uses + 1 WHERE id = ? AND revoked = 0"
                " AND (max_uses IS NULL OR uses < max_uses)", [invite_id])
        return bool(cur.rowcount)

    # -- durable changes

    async def action(self, client_id: str) -> ActionRecord | None:
        row = self._one("SELECT * FROM actions WHERE client_id = ?", [client_id])
        return ActionRecord(**row) if row else None

    async def commit(self, write: Write) -> Event:
        try:
            with self._tx():
                return sqlite_writes.commit(self.db, write)
        except sqlite3.IntegrityError as exc:
            raise DuplicateError(f"duplicate write in session {write.session_id}") from exc
        except sqlite3.Error as exc:
            raise StoreError(f"write failed: {exc}") from exc

    async def events_after(
        self, session_id: str, after_seq: int, user_id: str, limit: int
    ) -> list[Event]:
        rows = self.db.query(
            f"SELECT data FROM events WHERE session_id = :sid AND seq > :after AND {_VISIBLE}"
            " ORDER BY seq LIMIT :limit",
            {"sid": session_id, "after": after_seq, "uid": f",{user_id},", "limit": limit},
        )
        return [_load(r["data"], Event) for r in rows]

    # -- entities

    async def chat(self, message_id: str) -> ChatMessage | None:
        row = self._one("SELECT data FROM chat WHERE id = ?", [message_id])
        return _load(row["data"], ChatMessage) if row else None

    async def chat_page(
        self, session_id: str, user_id: str, before_seq: int | None, limit: int
    ) -> tuple[list[ChatMessage], bool]:
        before = before_seq if before_seq is not None else 2**62
        rows = list(self.db.query(
            f"SELECT data FROM chat WHERE session_id = :sid AND seq < :before AND {_VISIBLE}"
            " ORDER BY seq DESC LIMIT :limit",
            {"sid": session_id, "before": before, "uid": f",{user_id},", "limit": limit + 1},
        ))
        has_more = len(rows) > limit
        msgs = [_load(r["data"], ChatMessage) for r in rows[:limit]]
        msgs.reverse()
        return msgs, has_more

    def _comments(self, thread_id: str) -> list[Comment]:
        rows = self.db.query(
            "SELECT data FROM comments WHERE thread_id = ? ORDER BY created_at, rowid",
            [thread_id],
        )
        return [_load(r["data"], Comment) for r in rows]

    async def thread(self, thread_id: str) -> tuple[Thread, str] | None:
        row = self._one("SELECT data, project_id FROM threads WHERE id = ?", [thread_id])
        if row is None:
            return None
        thread = _load(row["data"], Thread)
        thread.comments = self._comments(thread_id)
        return thread, row["project_id"] or ""

    async def comment(self, comment_id: str) -> Comment | None:
        row = self._one("SELECT data FROM comments WHERE id = ?", [comment_id])
        return _load(row["data"], Comment) if row else None

    async def project_threads(self, project_id: str) -> list[Thread]:
        rows = self.db.query(
            "SELECT id, data FROM threads WHERE project_id = ? ORDER BY created_at, rowid",
            [project_id],
        )
        out = []
        for row in rows:
            thread = _load(row["data"], Thread)
            thread.comments = self._comments(row["id"])
            out.append(thread)
        return out

    # -- mentions and log

    async def pending_mentions(self, session_id: str, user_id: str) -> list[Mention]:
        rows = self.db.query(
            "SELECT data FROM mentions WHERE user_id = ? AND session_id = ? AND delivered = 0"
            " ORDER BY seq",
            [user_id, session_id],
        )
        return [_load(r["data"], Mention) for r in rows]

    async def mark_mentions_delivered(self, session_id: str, user_id: str, upto_seq: int) -> None:
        with self._tx():
            self.db.execute(
                "UPDATE mentions SET delivered = 1 WHERE user_id = ? AND session_id = ?"
                " AND seq <= ? AND delivered = 0",
                [user_id, session_id, upto_seq],
            )

    async def append_log(self, session_id: str, line: LogLine) -> None:
        with self._tx():
            sqlite_writes.insert_log(self.db, session_id, line)

    async def log(self, session_id: str, limit: int) -> list[LogEntry]:
        rows = list(self.db.query(
            "SELECT * FROM event_log WHERE session_id = ? ORDER BY id DESC LIMIT ?",
            [session_id, limit],
        ))
        rows.reverse()
        return [
            LogEntry(seq=r["id"], kind=r["kind"], actor=r["actor"], at=r["at"],
                     subject=r["subject"], detail=r["detail"])
            for r in rows
        ]


class _Tx:
    """BEGIN IMMEDIATE ... COMMIT (or ROLLBACK on error) on an autocommit connection."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn

    def __enter__(self) -> None:
        self.conn.execute("BEGIN IMMEDIATE")

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        if exc_type is None:
            self.conn.execute("COMMIT")
        else:
            self.conn.execute("ROLLBACK")
