"""The Redis SessionBus: the SessionBus contract (tests/relay/test_session_bus.py) run on
two RedisBus processes against a throwaway redis-server, then what only a networked bus
must do: order and gaps, a dead process's users, a Redis restart and pause.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest

from relay.adapters.redis_bus import RedisBus
from tests import services
from tests.relay import test_session_bus as contract

# The contract's tests, collected again here with the Redis ``pair`` fixture below.
from tests.relay.test_session_bus import (  # noqa: F401
    Pair,
    Recorder,
    _event,
    _fields,
    test_a_user_is_online_from_their_first_live_connection_to_their_last,
    test_each_listener_may_keep_and_change_the_fields_it_is_given,
    test_events_reach_every_process_in_the_order_each_was_published,
    test_frames_and_mentions_reach_every_process,
    test_presence_reaches_every_process_and_merges_into_the_registry,
    until,
)
from wire import Event


class Filler(Recorder):
    """A listener that fills gaps from a list standing for the store (with audiences)."""

    def __init__(self, log: list[Event], audiences: dict[int, frozenset[str] | None]) -> None:
        super().__init__()
        self.log = log
        self.audiences = audiences
        self.gaps: list[int] = []
        self.departed: list[tuple[str, str]] = []
        self.revived: list[tuple[str, str, dict[str, str]]] = []

    async def on_gap(self, session_id: str, after_seq: int) -> int:
        self.gaps.append(after_seq)
        for event in sorted(self.log, key=lambda e: e.seq):
            if event.seq > after_seq:
                await self.on_event(session_id, event, self.audiences.get(event.seq))
        return max((e.seq for e in self.log), default=after_seq)

    async def on_departed(self, session_id: str, user_id: str) -> None:
        self.departed.append((session_id, user_id))

    async def on_revived(self, session_id: str, user_id: str, fields: dict[str, str]) -> None:
        self.revived.append((session_id, user_id, fields))


def _bus(redis: services.RedisServer, prefix: str, **options: Any) -> RedisBus:
    return RedisBus(redis.url, prefix=prefix, beat=0.2, liveness_ttl=1.0, gap_wait=0.1,
                    **options)


async def _knows(a: RedisBus, b: RedisBus, session_id: str) -> None:
    await until(lambda: b.id in a._others.get(session_id, ()) and
                a.id in b._others.get(session_id, ()), timeout=3.0)


@pytest.fixture
async def pair(redis_server: services.RedisServer) -> AsyncIterator[Pair]:
    prefix = f"t{uuid.uuid4().hex[:8]}:"
    a, b = _bus(redis_server, prefix), _bus(redis_server, prefix)
    log: list[Event] = []
    audiences: dict[int, frozenset[str] | None] = {}
    ra, rb = Filler(log, audiences), Filler(log, audiences)
    a.listen(ra)
    b.listen(rb)
    for bus in (a, b):
        await bus.open()
        await bus.subscribe("s1")
        bus.position("s1", 0)
        _storing(bus, log, audiences)
    await _knows(a, b, "s1")
    yield a, b, ra, rb
    for bus in (a, b):
        await bus.close()


def _storing(bus: RedisBus, log: list[Event],
             audiences: dict[int, frozenset[str] | None]) -> None:
    """The contract's events are committed to the list before they are published, as the
    core commits to the store: what a process missed can be filled from there."""
    publish = bus.publish_event

    async def publish_event(session_id: str, event: Event,
                            audience: frozenset[str] | None) -> None:
        log.append(event)
        audiences[event.seq] = audience
        await publish(session_id, event, audience)

    bus.publish_event = publish_event  # type: ignore[method-assign]


Two = tuple[RedisBus, RedisBus, Filler, Filler, list[Event]]


@pytest.fixture
async def two(redis_server: services.RedisServer) -> AsyncIterator[Two]:
    prefix = f"t{uuid.uuid4().hex[:8]}:"
    log: list[Event] = []
    a, b = _bus(redis_server, prefix), _bus(redis_server, prefix)
    ra, rb = Filler(log, {}), Filler(log, {})
    a.listen(ra)
    b.listen(rb)
    for bus in (a, b):
        await bus.open()
        await bus.subscribe("s1")
        bus.position("s1", 0)
    await _knows(a, b, "s1")
    yield a, b, ra, rb, log
    for bus in (a, b):
        await bus.close()


def _seqs(rec: Recorder) -> list[int]:
    return [seq for _, seq, _ in rec.events]


async def _commit(bus: RedisBus, log: list[Event]) -> None:
    """What the core does: the store gives the next seq, then the bus publishes."""
    event = _event(len(log) + 1)
    log.append(event)
    await bus.publish_event("s1", event, None)


async def test_concurrent_publishers_each_process_sees_every_seq_once_in_order(two: Two):
    a, b, ra, rb, log = two
    for i in range(60):
        await _commit(a if i % 3 else b, log)
    for rec in (ra, rb):
        await until(lambda rec=rec: len(rec.events) >= 60)  # type: ignore[misc]
        assert _seqs(rec) == list(range(1, 61))


async def test_an_event_after_a_lost_one_waits_then_the_gap_is_filled_from_the_store(two: Two):
    a, _b, _ra, rb, log = two
    await _commit(a, log)
    await until(lambda: _seqs(rb) == [1])
    log.append(_event(2))  # committed, its publish lost
    await _commit(a, log)  # seq 3 arrives at b after a gap
    await until(lambda: _seqs(rb) == [1, 2, 3])
    assert rb.gaps == [1]


async def test_the_position_check_finds_a_lost_last_event(two: Two):
    a, _b, _ra, rb, log = two
    await _commit(a, log)
    await until(lambda: _seqs(rb) == [1])
    log.append(_event(2))  # the last event's message is lost, nothing comes after it
    await a.r.set(f"{a.prefix}q:s1", 2)
    await until(lambda: _seqs(rb) == [1, 2], timeout=3.0)


async def test_a_dead_process_users_depart_once_and_its_registry_goes(
        two: Two, redis_server: services.RedisServer):
    a, b, ra, rb, log = two
    prefix = a.prefix
    c = _bus(redis_server, prefix)
    rc = Filler(log, {})
    c.listen(rc)
    await c.open()
    await c.subscribe("s1")
    assert await c.arrive("s1", "dan", 1, _fields(user_id="dan"))
    assert await a.arrive("s1", "eve", 1, _fields(user_id="eve"))
    assert not await a.arrive("s1", "dan", 2, _fields(user_id="dan"))  # dan twice
    assert await c.arrive("s1", "fay", 2, _fields(user_id="fay"))
    # c dies: no close, its tasks and link stop as a killed process's would.
    for task in c._tasks:
        task.cancel()
    await c.link.stop()
    await until(lambda: ra.departed or rb.departed, timeout=5.0)
    await asyncio.sleep(0.5)  # any second announcement would come within a beat or two
    departed = ra.departed + rb.departed
    assert departed == [("s1", "fay")]  # dan is still online through a
    assert await a.online("s1") == {"dan", "eve"}
    assert set(await b.presence("s1")) == {"dan", "eve"}
    assert c.id not in await a.r.smembers(f"{prefix}procs")
    await until(lambda: c.id not in a._others.get("s1", set()), timeout=3.0)


async def test_redis_restarted_delivery_catches_up_with_no_loss_and_no_duplicates(
        two: Two, redis_server: services.RedisServer):
    a, b, ra, rb, log = two
    await _commit(a, log)
    await until(lambda: _seqs(rb) == [1])
    redis_server.stop()
    for _ in range(5):  # committed while Redis is down: the publish fails, nothing raises
        await _commit(a, log)
    assert _seqs(ra) == [1, 2, 3, 4, 5, 6]  # local delivery never waits for Redis
    redis_server.start()
    await until(lambda: _seqs(rb) == [1, 2, 3, 4, 5, 6], timeout=10.0)
    await _commit(b, log)
    for rec in (ra, rb):
        await until(lambda rec=rec: len(rec.events) == 7, timeout=5.0)  # type: ignore[misc]
        assert _seqs(rec) == [1, 2, 3, 4, 5, 6, 7]


async def test_redis_paused_acks_go_on_and_delivery_catches_up(
        two: Two, redis_server: services.RedisServer):
    a, _b, ra, rb, log = two
    redis_server.pause(1500)
    started = time.monotonic()
    for _ in range(5):
        await _commit(a, log)
    assert time.monotonic() - started < 0.5  # publishing never waits for Redis
    await until(lambda: _seqs(rb) == [1, 2, 3, 4, 5], timeout=10.0)
    assert _seqs(ra) == [1, 2, 3, 4, 5]


def test_every_contract_test_runs_here_too() -> None:
    assert {n for n in vars(contract) if n.startswith("test_")} <= set(globals())


async def test_after_a_redis_restart_each_process_registers_its_users_again(
        two: Two, redis_server: services.RedisServer):
    a, b, *_ = two
    assert await a.arrive("s1", "bob", 1, _fields(user_id="bob", status="active"))
    a.publish_presence("s1", "bob", _fields(status="idle"))
    assert await b.arrive("s1", "cat", 7, _fields(user_id="cat"))
    redis_server.stop()
    redis_server.start()
    deadline = time.monotonic() + 10.0
    while await b.online("s1") != {"bob", "cat"}:
        assert time.monotonic() < deadline, "registry not restored"
        await asyncio.sleep(0.05)
    assert (await b.presence("s1"))["bob"]["status"] == '"idle"'
    assert await a.depart("s1", "bob", 1)  # the departure is seen, so it is announced
    assert await b.online("s1") == {"cat"}


async def _later(first: bool) -> None:
    """A subscription's reconnection that does nothing yet."""


