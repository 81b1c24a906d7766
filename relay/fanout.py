"""Fan-out: who in a session receives a frame. In-process now; Redis pub/sub later.

The interface is two calls: ``publish`` (a frame serialized once, for durable
events and control frames) and ``publish_presence`` (one peer's ephemeral
entry, latest value wins). A multi-process implementation publishes both to a
channel per session and runs the same local delivery on each relay.

Presence entries arrive as fields already encoded to JSON text (relay.core.wirejson),
so an update is encoded once, whatever the number of receivers.

Local presence delivery:
- updates arriving in one event-loop iteration are gathered per session and
  flushed together with ``loop.call_soon``: several peers in one frame under load;
- while the relay is busy (its CPU over BUSY of a core), flushes are at least
  ``window`` seconds apart, so more peers share a frame and the relay writes fewer
  frames; below IDLE it goes back to flushing every loop turn (lowest latency);
- each batch is serialized once; receivers whose own entry is in the batch get a
  variant without it (no echo), cached per excluded user;
- a receiver whose socket is busy keeps a latest-per-peer dict instead, sent when
  the socket drains (bounded by the number of peers, never a queue).
"""

from __future__ import annotations

import asyncio
import time
from abc import ABC, abstractmethod
from collections.abc import Iterable

from relay.core import wirejson
from relay.core.client import Client
from relay.metrics import Metrics

BUSY = 0.75  # relay CPU (share of a core) at which flushes start to be spaced out
IDLE = 0.45  # and below which they go back to every loop turn
SAMPLE = 0.25  # seconds between CPU samples


class Fanout(ABC):
    @abstractmethod
    def attach(self, session_id: str, client: Client) -> None: ...

    @abstractmethod
    def detach(self, session_id: str, client: Client) -> None: ...

    @abstractmethod
    def clients(self, session_id: str) -> Iterable[Client]: ...

    @abstractmethod
    def publish(
        self,
        session_id: str,
        data: bytes,
        kind: str,
        *,
        only: frozenset[str] | None = None,
        exclude_user: str | None = None,
    ) -> None:
        """Send one encoded frame to the session's clients (optionally a subset of users)."""

    @abstractmethod
    def publish_presence(self, session_id: str, user_id: str, fields: dict[str, str]) -> None:
        """Announce one peer's ephemeral state (field -> JSON text); fields merge into
        the latest value."""

    @abstractmethod
    def flush(self) -> None:
        """Deliver presence gathered so far (also runs by itself on the next loop turn)."""


class LocalFanout(Fanout):
    def __init__(self, metrics: Metrics, window: float = 0.004) -> None:
        self.metrics = metrics
        self.window = window  # least time between flushes while busy; 0 turns spacing off
        self.spacing = 0.0  # the current least time between flushes
        self._subs: dict[str, set[Client]] = {}
        self._batches: dict[str, dict[str, dict[str, str]]] = {}
        self._first_at = 0.0
        self._last_flush = 0.0
        self._scheduled: asyncio.Handle | None = None  # the pending flush
        self._sampling = False
        self._cpu = (0.0, 0.0)
        metrics.gauges["presence_flush_spacing_seconds"] = lambda: self.spacing

    def attach(self, session_id: str, client: Client) -> None:
        self._subs.setdefault(session_id, set()).add(client)

    def detach(self, session_id: str, client: Client) -> None:
        subs = self._subs.get(session_id)
        if subs is not None:
            subs.discard(client)
            if not subs:
                del self._subs[session_id]

    def clients(self, session_id: str) -> Iterable[Client]:
        return self._subs.get(session_id, ())

    def publish(
        self,
        session_id: str,
        data: bytes,
        kind: str,
        *,
        only: frozenset[str] | None = None,
        exclude_user: str | None = None,
    ) -> None:
        for client in tuple(self._subs.get(session_id, ())):
            uid = client.user.id
            if only is not None and uid not in only:
                continue
            if uid == exclude_user:
                continue
            client.write(data, kind)

    def publish_presence(self, session_id: str, user_id: str, fields: dict[str, str]) -> None:
        batch = self._batches.get(session_id)
        if batch is None:
            batch = self._batches[session_id] = {}
        old = batch.get(user_id)
        if old is None:
            batch[user_id] = fields
        else:
            old.update(fields)
            self.metrics.presence_coalesced += 1
        if self._scheduled is None:
            self._schedule()

    def _schedule(self) -> None:
        now = self._first_at = time.monotonic()
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # no loop: the caller flushes
            return
        wait = self._last_flush + self.spacing - now
        self._scheduled = (loop.call_later(wait, self.flush) if wait > 0
                           else loop.call_soon(self.flush))
        if not self._sampling and self.window > 0:
            self._sampling = True
            self._cpu = (now, time.process_time())
            loop.call_later(SAMPLE, self._sample, loop)

    def _sample(self, loop: asyncio.AbstractEventLoop) -> None:
        """Space flushes out while the relay is busy, flush every turn when it is not."""
        now, cpu = time.monotonic(), time.process_time()
        then, cpu_then = self._cpu
        self._cpu = (now, cpu)
        self.adjust((cpu - cpu_then) / max(now - then, 1e-3))
        if self._subs or self.spacing:
            loop.call_later(SAMPLE, self._sample, loop)
        else:
            self._sampling = False

    def adjust(self, busy: float) -> None:
        """Set the flush spacing from the relay's CPU use (share of one core)."""
        if busy >= BUSY:
            self.spacing = self.window
        elif busy < IDLE:
            self.spacing = 0.0

    def flush(self) -> None:
        if self._scheduled is not None:
            self._scheduled.cancel()  # no-op when it is this very call
            self._scheduled = None
        batches, self._batches = self._batches, {}
        if not batches:
            return
        self._last_flush = time.monotonic()
        for sid, batch in batches.items():
            subs = self._subs.get(sid)
            if subs:
                self._deliver(sid, batch, subs)
        self.metrics.fanout_latency.observe(time.monotonic() - self._first_at)

    def _deliver(self, sid: str, batch: dict[str, dict[str, str]], subs: set[Client]) -> None:
        head = wirejson.presence_head(sid)
        parts = {uid: wirejson.peer(f) for uid, f in batch.items()}
        full: bytes | None = None
        variants: dict[str, bytes | None] = {}
        sent = 0
        for client in tuple(subs):
            uid = client.user.id
            if uid in parts:
                if uid not in variants:
                    rest = [p for u, p in parts.items() if u != uid]
                    variants[uid] = wirejson.presence_frame(sid, rest, head) if rest else None
                data = variants[uid]
                if data is None:
                    continue
            else:
                if full is None:
                    full = wirejson.presence_frame(sid, parts.values(), head)
                data = full
            if not client.pending and not client.closed and client.transport.write_now(data):
                sent += 1
            elif client.offer_presence(sid, batch):
                self.metrics.presence_coalesced += 1
            else:
                client.write(data, "presence")
        if sent:
            self.metrics.messages_out["presence"] += sent
