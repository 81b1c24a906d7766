"""How frames reach the relay: the current connection, the outbox and background tasks.

A durable action is committed to the outbox before anything is sent
(``queue``); it goes out at once only when the current session is joined on the
current connection, otherwise the flush after the next join sends it. The same
id goes out again after every reconnect until the relay acks it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from pathlib import Path
from typing import Any

from daemon.errors import NotSignedIn, Offline
from daemon.session.connection import RelayConnection
from daemon.session.editor import Editor
from daemon.session.outbox import Outbox
from daemon.session.state import RelayState
from wire import Message

log = logging.getLogger(__name__)


def new_id() -> str:
    """A fresh client-made id for a durable action."""
    return uuid.uuid4().hex


class RelayLink:
    """The connection, the outbox and the tasks of one daemon."""

    def __init__(self, state: RelayState, editor: Editor) -> None:
        self.state = state
        self.editor = editor
        self.conn: RelayConnection | None = None
        self._conn_task: asyncio.Task[None] | None = None
        self.outbox: Outbox | None = None
        self._tasks: set[asyncio.Task[Any]] = set()

    # ----- connection ------------------------------------------------------------------

    def attach(self, conn: RelayConnection) -> None:
        """Make ``conn`` the current connection and run it in the background."""
        self.conn = conn
        self._conn_task = self.spawn(conn.run())

    async def detach(self) -> None:
        """Stop the current connection, if any."""
        conn, task = self.conn, self._conn_task
        self.conn = None
        self._conn_task = None
        if conn is not None:
            await conn.stop()
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task

    def require_online(self) -> RelayConnection:
        if not self.state.token:
            raise NotSignedIn("sign in first")
        if self.conn is None or not self.conn.online:
            raise Offline("the relay is not reachable; try again when online")
        return self.conn

    # ----- tasks ---------------------------------------------------------------------

    def spawn(self, coro: Any) -> asyncio.Task[Any]:
        task: asyncio.Task[Any] = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._task_done)
        return task

    def _task_done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            exc = task.exception()
            log.error("background task failed: %r", exc, exc_info=exc)

    def close(self) -> None:
        """Cancel the background tasks and close the outbox (it keeps what was not acked)."""
        for task in list(self._tasks):
            task.cancel()
        self.close_outbox()

    # ----- outbox --------------------------------------------------------------------

    def open_outbox(self, path: Path) -> Outbox:
        self.outbox = Outbox(path)
        return self.outbox

    def close_outbox(self) -> None:
        if self.outbox is not None:
            self.outbox.close()
            self.outbox = None

    def pending(self) -> int:
        return self.outbox.count() if self.outbox is not None else 0

    def notify_outbox(self) -> None:
        self.editor.outbox_changed(self.pending())

    def queue(self, msg: Message, method: str) -> str:
        """Commit a durable action to the outbox, then send it when possible."""
        assert self.outbox is not None
        entry = self.outbox.add(msg, method)
        self.notify_outbox()
        conn = self.conn
        if conn is not None and conn.online and self.state.joined == (conn, entry.session_id):
            self.spawn(conn.send(msg))
        return entry.id

    async def flush(self) -> None:
        """Send every pending action of the current session, oldest first."""
        conn, m = self.conn, self.state.mirror
        if conn is None or m is None or self.outbox is None:
            return
        for entry in self.outbox.pending(m.session_id):
            if not await conn.send(entry.message):
                return

    async def drain(self, timeout: float = 5.0) -> None:
        """Before leaving the current session: give its pending actions a chance to be acked.

        What is still pending after ``timeout`` stays in the outbox and goes out when the
        session is joined again.
        """
        m, box = self.state.mirror, self.outbox
        if m is None or box is None or not box.pending(m.session_id):
            return
        await self.flush()
        deadline = time.monotonic() + timeout
        while box.pending(m.session_id) and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
