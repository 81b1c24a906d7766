"""PostgreSQL store: psycopg 3 async through a connection pool, for several relay processes.

A durable change is one transaction (relay/adapters/postgres_writes.py): the session's row
lock orders the commits of a session across processes and gives gapless seqs; the client id
is a unique key checked in the same transaction; the guard and the bases are read with
their rows locked. A call returns only after COMMIT (``synchronous_commit = on``).

Waits are bounded: a pool connection within ``busy_timeout`` seconds and a row lock within
``busy_timeout``, else StoreBusy (nothing was stored); a lost connection or any other
database failure is StoreError. Entities are stored as their wire JSON next to the indexed
columns that queries need (relay/adapters/postgres_migrations.py).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import psycopg
from psycopg import AsyncConnection
from psycopg.rows import dict_row
from psycopg_pool import AsyncConnectionPool, PoolTimeout

from relay.adapters import postgres_rows as rows
from relay.adapters import postgres_writes
from relay.adapters.postgres_migrations import migrate
from relay.adapters.postgres_rows import Conn
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
from relay.errors import DuplicateError, StoreBusy, StoreError, StoreUnavailable
from wire import ChatMessage, Comment, Event, LogEntry, Mention, Role, Thread

log = logging.getLogger("relay.store")

# Errors after which nothing was stored and the same call may simply be made again.
_BUSY = (psycopg.errors.LockNotAvailable, psycopg.errors.QueryCanceled,
         psycopg.errors.DeadlockDetected, psycopg.errors.SerializationFailure)
# The server went away under a call (shutdown, restart, a cut connection): like busy,
# nothing is known stored and the client sends it again.
_GONE = (psycopg.OperationalError, psycopg.InterfaceError)
_VISIBLE = "(audience IS NULL OR %(uid)s = ANY(audience))"


def _why(exc: BaseException) -> str:
    """A database error on one line (libpq's messages take several)."""
    return " ".join(str(exc).split())


class PostgresStore(Store):
    """The relay's durable state in one PostgreSQL database (``conninfo``: a libpq dsn)."""

    def __init__(self, conninfo: str, *, min_size: int = 1, max_size: int = 10,
                 busy_timeout: float = 2.0, statement_timeout: float = 30.0,
                 connect_timeout: float = 10.0) -> None:
        self.conninfo = conninfo
        self.min_size = min_size
        self.max_size = max_size
        self.busy_timeout = busy_timeout  # most seconds a call waits for a connection or lock
        self.statement_timeout = statement_timeout
        self.connect_timeout = connect_timeout
        self._pool: AsyncConnectionPool[Conn] | None = None

    # -- lifecycle

    async def open(self) -> None:
        """Connect and migrate (StoreError when the database cannot be reached), then fill
        the pool."""
        try:
            conn = await AsyncConnection.connect(
                self.conninfo, autocommit=True, connect_timeout=self._connect_timeout())
        except psycopg.Error as exc:
            raise StoreError(f"cannot connect to the database: {_why(exc)}") from exc
        try:
            await self._configure(conn)
            await migrate(conn)
        except psycopg.Error as exc:
            raise StoreError(f"cannot migrate the database: {_why(exc)}") from exc
        finally:
            await conn.close()
        pool: AsyncConnectionPool[Conn] = AsyncConnectionPool(
            self.conninfo, min_size=self.min_size, max_size=self.max_size, open=False,
            timeout=self.busy_timeout, name="relay-store", connection_class=Conn,
            kwargs={"autocommit": True, "row_factory": dict_row,
                    "connect_timeout": self._connect_timeout()},
            configure=self._configure, check=AsyncConnectionPool.check_connection,
            # A lost database is tried again with a growing delay; past this the pool gives
            # up and the next call starts afresh, so a restart is noticed within seconds.
            reconnect_timeout=max(5.0, self.connect_timeout),
        )
        try:
            await pool.open(wait=True, timeout=self.connect_timeout)
        except PoolTimeout as exc:
            await pool.close()
            raise StoreError(f"cannot connect to the database: {_why(exc)}") from exc
        self._pool = pool

    def _connect_timeout(self) -> int:
        return max(2, round(self.connect_timeout))  # libpq's least

    async def _configure(self, conn: AsyncConnection[Any]) -> None:
        await conn.execute("SET synchronous_commit = on")
        await conn.execute(f"SET lock_timeout = {max(1, round(self.busy_timeout * 1000))}")
        await conn.execute(
            f"SET statement_timeout = {max(1, round(self.statement_timeout * 1000))}")

    async def close(self) -> None:
        pool, self._pool = self._pool, None
        if pool is not None:
            await pool.close()

    @asynccontextmanager
    async def _connection(self) -> AsyncIterator[Conn]:
        """A pool connection; database errors mapped to relay.errors."""
        pool = self._pool
        if pool is None:
            raise StoreError("store is not open")
        try:
            async with pool.connection(timeout=self.busy_timeout) as conn:
                yield conn
        except PoolTimeout as exc:
            raise StoreBusy("no database connection within the wait") from exc
        except _BUSY as exc:
            raise StoreBusy(f"the database is busy: {_why(exc)}") from exc
        except psycopg.errors.UniqueViolation as exc:
            raise DuplicateError(f"duplicate row: {_why(exc)}") from exc
        except _GONE as exc:
            raise StoreUnavailable(f"the database is unavailable: {_why(exc)}") from exc
        except psycopg.Error as exc:
            raise StoreError(f"database call failed: {_why(exc)}") from exc

    async def probe(self, timeout: float = 0.2) -> str | None:
        """Why the store cannot be written now, or None: a write in a transaction that is
        rolled back. A database that answers but leaves no pool connection free within
        ``timeout``, or holds the lock past ``busy_timeout``, counts as writable (StoreBusy
        is raised); one that cannot be connected to is a problem."""
        pool = self._pool
        if pool is None:
            return "the store is not open"
        try:
            async with pool.connection(timeout=timeout) as conn, \
                    conn.transaction(force_rollback=True):
                await conn.execute(
                    "UPDATE schema_version SET applied_at = applied_at WHERE version = 1")
        except PoolTimeout as exc:
            problem = await self._unreachable(timeout)
            if problem is None:
                raise StoreBusy("no database connection within the wait") from exc
            return problem
        except _BUSY as exc:
            raise StoreBusy(f"the database is busy: {_why(exc)}") from exc
        except psycopg.Error as exc:
            return f"the database cannot be written: {_why(exc)}"
        return None

    async def _unreachable(self, timeout: float) -> str | None:
        """Why a new connection to the database fails, or None when it succeeds."""
        try:
            conn = await asyncio.wait_for(
                AsyncConnection.connect(self.conninfo, connect_timeout=2), max(timeout, 2.0))
        except (psycopg.Error, asyncio.TimeoutError) as exc:
            return f"the database cannot be reached: {_why(exc) or 'timed out'}"
        await conn.close()
        return None

    async def _one(self, sql: str, params: Any = None) -> dict[str, Any] | None:
        async with self._connection() as conn:
            cur = await conn.execute(sql, params)
            return await cur.fetchone()

    async def _all(self, sql: str, params: Any = None) -> list[dict[str, Any]]:
        async with self._connection() as conn:
            cur = await conn.execute(sql, params)
            return await cur.fetchall()

    # -- users

    async def create_user(self, user: UserRecord) -> None:
        try:
            async with self._connection() as conn:
                await conn.execute(
                    "INSERT INTO users (id, name, pw_hash, created_at) VALUES (%s, %s, %s, %s)",
                    [user.id, user.name, user.pw_hash, user.created_at])
        except DuplicateError as exc:
            raise DuplicateError(f"user {user.id} exists") from exc

    async def get_user(self, user_id: str) -> UserRecord | None:
        row = await self._one("SELECT id, name, pw_hash, created_at FROM users WHERE id = %s",
                              [user_id])
        return UserRecord(**row) if row else None

    # -- sessions and members

    async def create_session(self, session: SessionRecord, host: MemberRecord,
                             project: ProjectRecord | None = None) -> None:
        async with self._connection() as conn, conn.transaction():
            if project is not None:
                await rows.insert_project(conn, project)
            await conn.execute(
                "INSERT INTO sessions (id, name, host, repo, repo_key, created_at, last_seq,"
                " project_id) VALUES (%s, %s, %s, %s, %s, %s, 0, %s)",
                [session.id, session.name, session.host, rows.dump(session.repo),
                 session.repo_key, session.created_at, session.project_id])
            await rows.upsert_member(conn, host)

    async def get_session(self, session_id: str) -> SessionRecord | None:
        row = await self._one(
            "SELECT s.*, u.name AS host_name FROM sessions s LEFT JOIN users u ON u.id = s.host"
            " WHERE s.id = %s", [session_id])
        return rows.session(row) if row else None

    async def sessions_of(self, user_id: str) -> list[tuple[SessionRecord, Role]]:
        found = await self._all(
            "SELECT s.*, m.role AS member_role, u.name AS host_name FROM sessions s"
            " JOIN members m ON m.session_id = s.id LEFT JOIN users u ON u.id = s.host"
            " WHERE m.user_id = %s AND m.removed_at IS NULL ORDER BY s.created_at DESC",
            [user_id])
        return [(rows.session(row), row["member_role"]) for row in found]

    async def members(self, session_id: str) -> list[MemberRecord]:
        found = await self._all(
            "SELECT m.session_id, m.user_id, u.name, m.role, m.joined_at, m.removed_at"
            " FROM members m JOIN users u ON u.id = m.user_id WHERE m.session_id = %s"
            " ORDER BY m.joined_at, m.user_id", [session_id])
        return [MemberRecord(**row) for row in found]

    async def member(self, session_id: str, user_id: str) -> MemberRecord | None:
        row = await self._one(
            "SELECT m.session_id, m.user_id, u.name, m.role, m.joined_at, m.removed_at"
            " FROM members m JOIN users u ON u.id = m.user_id"
            " WHERE m.session_id = %s AND m.user_id = %s AND m.removed_at IS NULL",
            [session_id, user_id])
        return MemberRecord(**row) if row else None

    async def session_count(self) -> int:
        row = await self._one("SELECT count(*) AS n FROM sessions WHERE ended_at IS NULL")
        return int(row["n"]) if row else 0

    # -- projects

    async def get_project(self, project_id: str) -> ProjectRecord | None:
        row = await self._one(f"SELECT {rows.PROJECT} FROM projects WHERE id = %s",
                              [project_id])
        return ProjectRecord(**row) if row else None

    async def latest_project(self, owner: str, repo_key: str) -> ProjectRecord | None:
        row = await self._one(
            f"SELECT {rows.PROJECT} FROM projects WHERE owner = %s AND repo_key = %s"
            " ORDER BY created_at DESC, pos DESC LIMIT 1", [owner, repo_key])
        return ProjectRecord(**row) if row else None

    async def project_member(self, project_id: str, user_id: str) -> ProjectMemberRecord | None:
        row = await self._one(
            "SELECT project_id, user_id, granted_at, removed_at FROM project_members"
            " WHERE project_id = %s AND user_id = %s", [project_id, user_id])
        return ProjectMemberRecord(**row) if row else None

    # -- invites

    async def create_invite(self, record: InviteRecord) -> None:
        inv = record.invite
        async with self._connection() as conn:
            await conn.execute(
                "INSERT INTO invites (id, session_id, token, role, created_by, created_at,"
                " expires_at, revoked, uses, max_uses)"
                " VALUES (%s, %s, %s, %s, %s, %s, %s, FALSE, 0, %s)",
                [inv.invite_id, inv.session_id, inv.token, inv.role, record.created_by,
                 record.created_at, inv.expires_at, inv.max_uses])

    async def invite_by_token(self, token: str) -> InviteRecord | None:
        row = await self._one("SELECT * FROM invites WHERE token = %s", [token])
        return rows.invite(row) if row else None

    async def invites(self, session_id: str) -> list[InviteRecord]:
        found = await self._all(
            "SELECT * FROM invites WHERE session_id = %s ORDER BY created_at, id", [session_id])
        return [rows.invite(row) for row in found]

    async def revoke_invite(self, session_id: str, invite_id: str) -> bool:
        async with self._connection() as conn:
            cur = await conn.execute(
                "UPDATE invites SET revoked = TRUE WHERE id = %s AND session_id = %s",
                [invite_id, session_id])
            return cur.rowcount > 0

    async def use_invite(self, invite_id: str) -> bool:
        async with self._connection() as conn:
            cur = await conn.execute(
                "UPDATE invites SET uses = uses + 1 WHERE id = %s AND NOT revoked"
                " AND (max_uses IS NULL OR uses < max_uses)", [invite_id])
            return cur.rowcount > 0

    # -- durable changes

    async def action(self, client_id: str) -> ActionRecord | None:
        row = await self._one(
            "SELECT client_id, user_id, session_id, fingerprint, seq FROM actions"
            " WHERE client_id = %s", [client_id])
        return ActionRecord(**row) if row else None

    async def commit(self, write: Write) -> Event:
        async with self._connection() as conn:
            return await postgres_writes.commit(conn, write)

    async def events_after(
        self, session_id: str, after_seq: int, user_id: str, limit: int
    ) -> list[Event]:
        found = await self._all(
            f"SELECT data FROM events WHERE session_id = %(sid)s AND seq > %(after)s"
            f" AND {_VISIBLE} ORDER BY seq LIMIT %(limit)s",
            {"sid": session_id, "after": after_seq, "uid": user_id, "limit": limit})
        return [rows.load(r["data"], Event) for r in found]

    # -- entities

    async def chat(self, message_id: str) -> ChatMessage | None:
        row = await self._one("SELECT data FROM chat WHERE id = %s", [message_id])
        return rows.load(row["data"], ChatMessage) if row else None

    async def chat_page(
        self, session_id: str, user_id: str, before_seq: int | None, limit: int
    ) -> tuple[list[ChatMessage], bool]:
        before = before_seq if before_seq is not None else 2**62
        found = await self._all(
            f"SELECT data FROM chat WHERE session_id = %(sid)s AND seq < %(before)s"
            f" AND {_VISIBLE} ORDER BY seq DESC LIMIT %(limit)s",
            {"sid": session_id, "before": before, "uid": user_id, "limit": limit + 1})
        msgs = [rows.load(r["data"], ChatMessage) for r in found[:limit]]
        msgs.reverse()
        return msgs, len(found) > limit

    async def thread(self, thread_id: str) -> tuple[Thread, str] | None:
        async with self._connection() as conn:
            cur = await conn.execute("SELECT data, project_id FROM threads WHERE id = %s",
                                     [thread_id])
            row = await cur.fetchone()
            if row is None:
                return None
            threads = await rows.with_comments(conn, [(thread_id, row["data"])])
        return threads[0], row["project_id"] or ""

    async def comment(self, comment_id: str) -> Comment | None:
        row = await self._one("SELECT data FROM comments WHERE id = %s", [comment_id])
        return rows.load(row["data"], Comment) if row else None

    async def project_threads(self, project_id: str) -> list[Thread]:
        async with self._connection() as conn:
            cur = await conn.execute(
                "SELECT id, data FROM threads WHERE project_id = %s ORDER BY created_at, pos",
                [project_id])
            found = await cur.fetchall()
            return await rows.with_comments(conn, [(r["id"], r["data"]) for r in found])

    # -- mentions and log

    async def pending_mentions(self, session_id: str, user_id: str) -> list[Mention]:
        found = await self._all(
            "SELECT data FROM mentions WHERE user_id = %s AND session_id = %s"
            " AND NOT delivered ORDER BY seq, id", [user_id, session_id])
        return [rows.load(r["data"], Mention) for r in found]

    async def mark_mentions_delivered(self, session_id: str, user_id: str, upto_seq: int) -> None:
        async with self._connection() as conn:
            await conn.execute(
                "UPDATE mentions SET delivered = TRUE WHERE user_id = %s AND session_id = %s"
                " AND seq <= %s AND NOT delivered", [user_id, session_id, upto_seq])

    async def append_log(self, session_id: str, line: LogLine) -> None:
        async with self._connection() as conn:
            await conn.execute(rows.INSERT_LOG, rows.log_params(session_id, line))

    async def log(self, session_id: str, limit: int) -> list[LogEntry]:
        found = await self._all(
            "SELECT * FROM event_log WHERE session_id = %s ORDER BY id DESC LIMIT %s",
            [session_id, limit])
        found.reverse()
        return [LogEntry(seq=int(r["id"]), kind=r["kind"], actor=r["actor"], at=r["at"],
                         subject=r["subject"], detail=r["detail"]) for r in found]

