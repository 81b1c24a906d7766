"""The sans-I/O core's presence delivery (tests/relay/coreharness.py): one frame per loop
turn, spacing only while the relay is behind, per-receiver encodings, busy receivers."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

from relay.core.delivery import HOLD, HOLD_MAX, Delivery
from relay.metrics import Metrics
from tests.relay import coreharness as ch
from tests.relay.coreharness import Wire
from wire import (
    CloseCode,
    decode_client,
)


async def test_presence_of_one_loop_turn_goes_out_in_one_frame_without_echo(h):
    sid = await ch.session(h, ("bob", "editor"), ("cat", "viewer"))
    for w in h.wires.values():
        w.frames.clear()
    h.core.ephemeral(h.clients["bob"], decode_client(json.dumps(ch.cursor(sid, 1))))
    h.core.ephemeral(h.clients["cat"], decode_client(json.dumps(ch.cursor(sid, 2))))
    h.core.ephemeral(h.clients["bob"], decode_client(json.dumps(ch.cursor(sid, 3))))
    h.core.delivery.flush()
    (ann,) = h.wire("ann").take("presence")
    lines = {p["user_id"]: p["cursor"]["selections"][0]["active"]["line"] for p in ann["peers"]}
    assert lines == {"bob": 3, "cat": 2}
    (bob,) = h.wire("bob").take("presence")
    assert [p["user_id"] for p in bob["peers"]] == ["cat"]
    (cat,) = h.wire("cat").take("presence")
    assert [p["user_id"] for p in cat["peers"]] == ["bob"]


async def _presence_frames(wire: Wire, n: int, timeout: float = 2.0) -> list[dict[str, Any]]:
    """Wait (loop turns, bounded) until ``wire`` holds n presence frames; take them."""
    deadline = time.monotonic() + timeout
    while len(wire.of("presence")) < n:
        assert time.monotonic() < deadline, f"{len(wire.of('presence'))} of {n} frames"
        await asyncio.sleep(0.001)
    return wire.take("presence")


async def test_idle_relay_flushes_presence_every_loop_turn(h):
    sid = await ch.session(h, ("bob", "editor"), ("cat", "editor"))
    h.wire("ann").frames.clear()
    h.core.ephemeral(h.clients["bob"], decode_client(json.dumps(ch.cursor(sid, 1))))
    (first,) = await _presence_frames(h.wire("ann"), 1)
    h.core.ephemeral(h.clients["cat"], decode_client(json.dumps(ch.cursor(sid, 2))))
    (second,) = await _presence_frames(h.wire("ann"), 1)
    assert [p["user_id"] for p in first["peers"]] == ["bob"]
    assert [p["user_id"] for p in second["peers"]] == ["cat"]


async def test_busy_cpu_that_keeps_up_flushes_every_loop_turn_without_coalescing(h):
    """A relay using most of its core but keeping up sends each update on the next loop
    turn: one peer per frame, nothing merged. (Spacing used to follow the CPU share.)"""
    sid = await ch.session(h, ("bob", "editor"), ("cat", "editor"))
    fanout = h.core.delivery
    fanout.behind = 0.2  # only a relay 200 ms late counts as behind (a loaded test machine)
    h.wire("ann").frames.clear()
    sent = 0
    end = time.monotonic() + 0.8
    while time.monotonic() < end:
        spin = time.process_time() + 0.001
        while time.process_time() < spin:  # the relay's CPU near a whole core
            pass
        name = ("bob", "cat")[sent % 2]
        h.core.ephemeral(h.clients[name], decode_client(json.dumps(ch.cursor(sid, sent))))
        sent += 1
        await asyncio.sleep(0)
    frames = await _presence_frames(h.wire("ann"), 1)
    deadline = time.monotonic() + 2.0
    while sum(len(f["peers"]) for f in frames) < sent and time.monotonic() < deadline:
        await asyncio.sleep(0.001)
        frames += h.wire("ann").take("presence")
    assert fanout.spacing == 0.0
    assert h.core.metrics.presence_coalesced == 0
    assert [len(f["peers"]) for f in frames] == [1] * sent  # every update, one per frame


async def test_relay_behind_spaces_flushes_then_flushes_every_turn_again(h):
    sid = await ch.session(h, ("bob", "editor"), ("cat", "editor"))
    fanout = h.core.delivery
    fanout.window, fanout.behind, fanout.hold = 0.2, 0.05, 0.3
    h.wire("ann").frames.clear()
    h.core.ephemeral(h.clients["bob"], decode_client(json.dumps(ch.cursor(sid, 0))))
    time.sleep(0.1)  # the loop is held up: the pending update gets 100 ms old
    await _presence_frames(h.wire("ann"), 1)
    first_at = h.wire("ann").written_at["presence"]
    assert fanout.spacing == 0.2  # behind: flushes are spaced now
    h.core.ephemeral(h.clients["bob"], decode_client(json.dumps(ch.cursor(sid, 1))))
    for _ in range(5):
        await asyncio.sleep(0)
    assert not h.wire("ann").of("presence")  # held back, not sent on the next turn
    h.core.ephemeral(h.clients["cat"], decode_client(json.dumps(ch.cursor(sid, 2))))
    # The first frame after that flush holds both (bob's was not sent alone, early or late)
    # and was written no sooner than the spacing after it: waiting for it is the whole
    # window, not a pause.
    (frame,) = await _presence_frames(h.wire("ann"), 1, timeout=5.0)
    assert h.wire("ann").written_at["presence"] - first_at >= 0.2 - 0.005
    assert {p["user_id"] for p in frame["peers"]} == {"bob", "cat"}  # they share a frame
    assert [p["cursor"]["selections"][0]["active"]["line"] for p in frame["peers"]
            if p["user_id"] == "bob"] == [1]
    bob = h.wire("bob").take("presence")[-1]
    assert [p["user_id"] for p in bob["peers"]] == ["cat"]  # still no echo
    await asyncio.sleep(0.35)  # past the hold: the next flush that is on time ends spacing
    h.core.ephemeral(h.clients["bob"], decode_client(json.dumps(ch.cursor(sid, 3))))
    await _presence_frames(h.wire("ann"), 1)
    assert fanout.spacing == 0.0
    h.core.ephemeral(h.clients["cat"], decode_client(json.dumps(ch.cursor(sid, 4))))
    (alone,) = await _presence_frames(h.wire("ann"), 1, timeout=0.15)  # not 200 ms later
    assert [p["user_id"] for p in alone["peers"]] == ["cat"]
    assert "ensemble_presence_flush_spacing_seconds 0.0" in h.core.metrics.render()


async def test_update_read_right_after_a_long_flush_counts_that_flush_as_waiting(h):
    """What arrives while a flush writes waits unread in its socket: a batch read straight
    after a long flush is late by that flush, though it was flushed on the next turn."""
    sid = await ch.session(h, ("bob", "editor"), ("cat", "editor"))
    fanout = h.core.delivery
    fanout.behind = 0.05
    slow = h.wire("ann")
    write_now = slow.write_now

    def stalls(data: bytes) -> bool:  # one write that holds the loop for 100 ms
        slow.write_now = write_now  # type: ignore[method-assign]
        time.sleep(0.1)
        return write_now(data)

    slow.write_now = stalls  # type: ignore[method-assign]
    h.core.ephemeral(h.clients["bob"], decode_client(json.dumps(ch.cursor(sid, 1))))
    fanout.flush()  # takes 100 ms
    assert fanout.spacing == 0.0
    h.core.ephemeral(h.clients["cat"], decode_client(json.dumps(ch.cursor(sid, 2))))
    await _presence_frames(h.wire("bob"), 1)  # cat's, on the next loop turn
    assert fanout.spacing == fanout.window  # behind: flushes are spaced now


def test_relay_that_keeps_falling_behind_keeps_spacing_longer():
    fanout = Delivery(Metrics(), window=0.004)
    fanout._pace(10.0, 0.001)  # on time: nothing changes
    assert fanout.spacing == 0.0
    fanout._pace(10.0, 0.02)  # behind: spaced for HOLD after this flush
    assert fanout.spacing == 0.004
    fanout._pace(10.0 + HOLD / 2, 0.0)
    assert fanout.spacing == 0.004
    fanout._pace(10.0 + HOLD, 0.0)  # on time once the hold is over: back to every turn
    assert fanout.spacing == 0.0
    fanout._pace(10.0 + HOLD + 0.01, 0.02)  # behind again at once: overloaded, twice as long
    fanout._pace(10.0 + 2.5 * HOLD, 0.0)
    assert fanout.spacing == 0.004
    fanout._pace(10.0 + 3.1 * HOLD, 0.0)
    assert fanout.spacing == 0.0
    for _ in range(10):  # it never grows past HOLD_MAX
        fanout._pace(100.0, 0.02)
        fanout._pace(100.0 + HOLD_MAX, 0.0)
        assert fanout.spacing == 0.0
    fanout._pace(1000.0, 0.02)  # a stall long after: a short hold again
    fanout._pace(1000.0 + HOLD, 0.0)
    assert fanout.spacing == 0.0
    off = Delivery(Metrics(), window=0.0)
    off._pace(10.0, 1.0)
    assert off.spacing == 0.0


async def test_each_receiver_gets_the_presence_encoding_it_asked_for(h):
    sid = await ch.session(h, ("bob", "editor"), ("cat", "editor"))
    h.clients["cat"].presence_form = 2
    for w in h.wires.values():
        w.frames.clear()
    cur = ch.cursor(sid, 7) | {"sent_at": 1764000000.25, "content_hash": "ab" * 20}
    h.core.ephemeral(h.clients["bob"], decode_client(json.dumps(cur)))
    h.core.ephemeral(h.clients["ann"], decode_client(json.dumps(
        {"type": "status", "session_id": sid, "status": "away"})))
    h.core.delivery.flush()
    (old,) = h.wire("ann").take("presence")
    assert old["peers"][0]["cursor"]["selections"][0]["active"]["line"] == 7
    (short,) = h.wire("cat").take("p")
    assert short == {"type": "p", "s": sid, "p": [
        {"u": "bob", "c": ["a.py", [7, 0, 7, 0], "ab" * 20], "t": 1764000000.25},
        {"s": "away", "u": "ann"}]}
    assert [p["user_id"] for p in h.wire("bob").take("presence")[0]["peers"]] == ["ann"]
    assert h.core.metrics.messages_out["p"] == 1


async def test_busy_receiver_gets_latest_value_per_peer_once_drained(h):
    sid = await ch.session(h, ("bob", "editor"), ("cat", "editor"))
    slow = h.wire("ann")
    slow.frames.clear()
    slow.is_busy = True
    for line in range(100):
        h.core.ephemeral(h.clients["bob"], decode_client(json.dumps(ch.cursor(sid, line))))
        h.core.ephemeral(h.clients["cat"], decode_client(json.dumps(ch.cursor(sid, 500 + line))))
        h.core.delivery.flush()
    assert not slow.of("presence")
    pending = h.clients["ann"].pending[sid]
    assert set(pending) == {"bob", "cat"}  # bounded by peers, not by updates
    slow.is_busy = False
    h.clients["ann"].flush_presence()
    (frame,) = slow.take("presence")
    lines = {p["user_id"]: p["cursor"]["selections"][0]["active"]["line"]
             for p in frame["peers"]}
    assert lines == {"bob": 99, "cat": 599}
    assert len(h.wire("bob").take("presence")) == 100  # a fast receiver got every batch


async def test_busy_compact_receiver_gets_the_latest_per_peer_in_its_encoding(h):
    sid = await ch.session(h, ("bob", "editor"), ("cat", "editor"))
    ann = h.clients["ann"]
    ann.presence_form = 2
    slow = h.wire("ann")
    slow.frames.clear()
    slow.is_busy = True
    for line in range(5):
        h.core.ephemeral(h.clients["bob"], decode_client(json.dumps(ch.cursor(sid, line))))
        h.core.ephemeral(h.clients["cat"], decode_client(json.dumps(ch.cursor(sid, 50 + line))))
        h.core.delivery.flush()
    assert not slow.frames
    slow.is_busy = False
    assert ann.flush_presence() == 2
    (frame,) = slow.take("p")
    assert frame == {"type": "p", "s": sid, "p": [{"c": ["a.py", [4, 0, 4, 0]], "u": "bob"},
                                                  {"c": ["a.py", [54, 0, 54, 0]], "u": "cat"}]}
    assert h.core.metrics.messages_out["p"] == 1


async def test_receiver_too_far_behind_is_disconnected_not_buffered_forever(h):
    sid = await ch.session(h, ("bob", "editor"))
    h.wire("ann").pending_bytes = 10**9
    await h.send("bob", {"type": "chat_send", "id": "m2", "session_id": sid, "text": "x"})
    assert h.wire("ann").closed is not None
    assert h.wire("ann").closed[0] == CloseCode.POLICY_VIOLATION



async def test_receivers_follow_joins_and_leaves_between_flushes(h):
    """A flush reads the session's receivers as they are now: one who joined since the
    last flush gets the next, one who left gets nothing more (and a member back on a new
    connection gets it on that connection only)."""
    sid = await ch.session(h, ("bob", "editor"))

    def move(line: int) -> None:
        h.core.ephemeral(h.clients["bob"], decode_client(json.dumps(ch.cursor(sid, line))))
        h.core.delivery.flush()

    def lines(name: str) -> list[int]:
        return [p["cursor"]["selections"][0]["active"]["line"]
                for f in h.wire(name).take("presence") for p in f["peers"]]

    move(1)
    assert lines("ann") == [1]
    await h.send("ann", {"type": "invite_create", "session_id": sid, "role": "viewer",
                         "rid": "i"})
    token = h.wire("ann").take("invite_result")[0]["invite"]["token"]
    await h.client("cat")
    await h.send("cat", {"type": "session_join", "invite": token, "rid": "j"})
    h.wire("cat").frames.clear()
    move(2)
    assert lines("ann") == [2] and lines("cat") == [2]
    await h.send("cat", {"type": "session_leave", "session_id": sid, "rid": "l"})
    move(3)
    assert lines("ann") == [3] and lines("cat") == []
    old = h.wire("ann")
    await h.core.disconnect(h.clients["ann"])
    await h.client("ann")
    await h.send("ann", {"type": "session_join", "session_id": sid, "rid": "j2"})
    h.wire("ann").frames.clear()
    old.frames.clear()
    move(4)
    assert lines("ann") == [4] and old.of("presence") == []
