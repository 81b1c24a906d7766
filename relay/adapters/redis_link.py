"""One supervised Redis link: a command client and a pub/sub reader that never goes quiet.

redis-py reconnects a pub/sub connection by itself and subscribes again, silently: what
was published meanwhile is gone and nobody is told. Its reads can also stay silent
forever on a half-open socket after a Redis restart, and polling ``get_message(timeout=0)``
in a loop spins a core. So here:
- the pub/sub client is made without redis-py's retries: a failure surfaces as an
  exception (commands get one immediate retry: a pooled connection a restart left dead);
- the reader blocks in ``get_message`` with a timeout (no spinning), pings through the
  subscription every ``ping_every`` seconds and treats ``dead_after`` seconds without any
  reply (message or pong) as a dead link;
- on any failure it drops the pub/sub connection, waits (backoff up to ``BACKOFF_MAX``),
  connects again, subscribes to every channel it holds, and only then calls
  ``on_connect(first)``: the owner fills what it may have missed from the durable store.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

import redis.asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import RedisError

log = logging.getLogger("relay.redis")

BACKOFF_MIN = 0.05
BACKOFF_MAX = 1.0
READ_WAIT = 0.5  # seconds one get_message may block


class RedisLink:
    def __init__(
        self,
        url: str,
        on_message: Callable[[str, str], None],
        on_connect: Callable[[bool], Awaitable[None]],
        *,
        ping_every: float = 1.0,
        dead_after: float = 3.0,
        command_timeout: float = 2.0,
    ) -> None:
        self.url = url
        self.on_message = on_message
        self.on_connect = on_connect
        self.ping_every = ping_every
        self.dead_after = dead_after
        options: dict[str, Any] = {
            "socket_timeout": command_timeout, "socket_connect_timeout": command_timeout}
        # Commands: one immediate retry, so that a pooled connection left dead by a Redis
        # restart costs a reconnect, not a failed command.
        self.redis: aioredis.Redis = aioredis.Redis.from_url(
            url, decode_responses=True, retry=Retry(NoBackoff(), 1), **options)
        # Pub/sub: no retry (redis-py would resubscribe silently), and bytes: redis-py
        # misparses a PING reply on a decoding subscriber.
        self._sub: aioredis.Redis = aioredis.Redis.from_url(url, retry=Retry(NoBackoff(), 0),
                                                            **options)
        self.channels: set[str] = set()
        self.connected = asyncio.Event()  # set while the pub/sub reader is subscribed
        self.reconnects = 0
        self._pubsub: Any = None
        self._task: asyncio.Task[None] | None = None
        self._stopping = False

    async def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def stop(self) -> None:
        self._stopping = True
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
        await self._drop()
        for client in (self.redis, self._sub):
            with contextlib.suppress(Exception):
                await client.aclose()

    async def subscribe(self, channel: str) -> None:
        """Listen to ``channel`` from now on (and after every reconnect)."""
        if channel in self.channels:
            return
        self.channels.add(channel)
        ps = self._pubsub
        if ps is not None and self.connected.is_set():
            try:
                await ps.subscribe(channel)
            except (RedisError, OSError) as exc:
                log.warning("redis subscribe failed: %s", exc)  # the reader reconnects

    async def unsubscribe(self, channel: str) -> None:
        if channel not in self.channels:
            return
        self.channels.discard(channel)
        ps = self._pubsub
        if ps is not None and self.connected.is_set():
            with contextlib.suppress(RedisError, OSError):
                await ps.unsubscribe(channel)

    async def _drop(self) -> None:
        ps, self._pubsub = self._pubsub, None
        self.connected.clear()
        if ps is not None:
            with contextlib.suppress(Exception):
                await ps.aclose()

    async def _run(self) -> None:
        backoff = BACKOFF_MIN
        first = True
        while not self._stopping:
            try:
                ps = self._sub.pubsub(ignore_subscribe_messages=True)
                self._pubsub = ps
                # A pub/sub connection needs a channel before it can read; this one is
                # the link's own (pings are answered on it).
                await ps.subscribe("ensemble:link", *sorted(self.channels))
                self.connected.set()
                await self.on_connect(first)
                if not first:
                    self.reconnects += 1
                first = False
                backoff = BACKOFF_MIN
                await self._read(ps)
            except asyncio.CancelledError:
                raise
            except (RedisError, OSError, TimeoutError) as exc:
                log.warning("redis pub/sub link lost (%s); reconnecting", exc)
            await self._drop()
            if self._stopping:
                return
            await asyncio.sleep(backoff)
            backoff = min(BACKOFF_MAX, backoff * 2)

    async def _read(self, ps: Any) -> None:
        last_reply = last_ping = time.monotonic()
        while not self._stopping:
            msg = await ps.get_message(timeout=READ_WAIT)
            now = time.monotonic()
            if msg is not None:
                last_reply = now
                if msg.get("type") == "message":
                    channel = msg["channel"]
                    name = channel.decode() if isinstance(channel, bytes) else channel
                    data = msg["data"]
                    try:
                        self.on_message(name, data.decode() if isinstance(data, bytes) else data)
                    except Exception:
                        log.exception("redis message handler failed on %s", name)
            if now - last_ping >= self.ping_every:
                last_ping = now
                await ps.ping()
            if now - last_reply > self.dead_after:
                raise TimeoutError(f"no reply from redis for {now - last_reply:.1f} s")
