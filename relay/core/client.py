"""One connected client: its transport, joined sessions, rate limit and pending presence."""

from __future__ import annotations

from typing import Protocol

from relay.core import wirejson
from relay.metrics import Metrics
from relay.protocol import CloseCode, Error, Message, Role, UserRef, encode

STRIKE_WINDOW = 10.0  # seconds over which refused frames count toward closing (4029)


class Transport(Protocol):
    """What the core needs from a connection."""

    def write(self, data: bytes) -> None:
        """Queue a whole text frame (UTF-8 JSON) for sending, without blocking."""

    def write_now(self, data: bytes) -> bool:
        """Write a whole text frame if nothing is waiting in the write buffer and the
        connection is open; False (nothing written) otherwise. The fan-out's fast path."""

    def busy(self) -> bool:
        """True while the socket's write buffer is above its high-water mark."""

    def buffered(self) -> int:
        """Bytes waiting in the write buffer."""

    def close(self, code: int, reason: str) -> None:
        """Start closing the connection with a close code."""


class Client:
    __slots__ = (
        "burst",
        "closed",
        "conn_id",
        "last_refill",
        "last_seen",
        "max_buffer",
        "metrics",
        "pending",
        "presence_form",
        "rate",
        "roles",
        "stale",
        "strike_start",
        "strikes",
        "tokens",
        "transport",
        "user",
    )

    def __init__(
        self,
        conn_id: int,
        user: UserRef,
        transport: Transport,
        *,
        now: float,
        rate: float,
        burst: int,
        max_buffer: int,
    ) -> None:
        self.conn_id = conn_id
        self.user = user
        self.transport = transport
        self.roles: dict[str, Role] = {}  # joined sessions on this connection -> role
        self.stale: set[str] = set()  # sessions where this client's presence timed out
        self.last_seen = now
        self.rate = rate
        self.burst = burst
        self.tokens = float(burst)
        self.last_refill = now
        self.strikes = 0  # refused frames since strike_start
        self.strike_start = now
        self.max_buffer = max_buffer
        self.closed = False
        # Presence waiting for a busy socket: session id -> user id -> merged fields
        # (field name -> JSON text, as relay.core.wirejson encodes them).
        self.pending: dict[str, dict[str, dict[str, str]]] = {}
        self.presence_form = 1  # presence encoding agreed at hello (wirejson.PRESENCE_FORMS)
        self.metrics: Metrics | None = None

    @property
    def user_id(self) -> str:
        return self.user.id

    # -- rate limit (token bucket)

    def allow(self, now: float) -> bool:
        tokens = self.tokens + (now - self.last_refill) * self.rate
        self.last_refill = now
        if tokens > self.burst:
            tokens = self.burst
        if tokens >= 1.0:
            self.tokens = tokens - 1.0
            return True
        self.tokens = tokens
        if now - self.strike_start > STRIKE_WINDOW:
            self.strike_start = now
            self.strikes = 0
        self.strikes += 1
        return False

    # -- sending

    def write(self, data: bytes, kind: str) -> None:
        if self.closed:
            return
        if self.transport.buffered() > self.max_buffer:
            # Durable frames are never dropped silently: a receiver this far behind is
            # disconnected and catches up by seq when it reconnects.
            if self.metrics is not None:
                self.metrics.slow_disconnects += 1
            self.close(CloseCode.POLICY_VIOLATION, "receiver too slow")
            return
        self.transport.write(data)
        if self.metrics is not None:
            self.metrics.messages_out[kind] += 1

    def send(self, msg: Message) -> None:
        self.write(encode(msg).encode(), msg.TYPE)

    def error(self, code: str, message: str, rid: str | None = None, id: str | None = None) -> None:
        self.send(Error(code=code, message=message, rid=rid, id=id))

    def close(self, code: int, reason: str) -> None:
        if not self.closed:
            self.closed = True
            self.pending.clear()
            self.transport.close(code, reason)

    # -- presence coalescing

    def offer_presence(self, session_id: str, entries: dict[str, dict[str, str]]) -> bool:
        """Keep presence for later while the socket is busy; False when it can be sent now."""
        if not self.pending and not self.transport.busy():
            return False
        slot = self.pending.setdefault(session_id, {})
        for uid, entry in entries.items():
            if uid == self.user.id:
                continue
            old = slot.get(uid)
            if old is None:
                slot[uid] = dict(entry)
            else:
                old.update(entry)
        return True

    def flush_presence(self) -> int:
        """Send coalesced presence once the socket drained; returns entries sent."""
        if self.closed or not self.pending or self.transport.busy():
            return 0
        pending, self.pending = self.pending, {}
        sent = 0
        form = self.presence_form
        for sid, peers in pending.items():
            if not peers:
                continue
            self.write(wirejson.presence_frame(
                sid, [wirejson.peer(p, form) for p in peers.values()], form=form),
                "presence" if form == 1 else "p")
            sent += len(peers)
        return sent
