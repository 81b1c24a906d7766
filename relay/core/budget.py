"""Per-user durable write budget: how much one user may make the relay store.

Two token buckets per user, shared by all of the user's connections: writes and
bytes per minute, each holding one minute's worth (the burst). A write that finds
either empty is refused with ``rate_limited`` and ``retry_after``; nothing is stored.
Users whose buckets are full again are forgotten (``prune``).
"""

from __future__ import annotations

import math
from typing import Any

from relay.core.client import TokenBucket
from wire import ErrorCode, ProtocolError


class WriteBudget:
    def __init__(self, writes_per_minute: int, bytes_per_minute: int) -> None:
        self.writes_per_minute = writes_per_minute
        self.bytes_per_minute = bytes_per_minute
        self.users: dict[str, tuple[TokenBucket, TokenBucket]] = {}

    def charge(self, user_id: str, size: int, now: float, msg: Any) -> None:
        """Spend one write of ``size`` bytes, or raise ProtocolError ``rate_limited``."""
        buckets = self.users.get(user_id)
        if buckets is None:
            wpm, bpm = self.writes_per_minute, self.bytes_per_minute
            buckets = self.users[user_id] = (TokenBucket(wpm / 60, wpm, now),
                                             TokenBucket(bpm / 60, bpm, now))
        writes, nbytes = buckets
        cost = float(min(size, self.bytes_per_minute))
        if writes.peek(now) < 1.0 or nbytes.peek(now) < cost:
            wait = max(writes.wait(now), nbytes.wait(now, cost))
            raise ProtocolError(
                ErrorCode.RATE_LIMITED,
                f"write budget used up ({self.writes_per_minute} writes and "
                f"{self.bytes_per_minute} bytes a minute): try again in {math.ceil(wait)} s",
                rid=getattr(msg, "rid", None), id=getattr(msg, "id", None),
                retry_after=round(wait, 3))
        writes.take(now)
        nbytes.take(now, cost)

    def prune(self, now: float) -> None:
        """Forget users whose buckets have refilled."""
        full = [uid for uid, (w, b) in self.users.items()
                if w.peek(now) >= w.size and b.peek(now) >= b.size]
        for uid in full:
            del self.users[uid]
