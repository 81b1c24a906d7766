"""Local delivery: this process's clients of each session, and how frames reach them.

Whatever bus carries the traffic between relay processes (relay.core.ports.SessionBus),
each process delivers to its own clients here: ``publish`` (a frame serialized once,
for durable events and control frames) and ``publish_presence`` (one peer's ephemeral
entry, latest value wins). Which clients are attached to which session is this
process's own state, never shared.

Presence entries arrive as fields already encoded to JSON text (relay.core.wirejson),
so an update is encoded once, whatever the number of receivers.

Presence delivery:
- an update is flushed on the next event-loop turn (``loop.call_soon``): a frame
  carries the updates read in one pass of the loop, which is one peer per frame
  while the relay keeps up and more as soon as it falls behind (the pass grows);
- the relay is *behind* when the oldest update a flush sends may have waited more
  than BEHIND in the relay, less any deliberate wait: since it was read, or, when
  the loop went straight from the previous flush to reading this batch, since that
  flush began (what arrived during a flush waits unread in its socket until the
  flush ends). Then, for HOLD seconds after the last such flush (doubled, up to
  HOLD_MAX, each time it falls behind again soon after), flushes are at least
  ``window`` seconds apart, so more peers share a frame and the relay writes fewer
  frames; a relay that keeps up never waits (its CPU share does not matter, only
  how long updates wait);
- each batch is serialized once per presence encoding (relay.core.wirejson); receivers
  whose own entry is in the batch get a variant without it (no echo), cached per
  excluded user; the session's receivers (client, user id, write) are read once and
  kept until a client attaches or detaches;
- a receiver whose socket can take data gets the frame at once; only one whose socket
  is busy (write buffer above its high-water mark) keeps a latest-per-peer dict
  instead, sent when the socket drains (bounded by the number of peers, never a
  queue). That is the only coalescing while the relay keeps up.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Callable

from relay.core import wirejson
from relay.core.client import Client
from relay.metrics import Metrics

BEHIND = 0.005  # an update that may have waited this long (s) when sent: the relay is behind
HOLD = 0.25  # seconds flushes stay spaced after the last flush that found it behind
HOLD_MAX = 2.0  # the longest that grows to when the relay keeps falling behind
STRAIGHT = 0.001  # a batch begun this soon after a flush ended was read straight after it

# A receiver as a flush reads it: the client, its user id and its transport's write_now.
Receiver = tuple[Client, str, Callable[[bytes], bool]]


class Delivery:
    """The local clients of each session; presence batched per loop turn, paced."""

    def __init__(self, metrics: Metrics, window: float = 0.004) -> None:
        self.metrics = metrics
        self.window = window  # least time between flushes while behind; 0 turns spacing off
        self.spacing = 0.0  # the current least time between flushes
        self._subs: dict[str, set[Client]] = {}
        self._cache: dict[str, tuple[Receiver, ...]] = {}  # session -> _receivers()
        self._batches: dict[str, dict[str, dict[str, str]]] = {}
        self._first_at = 0.0
        self._last_flush = 0.0  # when the last flush began
        self._last_end = 0.0  # and ended
        self._behind_until = 0.0
        self.behind = BEHIND  # an update waiting this long means the relay is behind
        self.hold = HOLD  # seconds of spacing after the last late flush
        self._hold = HOLD  # the same, grown while the relay keeps falling behind
        self._calm_since = -math.inf  # when spacing last stopped
        self._scheduled: asyncio.Handle | None = None  # the pending flush
        metrics.gauges["presence_flush_spacing_seconds"] = lambda: self.spacing

    def attach(self, session_id: str, client: Client) -> None:
        self._subs.setdefault(session_id, set()).add(client)
        self._cache.pop(session_id, None)

    def detach(self, session_id: str, client: Client) -> None:
        self._cache.pop(session_id, None)
        subs = self._subs.get(session_id)
        if subs is not None:
            subs.discard(client)
            if not subs:
                del self._subs[session_id]

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
        for client in tuple(self._subs.get(session_id, ())):
            uid = client.user.id
            if only is not None and uid not in only:
                continue
            if uid == exclude_user:
                continue
            client.write(data, kind)

    def publish_presence(self, session_id: str, user_id: str, fields: dict[str, str]) -> None:
        """Gather one peer's ephemeral state (field -> JSON text) for the next flush; its
        fields merge into the latest value (``fields`` is kept, and may change)."""
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

    def flush(self) -> None:
        """Deliver presence gathered so far (also runs by itself on the next loop turn)."""
        if self._scheduled is not None:
            self._scheduled.cancel()  # no-op when it is this very call
            self._scheduled = None
        batches, self._batches = self._batches, {}
        if not batches:
            return
        now = time.monotonic()
        since = self._first_at
        if since - self._last_end < STRAIGHT:  # some of it may have waited out that flush
            since = min(since, self._last_flush)
        self._pace(now, now - since - self.spacing)
        self._last_flush = now
        for sid, batch in batches.items():
            subs = self._subs.get(sid)
            if subs:
                self._deliver(sid, batch, self._receivers(sid, subs))
        self._last_end = end = time.monotonic()
        self.metrics.fanout_latency.observe(end - self._first_at)

    def _pace(self, now: float, late: float) -> None:
        """Space flushes while the relay is behind (the oldest update of this flush may
        have waited ``late`` seconds beyond any deliberate spacing), flush every loop
        turn again once it keeps up. A relay that falls behind again soon after it
        stopped spacing is overloaded rather than hit by a passing stall: it keeps
        spacing twice as long each time (up to HOLD_MAX)."""
        if late > self.behind and self.window > 0:
            if not self.spacing:
                again = now - self._calm_since < 2 * self._hold
                self._hold = min(self._hold * 2, HOLD_MAX) if again else self.hold
            self._behind_until = now + self._hold
            self.spacing = self.window
        elif self.spacing and now >= self._behind_until:
            self.spacing = 0.0
            self._calm_since = now

    def _receivers(self, sid: str, subs: set[Client]) -> tuple[Receiver, ...]:
        """The session's clients with what each flush reads of them, kept until one
        attaches or detaches."""
        found = self._cache.get(sid)
        if found is None:
            found = self._cache[sid] = tuple(
                (client, client.user.id, client.transport.write_now) for client in subs)
        return found

    def _deliver(self, sid: str, batch: dict[str, dict[str, str]],
                 receivers: tuple[Receiver, ...]) -> None:
        entries: dict[int, dict[str, str]] = {}  # form -> uid -> encoded entry
        full: list[bytes | None] = [None, None, None]  # by form: the frame of the whole batch
        variants: dict[tuple[str, int], bytes | None] = {}  # the batch less one user's entry
        sent = sent_short = 0
        for client, uid, write_now in receivers:
            form = client.presence_form
            if uid in batch:
                key = (uid, form)
                if key in variants:
                    data = variants[key]
                else:
                    parts = entries.get(form) or _entries(batch, form, entries)
                    rest = [p for u, p in parts.items() if u != uid]
                    data = variants[key] = (wirejson.presence_frame(sid, rest, None, form)
                                            if rest else None)
                if data is None:
                    continue  # the batch holds only this receiver's own entry: no echo
            else:
                data = full[form]
                if data is None:
                    parts = entries.get(form) or _entries(batch, form, entries)
                    data = full[form] = wirejson.presence_frame(sid, parts.values(), None, form)
            if client.pending or client.closed or not write_now(data):
                if client.offer_presence(sid, batch):
                    self.metrics.presence_coalesced += 1
                else:
                    client.write(data, "presence" if form == 1 else "p")
            elif form == 1:
                sent += 1
            else:
                sent_short += 1
        if sent:
            self.metrics.messages_out["presence"] += sent
        if sent_short:
            self.metrics.messages_out["p"] += sent_short


def _entries(batch: dict[str, dict[str, str]], form: int,
             into: dict[int, dict[str, str]]) -> dict[str, str]:
    """The batch's entries in presence encoding ``form`` (uid -> entry), kept in ``into``."""
    parts = into[form] = {uid: wirejson.peer(fields, form) for uid, fields in batch.items()}
    return parts
