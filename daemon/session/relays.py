"""Which relay of several to connect to: session affinity and failover, without I/O.

The relays of one cluster share the database, so any of them serves any session; a
session's presence stays inside one process when all its participants use the same
relay. ``relay_order`` gives that relay by rendezvous hashing (highest random weight):
each URL is weighed by a SHA-256 of the session id and the URL, the heaviest first. Every
daemon with the same URLs computes the same order for a session, and removing one relay
moves only the sessions that preferred it. Outside a session the configured order holds.

``Rotation`` picks the URL of each connection attempt: the first of the order at the
start (and when ``restart`` is asked), else the one after the URL last tried. A failed
attempt goes on to the next URL at once while some URL has not been tried since the last
wait; a drop after a welcome, or a round where every URL failed, waits the backoff.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from urllib.parse import quote

from wire import SESSION_PATH

SESSION_PARAM = "session"  # query parameter of /ws naming the session (proxy affinity)


def weight(session_id: str, url: str) -> int:
    """The rendezvous weight of ``url`` for ``session_id`` (the same in every process)."""
    digest = hashlib.sha256(f"{session_id}\n{url}".encode()).digest()
    return int.from_bytes(digest[:8], "big")


def relay_order(urls: Sequence[str], session_id: str | None) -> list[str]:
    """The URLs to try, best first: by weight for ``session_id``, else as configured."""
    if session_id is None or len(urls) < 2:
        return list(urls)
    return sorted(urls, key=lambda url: weight(session_id, url), reverse=True)


def session_url(base: str, session_id: str | None) -> str:
    """The /ws URL of relay ``base``; ``?session=<id>`` when connecting for a session."""
    url = base + SESSION_PATH
    if session_id is not None:
        url += f"?{SESSION_PARAM}={quote(session_id, safe='')}"
    return url


class Rotation:
    """The URL of each connection attempt, and whether to wait before it."""

    def __init__(self) -> None:
        self.last: str | None = None  # the URL of the current or last attempt
        self.failed: set[str] = set()  # URLs that failed since the last wait or welcome
        self.restart = True  # the next attempt takes the first URL of the order

    def pick(self, order: Sequence[str]) -> str:
        """The URL of the next attempt."""
        assert order, "no relay URL"
        if self.restart or self.last not in order:
            url = order[0]
        else:
            url = order[(order.index(self.last) + 1) % len(order)]
        self.restart = False
        self.last = url
        return url

    def welcomed(self) -> None:
        self.failed.clear()

    def ended(self, order: Sequence[str], *, was_online: bool) -> bool:
        """The attempt at ``last`` ended; True when the backoff wait comes before the next.

        After a drop the wait spreads the clients of a relay that went away; after a
        failed attempt the next URL is tried at once unless it already failed this round.
        """
        assert self.last is not None
        if was_online:
            self.failed = {self.last}
            return True
        self.failed.add(self.last)
        if self.last not in order:
            return order[0] in self.failed
        following = order[(order.index(self.last) + 1) % len(order)]
        return following in self.failed

    def waited(self) -> None:
        """The backoff wait is over: a new round, every URL may be tried again."""
        self.failed.clear()
