"""The SessionBus of a cluster: relay processes share fan-out and who is online through Redis.

Redis holds only soft state; losing it loses nothing durable (events are in the store and
every process fills what it missed from there).

Channels and keys (``P`` is the key prefix, ``ensemble:`` by default):
- ``P s:{session}``: one channel per session, subscribed to by every process that has
  clients in it. Messages are JSON objects ``{"o": origin, "k": kind, ...}``; a process
  ignores its own. Kinds: ``e`` a committed event with its seq, ``f`` a frame (joins,
  leaves), ``p`` a batch of presence entries, ``m`` a mention, ``r`` a process came to or
  left the session, ``q`` the latest seq of the session (sent again after a failed publish).
- ``P o:{session}`` set of online users; ``P c:{session}:{user}`` set of the user's live
  connections (``process:conn``); ``P p:{session}`` hash user -> presence fields (JSON),
  written behind (at most every ``PRESENCE_WRITE`` seconds) by the process holding the
  connection; ``P r:{session}`` set of processes with clients in the session;
  ``P q:{session}`` the highest seq published.
- The registry of who is online (``o:``, ``c:``, ``p:``) is relay/adapters/redis_registry.py;
  which processes are alive (``alive:``, ``procs``, ``held:``, ``reap:``) and the reaping
  of the dead is relay/adapters/redis_liveness.py, whose heartbeat also runs this bus's
  periodic check.

Delivery of events: every process delivers a session's events in seq order, exactly
once (relay/adapters/redis_order.py). An event that arrives after a gap waits
(``GAP_WAIT``) for the missing ones; then, and after every reconnection to Redis, and when
the periodic check finds ``q:`` ahead, the listener fills the gap from the store
(``BusListener.on_gap``).

Presence stays in the process while no other process has clients in the session; else
entries of one loop turn go out as one ``p`` message per session.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import uuid
from collections import deque
from collections.abc import Callable
from typing import Any, NamedTuple

from redis.exceptions import RedisError

from relay.adapters.redis_link import RedisLink
from relay.adapters.redis_liveness import LIVENESS_TTL, RedisLiveness
from relay.adapters.redis_order import SessionOrder
from relay.adapters.redis_registry import RedisRegistry
from relay.core.ports import BusListener, Fields, SessionBus
from relay.errors import BusError
from relay.logs import shown
from wire import Event, Mention, as_dict
from wire.schema import SchemaError, structure

log = logging.getLogger("relay.bus")

GAP_WAIT = 0.2  # seconds an event after a gap waits for the missing ones before a fill
CLOSE_WAIT = 2.0  # seconds closing may wait for Redis

# KEYS[1] P q:{session}; ARGV[1] seq: keep the highest.
_SEQ = """
local cur = tonumber(redis.call('GET', KEYS[1]) or '0')
if tonumber(ARGV[1]) > cur then redis.call('SET', KEYS[1], ARGV[1]) end
return 0
"""


class _Publish(NamedTuple):
    """A message for the session's channel (the send queue)."""

    session_id: str
    text: str


class _Seq(NamedTuple):
    """Raise ``q:{session}`` to ``seq`` (the send queue: after the event's message)."""

    session_id: str
    seq: int


