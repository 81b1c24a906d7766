"""Our own presence: status (manual and automatic idle/away), heartbeats, and the
throttled sender of cursor, viewport, focus and status updates."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable, Hashable
from typing import TYPE_CHECKING

from daemon import trace
from daemon.config import Config
from daemon.session.traffic import Coalescer
from wire import CursorUpdate, Heartbeat, Message, Status, StatusSet

if TYPE_CHECKING:
    from daemon.session.connection import RelayConnection


class Presence:
    """What the relay knows of us besides durable actions."""

    def __init__(self, config: Config, conn: Callable[[], RelayConnection | None],
                 session_id: Callable[[], str | None]) -> None:
        self.config = config
        self._conn = conn
        self._session_id = session_id
        self.status: Status = "active"
        self.manual = False
        self.last_activity = time.monotonic()
        self.coalescer = Coalescer(1.0 / config.cursor_rate, self._send)
        self.sent_frames = 0
        self._heartbeat: asyncio.Task[None] | None = None
        self._idle: asyncio.Task[None] | None = None
        # told of every change of our own status, manual or automatic
        self.on_status: Callable[[Status], None] | None = None
        # offers the last local cursor, viewport and focus again (set by daemon.lsp.actions)
        self.replay: Callable[[], None] | None = None

    async def _send(self, msg: Message) -> bool:
        conn = self._conn()
        if conn is None or not conn.online:
            return False
        ok = await conn.send(msg)
        if ok:
            self.sent_frames += 1
            if trace.ENABLED and isinstance(msg, CursorUpdate) and msg.selections:
                trace.cursor("daemon-out", msg.selections[0].active.line)
        return ok

    def put(self, key: str, msg: Message, fingerprint: Hashable) -> None:
        """Offer the latest ``key`` state (cursor, viewport, focus, status)."""
        self.coalescer.put(key, msg, fingerprint)

    def resend(self) -> None:
        """After (re)joining: the relay knows nothing of us, send our whole presence again
        (status, then the last local cursor and selections, viewport and focused file), so
        peers see where we are without us moving."""
        self.coalescer.cancel()
        self.coalescer.forget()
        sid = self._session_id()
        if sid is None:
            return
        self.put("status", StatusSet(session_id=sid, status=self.status), self.status)
        if self.replay is not None:
            self.replay()

    def set_status(self, status: Status, *, manual: bool) -> None:
        self.manual = manual and status != "active"
        if status == self.status:
            return
        self.status = status
        sid = self._session_id()
        if sid is not None:
            self.put("status", StatusSet(session_id=sid, status=status), status)
        if self.on_status is not None:
            self.on_status(status)

    def touch(self) -> None:
        """The user did something: back to active unless a manual status holds."""
        self.last_activity = time.monotonic()
        if self.status != "active" and not self.manual:
            self.set_status("active", manual=False)

    def start(self) -> None:
        self._idle = asyncio.ensure_future(self._idle_loop())

    async def _idle_loop(self) -> None:
        cfg = self.config
        while True:
            idle_for = time.monotonic() - self.last_activity
            if not self.manual:
                want: Status = "active"
                if idle_for >= cfg.away_after:
                    want = "away"
                elif idle_for >= cfg.idle_after:
                    want = "idle"
                if want != "active" and want != self.status:
                    self.set_status(want, manual=False)
            if idle_for < cfg.idle_after:
                wait = cfg.idle_after - idle_for
            elif idle_for < cfg.away_after:
                wait = cfg.away_after - idle_for
            else:
                wait = max(cfg.idle_after, 1.0)
            await asyncio.sleep(min(max(wait, 0.05), 30.0))

    def start_heartbeat(self, presence_timeout: float) -> None:
        """Heartbeats every third of the relay's presence timeout (at most 20 s)."""
        self.stop_heartbeat()
        interval = max(0.5, min(presence_timeout / 3.0, 20.0))
        self._heartbeat = asyncio.ensure_future(self._heartbeat_loop(interval))

    async def _heartbeat_loop(self, interval: float) -> None:
        while True:
            await asyncio.sleep(interval)
            conn = self._conn()
            if conn is not None and conn.online:
                await conn.send(Heartbeat(), paced=False)

    def stop_heartbeat(self) -> None:
        if self._heartbeat is not None:
            self._heartbeat.cancel()
            self._heartbeat = None

    def cancel_pending(self) -> None:
        self.coalescer.cancel()

    async def close(self) -> None:
        self.stop_heartbeat()
        self.coalescer.cancel()
        if self._idle is not None:
            self._idle.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._idle
