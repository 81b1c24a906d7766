"""What every SessionBus (relay.core.ports.SessionBus) promises the core.

Each test runs on every factory in BUSES, which gives two buses as two relay processes
would hold them (one backend between them); the in-process bus is one process, so its
pair is the same bus with two listeners. Deliveries are awaited with a timeout: a
networked bus delivers a little later.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest

from relay.adapters.local_bus import LocalBus
from relay.core.ports import Fields, SessionBus
from wire import Event, Mention, UserRef

ANN = UserRef(id="ann", name="Ann")


async def _local() -> tuple[SessionBus, SessionBus]:
    bus = LocalBus()
    return bus, bus


BUSES: dict[str, Callable[[], Awaitable[tuple[SessionBus, SessionBus]]]] = {"local": _local}


class Recorder:
    """A BusListener that records what it is given."""

    def __init__(self) -> None:
        self.events: list[tuple[str, int, frozenset[str] | None]] = []
        self.frames: list[tuple[str, bytes, str, str | None]] = []
        self.presence: list[tuple[str, str, Fields]] = []
        self.mentions: list[tuple[str, str, int]] = []

    async def on_event(self, session_id: str, event: Event,
                       audience: frozenset[str] | None) -> None:
        self.events.append((session_id, event.seq, audience))

    def on_frame(self, session_id: str, data: bytes, kind: str,
                 exclude_user: str | None) -> None:
        self.frames.append((session_id, data, kind, exclude_user))

    def on_presence(self, session_id: str, user_id: str, fields: Fields) -> None:
        self.presence.append((session_id, user_id, fields))

    async def on_mention(self, session_id: str, user_id: str, mention: Mention) -> None:
        self.mentions.append((session_id, user_id, mention.seq))

    async def on_gap(self, session_id: str, after_seq: int) -> int:
        return after_seq  # nothing stored behind this listener

    async def on_departed(self, session_id: str, user_id: str) -> None:
        """Not recorded here."""


Pair = tuple[SessionBus, SessionBus, Recorder, Recorder]


@pytest.fixture(params=sorted(BUSES))
async def pair(request: pytest.FixtureRequest) -> AsyncIterator[Pair]:
    a, b = await BUSES[request.param]()
    ra, rb = Recorder(), Recorder()
    a.listen(ra)
    b.listen(rb)
    for bus in {id(a): a, id(b): b}.values():
        await bus.open()
        await bus.subscribe("s1")
    yield a, b, ra, rb
    for bus in {id(a): a, id(b): b}.values():
        await bus.close()


async def until(check: Callable[[], Any], timeout: float = 2.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "not delivered in time"
        await asyncio.sleep(0.005)


def _event(seq: int) -> Event:
    return Event(session_id="s1", seq=seq, id=f"e{seq}", kind="chat_created", actor=ANN, at=1.0)


def _fields(**values: str) -> Fields:
    return {k: f'"{v}"' for k, v in values.items()}


async def test_events_reach_every_process_in_the_order_each_was_published(pair: Pair):
    a, b, ra, rb = pair
    await a.publish_event("s1", _event(1), None)
    await b.publish_event("s1", _event(2), frozenset({"ann", "bob"}))
    await a.publish_event("s1", _event(3), None)
    for rec in (ra, rb):
        await until(lambda rec=rec: len(rec.events) == 3)  # type: ignore[misc]
        assert [seq for _, seq, _ in rec.events if seq != 2] == [1, 3]
        assert ("s1", 2, frozenset({"ann", "bob"})) in rec.events


async def test_frames_and_mentions_reach_every_process(pair: Pair):
    a, b, ra, rb = pair
    await a.publish("s1", b'{"type":"user_left"}', "user_left", exclude_user="bob")
    await b.send_mention("s1", "cat", Mention(session_id="s1", seq=7, by=ANN, text="@cat",
                                              at=1.0))
    for rec in (ra, rb):
        await until(lambda rec=rec: rec.frames and rec.mentions)  # type: ignore[misc]
        assert rec.frames == [("s1", b'{"type":"user_left"}', "user_left", "bob")]
        assert rec.mentions == [("s1", "cat", 7)]


async def test_a_user_is_online_from_their_first_live_connection_to_their_last(pair: Pair):
    a, b, _, _ = pair
    assert await a.arrive("s1", "bob", 1, _fields(user_id="bob", status="active"))
    assert not await b.arrive("s1", "bob", 2, _fields(user_id="bob", status="idle"))
    assert not await a.arrive("s1", "bob", 1, _fields(user_id="bob"))  # the same again
    assert await a.arrive("s1", "cat", 3, _fields(user_id="cat"))
    assert await b.online("s1") == {"bob", "cat"}
    assert (await b.presence("s1"))["bob"] == _fields(user_id="bob", status="active")
    assert not await a.depart("s1", "bob", 1)
    assert not await a.depart("s1", "bob", 1)  # already gone
    assert not await a.depart("s1", "dan", 9)  # never there
    assert await a.online("s1") == {"bob", "cat"}
    assert await b.depart("s1", "bob", 2)
    assert await a.online("s1") == {"cat"}
    assert set(await a.presence("s1")) == {"cat"}
    assert await a.online("s2") == set() and await a.presence("s2") == {}


async def test_presence_reaches_every_process_and_merges_into_the_registry(pair: Pair):
    a, b, ra, rb = pair
    await a.arrive("s1", "bob", 1, _fields(user_id="bob", status="active"))
    a.publish_presence("s1", "bob", _fields(focus="a.py"))
    b.publish_presence("s1", "bob", _fields(status="away"))
    a.publish_presence("s1", "dan", _fields(focus="b.py"))  # not online: delivered, not kept
    for rec in (ra, rb):
        await until(lambda rec=rec: len(rec.presence) == 3)  # type: ignore[misc]
        assert sorted((sid, uid, *f) for sid, uid, f in rec.presence) == [
            ("s1", "bob", "focus"), ("s1", "bob", "status"), ("s1", "dan", "focus")]
    expected = {"bob": _fields(user_id="bob", status="away", focus="a.py")}
    for bus in (b, a):  # every process's view converges
        deadline = time.monotonic() + 2.0
        while (latest := await bus.presence("s1")) != expected:
            assert time.monotonic() < deadline, latest
            await asyncio.sleep(0.005)
    latest["bob"]["status"] = '"changed by the caller"'
    assert (await a.presence("s1"))["bob"]["status"] == '"away"'  # a copy was returned


async def test_each_listener_may_keep_and_change_the_fields_it_is_given(pair: Pair):
    a, _, ra, rb = pair
    a.publish_presence("s1", "bob", _fields(focus="a.py"))
    await until(lambda: ra.presence and rb.presence)
    ra.presence[0][2]["focus"] = '"mine"'
    assert rb.presence[0][2]["focus"] == '"a.py"'
