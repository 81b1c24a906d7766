"""Traffic discipline for ephemeral state: throttle, coalesce, skip repeats.

Each kind of state (cursor, viewport, focus, status) goes out at most once per
``interval``. An update inside the interval replaces the pending one and is
sent at the interval's end (trailing edge), so the latest value always goes
out and nothing queues without bound. A value equal to the last one sent is
not sent again.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Hashable
from typing import Any

from wire import Message

Sender = Callable[[Message], Awaitable[bool]]


class Coalescer:
    """Per-key throttled, coalesced sender of latest-value-wins messages."""

    def __init__(self, interval: float, send: Sender) -> None:
        self.interval = interval
        self._send = send
        self._pending: dict[str, tuple[Message, Hashable]] = {}
        self._last_fp: dict[str, Hashable] = {}
        self._last_time: dict[str, float] = {}
        self._timers: dict[str, asyncio.Task[None]] = {}
        self.sent = 0

    def put(self, key: str, msg: Message, fingerprint: Hashable) -> None:
        """Offer the latest value of ``key``; it goes out now or at the interval's end."""
        if key not in self._pending and self._last_fp.get(key) == fingerprint:
            return
        self._pending[key] = (msg, fingerprint)
        if key in self._timers:
            return
        wait = self._last_time.get(key, -1e9) + self.interval - time.monotonic()
        self._timers[key] = asyncio.ensure_future(self._flush(key, max(0.0, wait)))

    async def _flush(self, key: str, wait: float) -> None:
        try:
            if wait > 0:
                await asyncio.sleep(wait)
            item = self._pending.pop(key, None)
            if item is None:
                return
            msg, fp = item
            if self._last_fp.get(key) == fp:
                return
            self._last_time[key] = time.monotonic()
            if await self._send(msg):
                self._last_fp[key] = fp
                self.sent += 1
        finally:
            self._timers.pop(key, None)
            if key in self._pending:  # arrived while sending
                wait = self._last_time.get(key, -1e9) + self.interval - time.monotonic()
                self._timers[key] = asyncio.ensure_future(self._flush(key, max(0.0, wait)))

    def forget(self) -> None:
        """Forget what was sent (after a reconnect everything must go out again)."""
        self._last_fp.clear()

    def last(self, key: str) -> Any:
        return self._last_fp.get(key)

    def cancel(self) -> None:
        for task in self._timers.values():
            task.cancel()
        self._timers.clear()
        self._pending.clear()


class Debouncer:
    """Run ``action`` at most once per ``interval`` (trailing edge)."""

    def __init__(self, interval: float, action: Callable[[], None]) -> None:
        self.interval = interval
        self._action = action
        self._last = -1e9
        self._timer: asyncio.TimerHandle | None = None

    def __call__(self) -> None:
        if self._timer is not None:
            return
        loop = asyncio.get_running_loop()
        wait = max(0.0, self._last + self.interval - time.monotonic())
        self._timer = loop.call_later(wait, self._fire)

    def _fire(self) -> None:
        self._timer = None
        self._last = time.monotonic()
        self._action()

    def cancel(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
