"""Blocking store calls off the event loop: one store thread, calls in order, bounded waits.

``@off_loop`` on a store class (with ``OffLoop`` among its bases) makes every public
``async def`` run on the store's one thread. Those methods never suspend (their
database calls block), so the thread runs each coroutine to completion; a method
called from the store thread itself runs inline. Each call may wait at most
``busy_timeout`` seconds from the moment it was made, queueing included: what is left
of it is handed to the store (``_wait_at_most``, e.g. SQLite's busy timeout), and a
call that finds none left, or a database still locked, raises StoreBusy.
"""

from __future__ import annotations

import asyncio
import functools
import inspect
import os
import sqlite3
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

from relay.errors import StoreBusy, StoreError

C = TypeVar("C", bound=type)
_NOT_THREADED = frozenset({"open", "close", "probe"})


class OffLoop:
    """The store thread of a store."""

    def __init__(self, busy_timeout: float) -> None:
        self.busy_timeout = busy_timeout  # most seconds a call waits, queueing included
        self._thread: threading.Thread | None = None
        self._executor = ThreadPoolExecutor(1, "relay-store", initializer=self._mark_thread)

    def _mark_thread(self) -> None:
        self._thread = threading.current_thread()

    def _wait_at_most(self, seconds: float) -> None:
        """Let the next database call wait at most ``seconds`` for a lock."""

    async def _submit(self, fn: Callable[..., Any], *args: Any) -> Any:
        """Run a plain function on the store thread (no deadline)."""
        return await asyncio.wrap_future(self._executor.submit(fn, *args))

    def _stop_thread(self) -> None:
        self._executor.shutdown(wait=False)

    def _in_thread(self, deadline: float, fn: Callable[..., Any], args: tuple[Any, ...],
                   kwargs: dict[str, Any]) -> Any:
        """Run one store call on the store thread, within what is left of its wait."""
        left = deadline - time.monotonic()
        if left <= 0:
            raise StoreBusy("the database is busy: the call waited too long in line")
        self._wait_at_most(left)
        try:
            return _complete(fn(self, *args, **kwargs))
        except (sqlite3.Error, StoreError) as exc:
            if not isinstance(exc, StoreBusy) and is_busy(exc):
                raise StoreBusy("the database is locked by another writer") from exc
            raise


def off_loop(cls: C) -> C:
    """Run every public async method of an OffLoop store on its store thread."""
    for name, fn in list(vars(cls).items()):
        if name.startswith("_") or name in _NOT_THREADED or not inspect.iscoroutinefunction(fn):
            continue
        setattr(cls, name, _threaded(fn))
    return cls


def _threaded(fn: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(fn)
    async def run(self: OffLoop, *args: Any, **kwargs: Any) -> Any:
        if threading.current_thread() is self._thread:
            return _complete(fn(self, *args, **kwargs))
        deadline = time.monotonic() + self.busy_timeout
        return await asyncio.wrap_future(
            self._executor.submit(self._in_thread, deadline, fn, args, kwargs))
    return run


def _complete(coro: Any) -> Any:
    try:
        coro.send(None)
    except StopIteration as done:
        return done.value
    coro.close()
    raise RuntimeError("a store method suspended: store methods must not await")


def is_busy(exc: BaseException | None) -> bool:
    """True when ``exc`` (or an exception it was raised from) is SQLite's busy/locked."""
    while exc is not None:
        if isinstance(exc, sqlite3.OperationalError) and (
                getattr(exc, "sqlite_errorname", "") in ("SQLITE_BUSY", "SQLITE_LOCKED")
                or "locked" in str(exc)):
            return True
        exc = exc.__cause__
    return False


def write_problem(conn: sqlite3.Connection, folder: Path | None) -> str | None:
    """Why the store cannot be written now, or None: a write in a transaction that is
    rolled back, then a file created, synced and removed in ``folder``. A database
    locked by another writer raises StoreBusy (it is writable, just not now)."""
    try:
        conn.execute("BEGIN IMMEDIATE")
        try:
            conn.execute("UPDATE schema_migrations SET applied_at = applied_at WHERE version = 1")
        finally:
            conn.execute("ROLLBACK")
    except sqlite3.Error as exc:
        if is_busy(exc):
            raise StoreBusy("the database is locked by another writer") from exc
        return f"the database cannot be written: {exc}"
    if folder is not None:
        probe = folder / ".write-probe"
        try:
            fd = os.open(probe, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            try:
                os.write(fd, b"ok")
                os.fsync(fd)
            finally:
                os.close(fd)
            os.unlink(probe)
        except OSError as exc:
            return f"the data folder cannot be written: {exc.strerror or exc}"
    return None