class RedisBus(SessionBus):
    def __init__(self, url: str, *, process_id: str | None = None, prefix: str = "ensemble:",
                 beat: float = 1.0, liveness_ttl: float = LIVENESS_TTL,
                 gap_wait: float = GAP_WAIT, command_timeout: float = 2.0) -> None:
        self.id = process_id or uuid.uuid4().hex[:12]
        self.prefix = prefix
        self.beat = beat
        self.gap_wait = gap_wait
        self.link = RedisLink(url, self._on_message, self._on_connect,
                              ping_every=beat, dead_after=3 * beat,
                              command_timeout=command_timeout)
        self.r = self.link.redis
        self._listener: BusListener | None = None
        self._sink: Callable[[str, str, Fields], None] = _nowhere
        self._sessions: dict[str, int] = {}  # subscribed session -> subscriptions
        self._others: dict[str, set[str]] = {}  # session -> other processes with clients
        self._order: dict[str, SessionOrder] = {}
        self._out: dict[str, dict[str, Fields]] = {}  # presence leaving on the next turn
        self._flush_handle: asyncio.Handle | None = None
        self._sendq: deque[_Publish | _Seq] = deque()  # in order
        self._wake = asyncio.Event()
        self._inbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self._unpublished: dict[str, int] = {}  # session -> seq whose publish failed
        self._tasks: list[asyncio.Task[None]] = []
        self.registry = RedisRegistry(self.r, self._k, self.id)
        self.liveness = RedisLiveness(self.r, self._k, prefix, self.id, beat=beat,
                                      ttl=liveness_ttl)
        self._seq = self.r.register_script(_SEQ)
        self.fills = 0  # gap fills asked of the listener (tests and metrics)
        self._restoring = asyncio.Lock()  # one _restore at a time
        self._came_back = False  # taken for dead: the users restored are to be announced
        self._revived: list[tuple[str, str, Fields]] = []  # restored, not announced yet

    # -- keys

    def _k(self, *parts: str) -> str:
        return self.prefix + ":".join(parts)

    def _channel(self, session_id: str) -> str:
        return self._k("s", session_id)

    # -- lifecycle

    def listen(self, listener: BusListener) -> None:
        self._listener = listener
        self._sink = listener.on_presence

    async def open(self) -> None:
        try:
            await self.liveness.alive()
        except (RedisError, OSError) as exc:
            await self.link.stop()
            raise BusError(f"redis at {shown(self.link.url)}: {exc}") from exc
        await self.link.start()
        try:
            await asyncio.wait_for(self.link.connected.wait(), 5.0)
        except TimeoutError as exc:
            await self.link.stop()
            raise BusError(f"redis at {shown(self.link.url)} did not answer") from exc
        loop = asyncio.get_running_loop()
        self._tasks = [loop.create_task(self._writer()), loop.create_task(self._dispatch()),
                       loop.create_task(self.liveness.heartbeat(self._check, self._departed,
                                                                self._restore)),
                       loop.create_task(self.registry.writer())]

    async def close(self) -> None:
        for task in self._tasks:
            task.cancel()
        if self._tasks:  # redis-py may hold a cancelled task in a read for a while
            await asyncio.wait(self._tasks, timeout=CLOSE_WAIT)
        # Leave the registry at once (else the others reap this process after its TTL),
        # but never wait long for a Redis that is away.
        with contextlib.suppress(RedisError, OSError, TimeoutError):
            await asyncio.wait_for(self.liveness.leave(), CLOSE_WAIT)
        await self.link.stop()

    async def subscribe(self, session_id: str) -> None:
        n = self._sessions.get(session_id, 0)
        self._sessions[session_id] = n + 1
        if n:
            return
        self._order[session_id] = SessionOrder(session_id, self.gap_wait, self._ask_fill)
        self._others[session_id] = set()
        await self.link.subscribe(self._channel(session_id))
        try:
            held = json.dumps(["r", session_id])
            pipe = self.r.pipeline(transaction=True)
            pipe.sadd(self._k("r", session_id), self.id)
            pipe.sadd(self._k("held", self.id), held)
            pipe.smembers(self._k("r", session_id))
            res = await pipe.execute()
            self._others[session_id] = set(res[2]) - {self.id}
        except (RedisError, OSError) as exc:
            log.warning("redis: session not announced (%s); the next check retries", exc)
        self._send(session_id, {"k": "r", "in": 1})

    async def unsubscribe(self, session_id: str) -> None:
        n = self._sessions.get(session_id, 0) - 1
        if n > 0:
            self._sessions[session_id] = n
            return
        self._sessions.pop(session_id, None)
        self._others.pop(session_id, None)
        order = self._order.pop(session_id, None)
        if order is not None:
            order.close()
        self._send(session_id, {"k": "r", "in": 0})
        await self.link.unsubscribe(self._channel(session_id))
        with contextlib.suppress(RedisError, OSError):
            pipe = self.r.pipeline(transaction=True)
            pipe.srem(self._k("r", session_id), self.id)
            pipe.srem(self._k("held", self.id), json.dumps(["r", session_id]))
            await pipe.execute()

    def position(self, session_id: str, seq: int) -> None:
        """The store's last seq when the session was loaded: events up to it are known."""
        order = self._order.get(session_id)
        if order is not None:
            order.position(seq)

    # -- fan-out

    async def publish_event(self, session_id: str, event: Event,
                            audience: frozenset[str] | None) -> None:
        msg: dict[str, Any] = {"k": "e", "e": as_dict(event)}
        if audience is not None:
            msg["a"] = sorted(audience)
        self._send(session_id, msg, seq=event.seq)
        await self._accept(session_id, event, audience)

    async def publish(self, session_id: str, data: bytes, kind: str, *,
                      exclude_user: str | None = None) -> None:
        if self._listener is not None:
            self._listener.on_frame(session_id, data, kind, exclude_user)
        others = self._others.get(session_id)
        if others is None or others:  # not subscribed here (a departure found by the reaper)
            self._send(session_id, {"k": "f", "d": data.decode(), "t": kind, "x": exclude_user})

    def publish_presence(self, session_id: str, user_id: str, fields: Fields) -> None:
        self.registry.note(session_id, user_id, fields)
        if self._others.get(session_id):
            out = self._out.setdefault(session_id, {})
            prev = out.get(user_id)
            out[user_id] = {**prev, **fields} if prev is not None else dict(fields)
            if self._flush_handle is None:
                self._flush_handle = asyncio.get_running_loop().call_soon(self._flush_presence)
        self._sink(session_id, user_id, fields)

    def _flush_presence(self) -> None:
        self._flush_handle = None
        out, self._out = self._out, {}
        for session_id, users in out.items():
            self._send(session_id, {"k": "p", "p": list(users.items())})

    async def send_mention(self, session_id: str, user_id: str, mention: Mention) -> None:
        if self._listener is not None:
            await self._listener.on_mention(session_id, user_id, mention)
        self._send(session_id, {"k": "m", "u": user_id, "m": as_dict(mention)})

    # -- registry (relay/adapters/redis_registry.py)

    async def arrive(self, session_id: str, user_id: str, conn: int, fields: Fields) -> bool:
        return await self.registry.arrive(session_id, user_id, conn, fields)

    async def depart(self, session_id: str, user_id: str, conn: int) -> bool:
        return await self.registry.depart(session_id, user_id, conn)

    async def online(self, session_id: str) -> set[str]:
        return await self.registry.online(session_id)

    async def presence(self, session_id: str) -> dict[str, Fields]:
        return await self.registry.presence(session_id)

    # -- sending: one writer keeps the order of everything published

    def _send(self, session_id: str, msg: dict[str, Any], seq: int | None = None) -> None:
        msg["o"] = self.id
        msg["s"] = session_id
        self._sendq.append(_Publish(session_id, json.dumps(msg, separators=(",", ":"),
                                                           ensure_ascii=False)))
        if seq is not None:
            self._sendq.append(_Seq(session_id, seq))
        self._wake.set()

    async def _writer(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            while self._sendq:
                batch = list(self._sendq)
                self._sendq.clear()
                pipe = self.r.pipeline(transaction=False)
                for item in batch:
                    if isinstance(item, _Seq):
                        pipe.eval(_SEQ, 1, self._k("q", item.session_id), str(item.seq))
                    else:
                        pipe.publish(self._channel(item.session_id), item.text)
                try:
                    await pipe.execute()
                except (RedisError, OSError) as exc:
                    log.warning("redis publish failed (%s); peers fill from the store", exc)
                    for item in batch:
                        if isinstance(item, _Seq):
                            self._unpublished[item.session_id] = max(
                                item.seq, self._unpublished.get(item.session_id, 0))
                    await asyncio.sleep(self.beat / 4)

    # -- receiving

    def _on_message(self, channel: str, data: str) -> None:
        try:
            msg = json.loads(data)
        except ValueError:
            return
        if type(msg) is not dict or msg.get("o") == self.id:
            return
        session_id = msg.get("s")
        if type(session_id) is not str or session_id not in self._sessions:
            return
        kind = msg.get("k")
        if kind == "p":  # the hot path: straight to the listener
            for user_id, fields in msg.get("p", ()):
                self._sink(session_id, user_id, fields)
        elif kind == "r":
            others = self._others.setdefault(session_id, set())
            (others.add if msg.get("in") else others.discard)(msg["o"])
        else:
            self._inbox.put_nowait(msg)

    async def _dispatch(self) -> None:
        """Events, frames and mentions from other processes, one at a time, in order."""
        while True:
            msg = await self._inbox.get()
            try:
                await self._handle(msg)
            except Exception:
                log.exception("bus message failed")

    async def _handle(self, msg: dict[str, Any]) -> None:
        listener = self._listener
        session_id: str = msg["s"]
        kind = msg.get("k")
        if listener is None:
            return
        if kind == "e":
            try:
                event = structure(msg["e"], Event)
            except SchemaError as exc:
                log.warning("bad event on the bus: %s", exc)
                return
            audience = frozenset(msg["a"]) if "a" in msg else None
            await self._accept(session_id, event, audience)
        elif kind == "f":
            exclude = msg.get("x")
            listener.on_frame(session_id, msg["d"].encode(), msg.get("t", "frame"),
                              exclude if type(exclude) is str else None)
        elif kind == "m":
            try:
                mention = structure(msg["m"], Mention)
            except SchemaError:
                return
            await listener.on_mention(session_id, msg["u"], mention)
        elif kind == "fill":
            await self._fill(session_id)
        elif kind == "q":
            order = self._order.get(session_id)
            if order is not None and order.behind(msg["q"]):
                await self._fill(session_id)

    async def _accept(self, session_id: str, event: Event,
                      audience: frozenset[str] | None) -> None:
        """Deliver in seq order, each seq once (relay/adapters/redis_order.py)."""
        order = self._order.get(session_id)
        listener = self._listener
        if listener is None:
            return
        if order is None:  # no client here: nothing to deliver in order
            await listener.on_event(session_id, event, audience)
            return
        await order.accept(event, audience, listener)

    def _ask_fill(self, session_id: str) -> None:
        self._inbox.put_nowait({"s": session_id, "k": "fill"})

    async def _fill(self, session_id: str) -> None:
        """Ask the listener to send what this process missed, from the store."""
        order = self._order.get(session_id)
        listener = self._listener
        if order is None or listener is None:
            return
        self.fills += 1
        await order.fill(listener)

    async def _on_connect(self, first: bool) -> None:
        if first:
            return
        # Redis may have restarted empty: this process's part of the registry again.
        try:
            await self.liveness.alive()
            await self._restore()
        except (RedisError, OSError) as exc:
            log.warning("redis: registry not restored (%s)", exc)
        # Anything may have been published while the link was down.
        for session_id in list(self._sessions):
            self._ask_fill(session_id)

    async def _restore(self) -> None:
        """This process's part of the registry again, after Redis restarted empty or the
        others took this process for dead (its mark, relay/adapters/redis_liveness.py):
        then the users who come online by it are announced (once: only the call that
        takes the mark, or the next one after a failure, announces; users registered
        by a call that failed part way are kept in ``_revived`` and announced by the
        call that completes)."""
        async with self._restoring:
            if await self.liveness.take_mark():
                self._came_back = True
                log.warning("redis: this relay process was taken for dead (stalled past the"
                            " liveness timeout); its users come back")
            for session_id in list(self._sessions):
                pipe = self.r.pipeline(transaction=True)
                pipe.sadd(self._k("r", session_id), self.id)
                pipe.sadd(self._k("held", self.id), json.dumps(["r", session_id]))
                await pipe.execute()
            await self.registry.restore(self._revived)
            came, self._revived = self._revived, []
            if not self._came_back:
                return
            self._came_back = False
            for session_id in list(self._sessions):
                self._send(session_id, {"k": "r", "in": 1})
            for session_id, user_id, fields in came:
                if self._listener is not None:
                    await self._listener.on_revived(session_id, user_id, fields)

    # -- the periodic check (run by each heartbeat: relay/adapters/redis_liveness.py)

    async def _check(self) -> None:
        if self._came_back:  # announcing the users back failed: again
            await self._restore()
        await self._republish()
        await self._check_positions()

    async def _departed(self, session_id: str, user_id: str) -> None:
        """A user who went offline with a dead process (found by this one's reaping)."""
        if self._listener is not None:
            await self._listener.on_departed(session_id, user_id)

    async def _republish(self) -> None:
        """Tell the other processes of the seqs whose publish failed: they fill."""
        for session_id, seq in list(self._unpublished.items()):
            await self._seq(keys=[self._k("q", session_id)], args=[seq])
            msg = json.dumps({"o": self.id, "s": session_id, "k": "q", "q": seq})
            await self.r.publish(self._channel(session_id), msg)
            if self._unpublished.get(session_id) == seq:
                del self._unpublished[session_id]

    async def _check_positions(self) -> None:
        sessions = [s for s in self._sessions if s in self._order]
        if not sessions:
            return
        pipe = self.r.pipeline(transaction=False)
        for session_id in sessions:
            pipe.get(self._k("q", session_id))
            pipe.smembers(self._k("r", session_id))
        res = await pipe.execute()
        for i, session_id in enumerate(sessions):
            raw, procs = res[2 * i], res[2 * i + 1]
            if session_id in self._others:
                self._others[session_id] = set(procs) - {self.id}
            order = self._order.get(session_id)
            if raw is not None and order is not None and order.behind(int(raw)):
                self._ask_fill(session_id)


def _nowhere(session_id: str, user_id: str, fields: Fields) -> None:
    """Presence before any listener: nobody to deliver to."""

