"""One session's event order on one process: the Redis SessionBus delivers each session's
events in seq order, each seq once.

Events reach a process from its own commits and from the session's channel, in any
order. One that comes after a gap is held; if the missing ones do not come within
``gap_wait`` seconds, the bus is asked for a fill (``ask_fill``), and ``fill`` has the
listener send what is missing from the store (``BusListener.on_gap``).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from relay.core.ports import BusListener
from wire import Event

log = logging.getLogger("relay.bus")


class SessionOrder:
    __slots__ = ("ask_fill", "gap_wait", "last", "lock", "pending", "session_id", "timer")

    def __init__(self, session_id: str, gap_wait: float,
                 ask_fill: Callable[[str], None]) -> None:
        self.session_id = session_id
        self.gap_wait = gap_wait
        self.ask_fill = ask_fill
        self.last: int | None = None  # highest seq delivered (None: not known yet)
        self.pending: dict[int, tuple[Event, frozenset[str] | None]] = {}
        self.lock = asyncio.Lock()
        self.timer: asyncio.TimerHandle | None = None

    def position(self, seq: int) -> None:
        """The store's last seq when the session was loaded: events up to it are known."""
        if self.last is None or seq > self.last:
            self.last = seq
            for s in [s for s in self.pending if s <= seq]:
                del self.pending[s]

    def behind(self, seq: int) -> bool:
        """Whether ``seq`` was published and not delivered here."""
        return self.last is not None and seq > self.last

    def close(self) -> None:
        if self.timer is not None:
            self.timer.cancel()

    async def accept(self, event: Event, audience: frozenset[str] | None,
                     listener: BusListener) -> None:
        """Deliver in seq order, each seq once; hold what comes after a gap."""
        async with self.lock:
            seq = event.seq
            if self.last is not None and seq <= self.last:
                return
            if self.last is not None and seq > self.last + 1:
                self.pending[seq] = (event, audience)
                if self.timer is None:
                    self.timer = asyncio.get_running_loop().call_later(
                        self.gap_wait, self._gap_timeout)
                return
            self.last = seq
            await listener.on_event(self.session_id, event, audience)
            await self._drain(listener)

    async def _drain(self, listener: BusListener) -> None:
        while self.last is not None and self.last + 1 in self.pending:
            event, audience = self.pending.pop(self.last + 1)
            self.last = event.seq
            await listener.on_event(self.session_id, event, audience)
        if not self.pending and self.timer is not None:
            self.timer.cancel()
            self.timer = None

    def _gap_timeout(self) -> None:
        self.timer = None
        self.ask_fill(self.session_id)

    async def fill(self, listener: BusListener) -> None:
        """Ask the listener to send what this process missed, from the store."""
        async with self.lock:
            after = self.last if self.last is not None else 0
            try:
                upto = await listener.on_gap(self.session_id, after)
            except Exception as exc:  # the store is down: the next check tries again
                log.warning("gap fill failed",
                            extra={"session": self.session_id, "error": str(exc)})
                return
            self.last = max(after, upto)
            for s in [s for s in self.pending if s <= self.last]:
                del self.pending[s]
            if self.pending and min(self.pending) != self.last + 1:
                self.last = min(self.pending) - 1  # committed after the fill read
            await self._drain(listener)
