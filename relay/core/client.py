"""One connected client: its transport, joined sessions, rate limit and pending presence."""

from __future__ import annotations

from relay.core import wirejson
from relay.core.ports import Transport
from relay.metrics import Metrics
from wire import CloseCode, Error, Message, UserRef, encode

STRIKE_WINDOW = 10.0  # seconds over which refused frames count toward closing (4029)


class TokenBucket:
    """The relay's one rate limiter: ``rate`` tokens a second refill it up to ``size``.

    Used per connection (frames), per user (durable writes: count and bytes) and for
    sign-in attempts on /auth.
    """

    __slots__ = ("level", "rate", "size", "stamp")

    def __init__(self, rate: float, size: float, now: float) -> None:
        self.rate = rate
        self.size = size
        self.level = float(size)
        self.stamp = now

    def peek(self, now: float) -> float:
        """Tokens available at ``now`` (nothing is spent)."""
        level = self.level + (now - self.stamp) * self.rate
        return level if level < self.size else self.size

    def take(self, now: float, cost: float = 1.0) -> bool:
        """Spend ``cost`` tokens if there are that many; False (nothing spent) otherwise."""
        level = self.peek(now)
        self.stamp = now
        if level >= cost:
            self.level = level - cost
            return True
        self.level = level
        return False

    def wait(self, now: float, cost: float = 1.0) -> float:
        """Seconds until ``cost`` tokens are available (0 when they are now)."""
        missing = min(cost, self.size) - self.peek(now)
        return max(0.0, missing / self.rate)


class Client:
    __slots__ = (
        "bucket",
        "closed",
        "conn_id",
        "joined",
        "last_seen",
        "max_buffer",
        "metrics",
        "pending",
        "presence_form",
        "stale",
        "strike_start",
        "strikes",
        "transport",
        "user",
        "user_json",
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
        self.user_json = wirejson.string(user.id)  # the user id as presence fields carry it
        self.transport = transport
        self.joined: set[str] = set()  # sessions joined on this connection
        self.stale: set[str] = set()  # sessions where this client's presence timed out
        self.last_seen = now
        self.bucket = TokenBucket(rate, burst, now)
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
        if self.bucket.take(now):
            return True
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

    def error(self, code: str, message: str, rid: str | None = None, id: str | None = None,
              retry_after: float | None = None) -> None:
        self.send(Error(code=code, message=message, rid=rid, id=id, retry_after=retry_after))

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