async def _two_on_s1(redis_server: services.RedisServer, prefix: str,
                     **options: Any) -> tuple[RedisBus, RedisBus, Filler, Filler]:
    """Two open buses a and c, each with its recorder, both subscribed to s1."""
    a, c = _bus(redis_server, prefix, **options), _bus(redis_server, prefix, **options)
    ra, rc = Filler([], {}), Filler([], {})
    for bus, rec in ((a, ra), (c, rc)):
        bus.listen(rec)
        await bus.open()
        await bus.subscribe("s1")
    return a, c, ra, rc


async def test_a_redis_stall_longer_than_the_liveness_timeout_is_no_departure(
        redis_server: services.RedisServer):
    """Redis stalls (CLIENT PAUSE) past every process's liveness timeout, and c's first
    heartbeat after it comes later than a's (c was between two heartbeats): a, whose own
    heartbeats failed too, does not take c for dead; nobody departs."""
    prefix = f"t{uuid.uuid4().hex[:8]}:"
    a, c, ra, rc = await _two_on_s1(redis_server, prefix, command_timeout=0.3)
    await _knows(a, c, "s1")
    assert await c.arrive("s1", "dan", 1, _fields(user_id="dan"))
    loop = asyncio.get_running_loop()

    async def heartbeats_after(t: float, n: int = 1) -> None:
        """Until n heartbeats of a landed after t (the reaping of all but the last is done)."""
        for _ in range(n):
            await until(lambda t=t: (a.liveness.last_alive or 0.0) > t, timeout=5.0)
            t = a.liveness.last_alive or t

    try:
        await until(a.liveness.steady, timeout=5.0)  # a could reap a dead process now
        # c is between two heartbeats for the stall and a little after it: neither its
        # heartbeat nor its subscription's reconnection refreshes its key before a's do
        beat = next(t for t in c._tasks if t.get_coro().__name__ == "heartbeat")  # type: ignore[union-attr]
        beat.cancel()
        reconnected, c.link.on_connect = c.link.on_connect, _later
        redis_server.pause(1300)  # past the liveness timeout (1 s) and a's command timeouts
        await heartbeats_after(loop.time() + 1.3, 2)  # a's heartbeats land again, c's not yet
        assert not await a.r.exists(f"{prefix}alive:{c.id}")
        c.link.on_connect = reconnected
        await c.liveness.alive()
        c._tasks.append(loop.create_task(c.liveness.heartbeat(c._check, c._departed,
                                                              c._restore)))
        await until(a.liveness.steady, timeout=5.0)
        await heartbeats_after(loop.time(), 2)
        assert ra.departed == rc.departed == []
        assert rc.revived == []  # its key expired, but nobody took it for dead
        assert await a.online("s1") == {"dan"}
        assert c.id in await a.r.smembers(f"{prefix}procs")
    finally:
        for bus in (a, c):
            await bus.close()


