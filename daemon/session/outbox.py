"""The durable outbox: actions the relay has not acked yet, in SQLite.

Every durable action (chat, edit, delete, reaction, thread, reply, resolve)
is committed here before it is sent. It stays until the relay acks its id or
refuses it for good, so it survives a lost connection, a relay restart and a
daemon restart. The same file keeps the few facts needed to resume after a
restart (current session, last seq).
"""

from __future__ import annotations

import json
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path

from wire import CLIENT_MESSAGES, DURABLE_TYPES, Message, as_dict
from wire.schema import structure

_SCHEMA = """
CREATE TABLE IF NOT EXISTS outbox (
    n INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    session_id TEXT NOT NULL,
    type TEXT NOT NULL,
    method TEXT,
    frame TEXT NOT NULL,
    created_at REAL NOT NULL,
    owner TEXT
);
CREATE TABLE IF NOT EXISTS state (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
"""


OWNER = "owner"


class OutboxError(Exception):
    """the outbox file cannot be opened or written."""


@dataclass(slots=True, frozen=True)
class Entry:
    id: str
    session_id: str
    method: str | None
    message: Message


class Outbox:
    """A FIFO of durable wire messages keyed by their ``id``."""

    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(str(path), isolation_level=None, check_same_thread=False)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=FULL")
            self._db.executescript(_SCHEMA)
        except (OSError, sqlite3.Error) as exc:
            raise OutboxError(f"cannot open outbox {path}: {exc}") from exc
        self.owner: str | None = self.get_state(OWNER)

    def add(self, msg: Message, method: str | None = None) -> Entry:
        """Commit ``msg`` (a durable message with ``id`` and ``session_id``)."""
        if msg.TYPE not in DURABLE_TYPES:
            raise OutboxError(f"{msg.TYPE} is not a durable message")
        data = as_dict(msg)
        data.pop("rid", None)
        entry = Entry(id=data["id"], session_id=data["session_id"], method=method, message=msg)
        try:
            with self._db:
                self._db.execute("BEGIN IMMEDIATE")
                self._db.execute(
                    "INSERT OR IGNORE INTO outbox"
                    " (id, session_id, type, method, frame, created_at, owner)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?)",
                    (
                        entry.id,
                        entry.session_id,
                        msg.TYPE,
                        method,
                        json.dumps(data, ensure_ascii=False),
                        time.time(),
                        self.owner,
                    ),
                )
        except sqlite3.Error as exc:
            raise OutboxError(f"cannot write outbox: {exc}") from exc
        return entry

    def remove(self, msg_id: str) -> Entry | None:
        """Drop an entry (acked or refused for good); return it when it was there."""
        entry = self.get(msg_id)
        if entry is not None:
            with self._db:
                self._db.execute("BEGIN IMMEDIATE")
                self._db.execute("DELETE FROM outbox WHERE id = ?", (msg_id,))
        return entry

    def get(self, msg_id: str) -> Entry | None:
        row = self._db.execute(
            "SELECT id, session_id, method, type, frame FROM outbox WHERE id = ?", (msg_id,)
        ).fetchone()
        return None if row is None else _entry(row)

    def _mine(self) -> tuple[str, tuple[str, ...]]:
        if self.owner is None:
            return "owner IS NULL", ()
        return "(owner IS NULL OR owner = ?)", (self.owner,)

    def pending(self, session_id: str | None = None) -> list[Entry]:
        """The owner's entries in the order they were written (optionally of one session)."""
        where, args = self._mine()
        sql = "SELECT id, session_id, method, type, frame FROM outbox WHERE " + where
        if session_id is not None:
            sql += " AND session_id = ?"
            args = (*args, session_id)
        return [_entry(r) for r in self._db.execute(sql + " ORDER BY n", args)]

    def count(self) -> int:
        """How many of the owner's actions are not acked yet."""
        where, args = self._mine()
        row = self._db.execute("SELECT count(*) FROM outbox WHERE " + where, args).fetchone()
        return int(row[0])

    def set_owner(self, user_id: str) -> None:
        """The signed-in user. Entries written by another user stay in the file, untouched
        and unsent, until that user signs in here again; earlier ownerless ones become theirs."""
        if user_id == self.owner:
            return
        with self._db:
            self._db.execute("BEGIN IMMEDIATE")
            if self.owner is None:
                self._db.execute("UPDATE outbox SET owner = ? WHERE owner IS NULL", (user_id,))
            self._db.execute(
                "INSERT INTO state (key, value) VALUES (?, ?)"
                " ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                (OWNER, user_id),
            )
        self.owner = user_id

    def _key(self, key: str) -> str:
        return key if self.owner is None else f"{self.owner}:{key}"

    def get_state(self, key: str) -> str | None:
        """A resume fact (current session, last seq) of the owner."""
        full = key if key == OWNER else self._key(key)
        row = self._db.execute("SELECT value FROM state WHERE key = ?", (full,)).fetchone()
        return None if row is None else str(row[0])

    def set_state(self, key: str, value: str | None) -> None:
        key = self._key(key)
        with self._db:
            self._db.execute("BEGIN IMMEDIATE")
            if value is None:
                self._db.execute("DELETE FROM state WHERE key = ?", (key,))
            else:
                self._db.execute(
                    "INSERT INTO state (key, value) VALUES (?, ?)"
                    " ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                    (key, value),
                )

    def close(self) -> None:
        self._db.close()


def _entry(row: tuple[str, str, str | None, str, str]) -> Entry:
    msg_id, session_id, method, kind, frame = row
    msg = structure(json.loads(frame), CLIENT_MESSAGES[kind])
    return Entry(id=msg_id, session_id=session_id, method=method, message=msg)
