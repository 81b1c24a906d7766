"""Fan-out: who in a session receives a frame. In-process now; Redis pub/sub later.

The interface is two calls: ``publish`` (a frame serialized once, for durable
events and control frames) and ``publish_presence`` (one peer's ephemeral
entry, latest value wins). A multi-process implementation publishes both to a
channel per session and runs the same local delivery on each relay.

Local presence delivery:
- updates arriving in one event-loop iteration are gathered per session and
  flushed together with ``loop.call_soon``: several peers in one frame under load;
- each batch is serialized once; receivers whose own entry is in the batch get a
  variant without it (no echo), cached per excluded user;
- a receiver whose socket is busy keeps a latest-per-peer dict instead, sent when
  the socket drains (bounded by the number of peers, never a queue).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from abc import ABC, abstractmethod
from collections.abc import Iterable
from typing import Any

from relay.core.client import Client
from relay.metrics import Metrics

_HEAD = '{"type":"presence","session_id":'


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
    def publish_presence(self, session_id: str, user_id: str, entry: dict[str, Any]) -> None:
        """Announce one peer's ephemeral state; fields merge into the latest value."""

    @abstractmethod
    def flush(self) -> None:
        """Deliver presence gathered so far (also runs by itself on the next loop turn)."""


class LocalFanout(Fanout):
    def __init__(self, metrics: Metrics) -> None:
        self.metrics = metrics
        self._subs: dict[str, set[Client]] = {}
        self._batches: dict[str, dict[str, dict[str, Any]]] = {}
        self._first_at: float = 0.0
        self._scheduled = False

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

    def publish_presence(self, session_id: str, user_id: str, entry: dict[str, Any]) -> None:
        batch = self._batches.get(session_id)
        if batch is None:
            batch = self._batches[session_id] = {}
        old = batch.get(user_id)
        if old is None:
            batch[user_id] = entry
        else:
            old.update(entry)
            self.metrics.presence_coalesced += 1
        if not self._scheduled:
            self._scheduled = True
            self._first_at = time.perf_counter()
            with contextlib.suppress(RuntimeError):  # no loop: the caller flushes
                asyncio.get_running_loop().call_soon(self.flush)

    def flush(self) -> None:
        self._scheduled = False
        batches, self._batches = self._batches, {}
        first_at = self._first_at
        for sid, batch in batches.items():
            subs = self._subs.get(sid)
            if subs:
                self._deliver(sid, batch, subs)
        if batches:
            self.metrics.fanout_latency.observe(time.perf_counter() - first_at)

    def _deliver(self, sid: str, batch: dict[str, dict[str, Any]], subs: set[Client]) -> None:
        head = _HEAD + json.dumps(sid) + ',"peers":['
        parts = {uid: json.dumps(e, separators=(",", ":"), ensure_ascii=False)
                 for uid, e in batch.items()}
        full: bytes | None = None
        variants: dict[str, bytes | None] = {}
        for client in tuple(subs):
            uid = client.user.id
            if (client.pending or client.transport.busy()) and client.offer_presence(sid, batch):
                self.metrics.presence_coalesced += 1
                continue
            if uid in parts:
                if uid not in variants:
                    rest = [p for u, p in parts.items() if u != uid]
                    variants[uid] = (head + ",".join(rest) + "]}").encode() if rest else None
                data = variants[uid]
                if data is None:
                    continue
            else:
                if full is None:
                    full = (head + ",".join(parts.values()) + "]}").encode()
                data = full
            client.write(data, "presence")