async def test_a_process_taken_for_dead_announces_its_users_once_when_it_comes_back(
        redis_server: services.RedisServer):
    """c stalls (its heartbeats stop) past the liveness timeout: a reaps it and announces
    dan's departure. When c's heartbeats land again, c finds it was taken for dead,
    registers dan again with his latest presence and announces the arrival once (not
    again on later heartbeats or a reconnection); a counts c in the session again."""
    prefix = f"t{uuid.uuid4().hex[:8]}:"
    a, c, ra, rc = await _two_on_s1(redis_server, prefix)
    loop = asyncio.get_running_loop()
    try:
        await _knows(a, c, "s1")
        assert await c.arrive("s1", "dan", 1, _fields(user_id="dan"))
        c.publish_presence("s1", "dan", _fields(status="idle"))
        beat = next(t for t in c._tasks if t.get_coro().__name__ == "heartbeat")  # type: ignore[union-attr]
        beat.cancel()  # c stalls
        await until(lambda: ra.departed, timeout=5.0)
        assert ra.departed == [("s1", "dan")] and await a.online("s1") == set()
        await until(lambda: c.id not in a._others.get("s1", set()), timeout=3.0)
        c._tasks.append(loop.create_task(c.liveness.heartbeat(c._check, c._departed,
                                                              c._restore)))
        await until(lambda: rc.revived, timeout=5.0)
        [(sid, uid, fields)] = rc.revived
        assert (sid, uid, fields["status"]) == ("s1", "dan", '"idle"')
        assert await a.online("s1") == {"dan"}
        assert (await a.presence("s1"))["dan"]["status"] == '"idle"'
        await until(lambda: c.id in a._others.get("s1", set()), timeout=3.0)
        await c._restore()  # what a reconnection of c's link does
        seen = c.liveness.last_alive or 0.0
        for _ in range(3):  # later heartbeats find no mark
            await until(lambda seen=seen: (c.liveness.last_alive or 0.0) > seen, timeout=5.0)
            seen = c.liveness.last_alive or seen
        assert len(rc.revived) == 1 and ra.departed == [("s1", "dan")]
        assert rc.departed == [] and ra.revived == []
        assert c.id in await a.r.smembers(f"{prefix}procs")
        assert not await a.r.exists(f"{prefix}reap:{c.id}")
    finally:
        for bus in (a, c):
            await bus.close()


async def test_users_restored_before_a_failed_restore_are_announced_by_the_next(
        redis_server: services.RedisServer):
    """c is taken for dead with dan and eve online. Its first restore registers dan, then
    Redis fails (injected on eve's registration); the next heartbeat's restore registers
    eve. Both are announced back exactly once, dan included, though the call that
    registered him failed."""
    from redis.exceptions import ConnectionError as RedisConnectionError

    prefix = f"t{uuid.uuid4().hex[:8]}:"
    a, c, ra, rc = await _two_on_s1(redis_server, prefix)
    loop = asyncio.get_running_loop()
    register = c.registry._register
    failed: list[str] = []

    async def fail_eve_once(session_id: str, user_id: str, conn: int, fields: Any) -> bool:
        if user_id == "eve" and not failed:
            failed.append(user_id)
            raise RedisConnectionError("injected: Redis went away mid-restore")
        return await register(session_id, user_id, conn, fields)

    try:
        await _knows(a, c, "s1")
        assert await c.arrive("s1", "dan", 1, _fields(user_id="dan"))
        assert await c.arrive("s1", "eve", 2, _fields(user_id="eve"))
        beat = next(t for t in c._tasks if t.get_coro().__name__ == "heartbeat")  # type: ignore[union-attr]
        beat.cancel()  # c stalls
        await until(lambda: len(ra.departed) == 2, timeout=5.0)
        await until(lambda: c.id not in a._others.get("s1", set()), timeout=3.0)
        c.registry._register = fail_eve_once  # type: ignore[method-assign]
        c._tasks.append(loop.create_task(c.liveness.heartbeat(c._check, c._departed,
                                                              c._restore)))
        await until(lambda: len(rc.revived) == 2, timeout=8.0)
        assert failed == ["eve"]
        assert sorted(uid for _, uid, _ in rc.revived) == ["dan", "eve"]
        assert await a.online("s1") == {"dan", "eve"}
        seen = c.liveness.last_alive or 0.0
        for _ in range(2):  # later heartbeats announce nobody again
            await until(lambda seen=seen: (c.liveness.last_alive or 0.0) > seen, timeout=5.0)
            seen = c.liveness.last_alive or seen
        assert len(rc.revived) == 2 and c._revived == []
    finally:
        for bus in (a, c):
            await bus.close()
