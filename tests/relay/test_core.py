"""The sans-I/O core without sockets: in-memory transports, a real SQLite store in memory."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path
from typing import Any

import pytest

from relay.adapters.local_bus import LocalBus
from relay.adapters.sqlite_store import SqliteStore
from relay.config import Config
from relay.core.client import Client
from relay.core.delivery import HOLD, HOLD_MAX, Delivery
from relay.core.records import MemberRecord, UserRecord, Write
from relay.core.room import normalize_remote, repo_key
from relay.core.service import Core
from relay.metrics import Metrics
from wire import (
    CLIENT_MESSAGES,
    CloseCode,
    Event,
    RepoIdentity,
    UserRef,
    decode_client,
    permissions,
)


class Wire:
    """A transport that records frames; ``busy`` simulates a full socket buffer."""

    def __init__(self) -> None:
        self.frames: list[dict[str, Any]] = []
        self.is_busy = False
        self.pending_bytes = 0
        self.closed: tuple[int, str] | None = None
        self.written_at: dict[str, float] = {}  # when a frame of each type was last written

    def write(self, data: bytes) -> None:
        frame = json.loads(data)
        self.frames.append(frame)
        self.written_at[frame["type"]] = time.monotonic()

    def write_now(self, data: bytes) -> bool:
        if self.is_busy or self.pending_bytes:
            return False
        self.write(data)
        return True

    def busy(self) -> bool:
        return self.is_busy

    def buffered(self) -> int:
        return self.pending_bytes

    def close(self, code: int, reason: str) -> None:
        self.closed = (code, reason)

    def of(self, kind: str) -> list[dict[str, Any]]:
        return [f for f in self.frames if f["type"] == kind]

    def take(self, kind: str) -> list[dict[str, Any]]:
        found = self.of(kind)
        self.frames = [f for f in self.frames if f["type"] != kind]
        return found


class Harness:
    def __init__(self, core: Core) -> None:
        self.core = core
        self.wires: dict[str, Wire] = {}
        self.clients: dict[str, Client] = {}
        self.n = 0

    async def client(self, name: str) -> Client:
        if await self.core.store.get_user(name) is None:
            await self.core.store.create_user(UserRecord(id=name, name=name.title(),
                                                         pw_hash="x", created_at=0.0))
        self.n += 1
        wire = Wire()
        c = self.core.connect(self.n, UserRef(id=name, name=name.title()), wire)
        self.wires[name] = wire
        self.clients[name] = c
        return c

    async def send(self, name: str, frame: dict[str, Any]) -> None:
        msg = decode_client(json.dumps(frame))
        c = self.clients[name]
        await self.core.handle(c, msg)

    def wire(self, name: str) -> Wire:
        return self.wires[name]


@pytest.fixture
async def h(tmp_path: Path):
    cfg = Config(data_dir=tmp_path, jwt_secret="s" * 32, presence_timeout=5.0)
    store = SqliteStore(":memory:")
    await store.open()
    metrics = Metrics()
    clock = [1000.0]
    core = Core(cfg, store, LocalBus(), metrics, clock=lambda: clock[0])
    yield Harness(core)
    await store.close()


async def _session(h: Harness, *guests: tuple[str, str]) -> str:
    await h.client("ann")
    await h.send("ann", {"type": "session_create", "name": "s", "repo": {"remote": "r/x"},
                         "rid": "c"})
    sid: str = h.wire("ann").take("session_state")[0]["session"]["session_id"]
    for name, role in guests:
        await h.send("ann", {"type": "invite_create", "session_id": sid, "role": role,
                             "rid": "i"})
        token = h.wire("ann").take("invite_result")[0]["invite"]["token"]
        await h.client(name)
        await h.send(name, {"type": "session_join", "invite": token, "rid": "j"})
        assert h.wire(name).take("session_state")
    return sid


def _cursor(sid: str, line: int) -> dict[str, Any]:
    pos = {"line": line, "character": 0}
    return {"type": "cursor", "session_id": sid, "path": "a.py",
            "selections": [{"anchor": pos, "active": pos}]}


# -- pure rules


def test_every_session_scoped_client_message_has_a_permission_row():
    session_scoped = {t for t, cls in CLIENT_MESSAGES.items()
                      if "session_id" in cls.__dataclass_fields__ and t != "session_join"}
    assert session_scoped == set(permissions.MATRIX)


def test_matrix_matches_the_documented_roles():
    assert permissions.allowed("thread_create", "editor")
    assert not permissions.allowed("thread_create", "viewer")
    assert permissions.allowed("chat_send", "viewer")
    assert permissions.allowed("reaction_toggle", "viewer")
    assert not permissions.allowed("invite_create", "editor")
    assert all(permissions.allowed(a, "host") for a in permissions.MATRIX)


@pytest.mark.parametrize(("url", "key"), [
    ("git@github.com:Acme/App.git", "github.com/acme/app"),
    ("https://github.com/acme/app/", "github.com/acme/app"),
    ("ssh://git@github.com/acme/app.git", "github.com/acme/app"),
    ("https://user@gitlab.example.com/team/app", "gitlab.example.com/team/app"),
])
def test_remote_urls_normalize_to_one_repository_key(url, key):
    assert normalize_remote(url) == key


def test_root_commit_wins_over_remote_and_no_identity_is_private():
    assert repo_key(RepoIdentity(remote="x/y", root_commit="ABC"), "s") == "commit:abc"
    assert repo_key(RepoIdentity(), "s1") == "session:s1"


def test_token_bucket_allows_a_burst_then_refills_with_time():
    c = Client(1, UserRef(id="u", name="u"), Wire(), now=0.0, rate=10.0, burst=3,
               max_buffer=1000)
    assert [c.allow(0.0) for _ in range(4)] == [True, True, True, False]
    assert c.strikes == 1
    assert not c.allow(0.05)
    assert c.allow(0.2)  # 0.2 s at 10/s refilled two tokens
    assert c.allow(0.2) and not c.allow(0.2)
    assert c.strikes == 3  # refusals add up even between accepted frames ...
    assert [c.allow(10.5) for _ in range(4)] == [True, True, True, False]
    assert c.strikes == 1  # ... within a 10 s window


# -- core with in-memory transports


async def test_durable_action_is_acked_to_sender_and_broadcast_once_with_seq(h):
    sid = await _session(h, ("bob", "editor"))
    await h.send("bob", {"type": "chat_send", "id": "m1", "session_id": sid, "text": "hi",
                         "rid": "1"})
    (ack,) = h.wire("bob").take("ack")
    assert ack == {"type": "ack", "id": "m1", "seq": ack["seq"], "rid": "1"}
    for name in ("ann", "bob"):
        (ev,) = [e for e in h.wire(name).take("event") if e["id"] == "m1"]
        assert ev["seq"] == ack["seq"] and ev["message"]["text"] == "hi"
    await h.send("bob", {"type": "chat_send", "id": "m1", "session_id": sid, "text": "hi",
                         "rid": "2"})
    assert h.wire("bob").take("ack")[0]["seq"] == ack["seq"]
    assert not h.wire("ann").of("event")


async def test_refusals_carry_code_rid_and_id(h):
    sid = await _session(h, ("vic", "viewer"))
    anchor = {"path": "a.py", "start_line": 0, "end_line": 0, "text": ["x"]}
    await h.send("vic", {"type": "thread_create", "id": "t1", "session_id": sid,
                         "anchor": anchor, "text": "no", "rid": "r9"})
    (err,) = h.wire("vic").take("error")
    assert (err["code"], err["rid"], err["id"]) == ("forbidden", "r9", "t1")
    await h.send("vic", {"type": "chat_send", "id": "c1", "session_id": "other",
                         "text": "x", "rid": "r10"})
    assert h.wire("vic").take("error")[0]["code"] == "not_in_session"


async def test_presence_of_one_loop_turn_goes_out_in_one_frame_without_echo(h):
    sid = await _session(h, ("bob", "editor"), ("cat", "viewer"))
    for w in h.wires.values():
        w.frames.clear()
    h.core.ephemeral(h.clients["bob"], decode_client(json.dumps(_cursor(sid, 1))))
    h.core.ephemeral(h.clients["cat"], decode_client(json.dumps(_cursor(sid, 2))))
    h.core.ephemeral(h.clients["bob"], decode_client(json.dumps(_cursor(sid, 3))))
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
    sid = await _session(h, ("bob", "editor"), ("cat", "editor"))
    h.wire("ann").frames.clear()
    h.core.ephemeral(h.clients["bob"], decode_client(json.dumps(_cursor(sid, 1))))
    (first,) = await _presence_frames(h.wire("ann"), 1)
    h.core.ephemeral(h.clients["cat"], decode_client(json.dumps(_cursor(sid, 2))))
    (second,) = await _presence_frames(h.wire("ann"), 1)
    assert [p["user_id"] for p in first["peers"]] == ["bob"]
    assert [p["user_id"] for p in second["peers"]] == ["cat"]


async def test_busy_cpu_that_keeps_up_flushes_every_loop_turn_without_coalescing(h):
    """A relay using most of its core but keeping up sends each update on the next loop
    turn: one peer per frame, nothing merged. (Spacing used to follow the CPU share.)"""
    sid = await _session(h, ("bob", "editor"), ("cat", "editor"))
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
        h.core.ephemeral(h.clients[name], decode_client(json.dumps(_cursor(sid, sent))))
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
    sid = await _session(h, ("bob", "editor"), ("cat", "editor"))
    fanout = h.core.delivery
    fanout.window, fanout.behind, fanout.hold = 0.2, 0.05, 0.3
    h.wire("ann").frames.clear()
    h.core.ephemeral(h.clients["bob"], decode_client(json.dumps(_cursor(sid, 0))))
    time.sleep(0.1)  # the loop is held up: the pending update gets 100 ms old
    await _presence_frames(h.wire("ann"), 1)
    first_at = h.wire("ann").written_at["presence"]
    assert fanout.spacing == 0.2  # behind: flushes are spaced now
    h.core.ephemeral(h.clients["bob"], decode_client(json.dumps(_cursor(sid, 1))))
    for _ in range(5):
        await asyncio.sleep(0)
    assert not h.wire("ann").of("presence")  # held back, not sent on the next turn
    h.core.ephemeral(h.clients["cat"], decode_client(json.dumps(_cursor(sid, 2))))
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
    h.core.ephemeral(h.clients["bob"], decode_client(json.dumps(_cursor(sid, 3))))
    await _presence_frames(h.wire("ann"), 1)
    assert fanout.spacing == 0.0
    h.core.ephemeral(h.clients["cat"], decode_client(json.dumps(_cursor(sid, 4))))
    (alone,) = await _presence_frames(h.wire("ann"), 1, timeout=0.15)  # not 200 ms later
    assert [p["user_id"] for p in alone["peers"]] == ["cat"]
    assert "ensemble_presence_flush_spacing_seconds 0.0" in h.core.metrics.render()


async def test_update_read_right_after_a_long_flush_counts_that_flush_as_waiting(h):
    """What arrives while a flush writes waits unread in its socket: a batch read straight
    after a long flush is late by that flush, though it was flushed on the next turn."""
    sid = await _session(h, ("bob", "editor"), ("cat", "editor"))
    fanout = h.core.delivery
    fanout.behind = 0.05
    slow = h.wire("ann")
    write_now = slow.write_now

    def stalls(data: bytes) -> bool:  # one write that holds the loop for 100 ms
        slow.write_now = write_now  # type: ignore[method-assign]
        time.sleep(0.1)
        return write_now(data)

    slow.write_now = stalls  # type: ignore[method-assign]
    h.core.ephemeral(h.clients["bob"], decode_client(json.dumps(_cursor(sid, 1))))
    fanout.flush()  # takes 100 ms
    assert fanout.spacing == 0.0
    h.core.ephemeral(h.clients["cat"], decode_client(json.dumps(_cursor(sid, 2))))
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
    sid = await _session(h, ("bob", "editor"), ("cat", "editor"))
    h.clients["cat"].presence_form = 2
    for w in h.wires.values():
        w.frames.clear()
    cur = _cursor(sid, 7) | {"sent_at": 1764000000.25, "content_hash": "ab" * 20}
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
    sid = await _session(h, ("bob", "editor"), ("cat", "editor"))
    slow = h.wire("ann")
    slow.frames.clear()
    slow.is_busy = True
    for line in range(100):
        h.core.ephemeral(h.clients["bob"], decode_client(json.dumps(_cursor(sid, line))))
        h.core.ephemeral(h.clients["cat"], decode_client(json.dumps(_cursor(sid, 500 + line))))
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
    sid = await _session(h, ("bob", "editor"), ("cat", "editor"))
    ann = h.clients["ann"]
    ann.presence_form = 2
    slow = h.wire("ann")
    slow.frames.clear()
    slow.is_busy = True
    for line in range(5):
        h.core.ephemeral(h.clients["bob"], decode_client(json.dumps(_cursor(sid, line))))
        h.core.ephemeral(h.clients["cat"], decode_client(json.dumps(_cursor(sid, 50 + line))))
        h.core.delivery.flush()
    assert not slow.frames
    slow.is_busy = False
    assert ann.flush_presence() == 2
    (frame,) = slow.take("p")
    assert frame == {"type": "p", "s": sid, "p": [{"c": ["a.py", [4, 0, 4, 0]], "u": "bob"},
                                                  {"c": ["a.py", [54, 0, 54, 0]], "u": "cat"}]}
    assert h.core.metrics.messages_out["p"] == 1


async def test_receiver_too_far_behind_is_disconnected_not_buffered_forever(h):
    sid = await _session(h, ("bob", "editor"))
    h.wire("ann").pending_bytes = 10**9
    await h.send("bob", {"type": "chat_send", "id": "m2", "session_id": sid, "text": "x"})
    assert h.wire("ann").closed is not None
    assert h.wire("ann").closed[0] == CloseCode.POLICY_VIOLATION


async def test_silent_client_expires_and_comes_back_on_its_next_frame(h):
    sid = await _session(h, ("bob", "editor"))
    bob = h.clients["bob"]
    h.wire("ann").frames.clear()
    h.clients["ann"].last_seen = bob.last_seen + 100
    await h.core.expire(bob.last_seen + 5.5)
    (left,) = h.wire("ann").take("user_left")
    assert left == {"type": "user_left", "session_id": sid, "user_id": "bob",
                    "reason": "timeout"}
    assert "bob" not in await h.core.bus.presence(sid)
    h.core.admit(bob, bob.last_seen + 6)
    await asyncio.sleep(0)  # announced on the next loop turn
    (joined,) = h.wire("ann").take("user_joined")
    assert joined["participant"]["user"]["id"] == "bob"


async def test_direct_message_events_reach_only_the_two_users(h):
    sid = await _session(h, ("bob", "editor"), ("cat", "viewer"))
    await h.send("ann", {"type": "chat_send", "id": "d1", "session_id": sid, "text": "psst",
                         "to": "bob"})
    assert h.wire("bob").of("event") and h.wire("ann").of("event")
    assert not h.wire("cat").of("event")
    events = await h.core.store.events_after(sid, 0, "cat", 100)
    assert all(e.id != "d1" for e in events)


async def test_mention_of_offline_member_waits_for_their_join(h):
    sid = await _session(h, ("bob", "editor"))
    await h.send("bob", {"type": "session_leave", "session_id": sid, "rid": "l"})
    await h.send("ann", {"type": "chat_send", "id": "m3", "session_id": sid,
                         "text": "hey @bob"})
    assert not h.wire("bob").of("mention")
    await h.send("bob", {"type": "session_join", "session_id": sid, "rid": "j2"})
    (state,) = h.wire("bob").take("session_state")
    assert [m["message_id"] for m in state["mentions"]] == ["m3"]
    assert await h.core.store.pending_mentions(sid, "bob") == []


async def test_refused_join_does_not_keep_the_session_loaded(h):
    sid = await _session(h)
    await h.client("eve")
    await h.send("ann", {"type": "session_leave", "session_id": sid, "rid": "l"})
    assert sid not in h.core.rooms
    await h.send("eve", {"type": "session_join", "session_id": sid, "rid": "x"})
    assert h.wire("eve").take("error")[0]["code"] == "not_in_session"
    assert sid not in h.core.rooms


async def test_requests_during_shutdown_are_refused_and_nothing_is_stored(h):
    sid = await _session(h)
    h.core.shutting_down = True
    await h.send("ann", {"type": "chat_send", "id": "late", "session_id": sid, "text": "x",
                         "rid": "s"})
    (err,) = h.wire("ann").take("error")
    assert (err["code"], err["id"]) == ("shutting_down", "late")
    assert await h.core.store.action("late") is None


async def test_concurrent_reactions_on_one_message_are_all_kept(h):
    """No lock orders writes in the core: a write built from a message that changed
    meanwhile is refused by the store and built again."""
    names = ("bob", "cat", "dan", "eve")
    sid = await _session(h, *((n, "editor") for n in names))
    await h.send("ann", {"type": "chat_send", "id": "m", "session_id": sid, "text": "vote"})
    await asyncio.gather(*(h.send(n, {"type": "reaction_toggle", "id": f"r-{n}",
                                      "session_id": sid, "target_id": "m", "emoji": "+1"})
                           for n in ("ann", *names)))
    stored = await h.core.store.chat("m")
    assert stored is not None and sorted(stored.reactions["+1"]) == sorted(("ann", *names))
    seqs = sorted(f["seq"] for n in ("ann", *names) for f in h.wire(n).take("ack"))
    assert seqs[-5:] == list(range(seqs[-5], seqs[-5] + 5))


async def test_an_edit_racing_a_delete_never_brings_the_message_back(h):
    sid = await _session(h, ("bob", "editor"))
    for i in range(5):
        await h.send("bob", {"type": "chat_send", "id": f"m{i}", "session_id": sid, "text": "x"})
        edit = h.send("bob", {"type": "chat_edit", "id": f"e{i}", "session_id": sid,
                              "message_id": f"m{i}", "text": "edited"})
        delete = h.send("bob", {"type": "chat_delete", "id": f"d{i}", "session_id": sid,
                                "message_id": f"m{i}"})
        await asyncio.gather(*((delete, edit) if i % 2 else (edit, delete)))
        stored = await h.core.store.chat(f"m{i}")
        assert stored is not None and stored.deleted and stored.text == ""


async def test_the_store_refuses_a_write_that_a_stale_role_cache_let_through(h):
    """Another process demoted bob; this one has not heard yet: the guard checked in the
    store's transaction refuses, and nothing is stored."""
    sid = await _session(h, ("bob", "editor"))
    demoted = MemberRecord(session_id=sid, user_id="bob", name="Bob", role="viewer",
                           joined_at=0.0)
    await h.core.store.commit(Write(
        session_id=sid, id_prefix="role", members=[demoted],
        event=Event(session_id=sid, seq=0, id="", kind="role_changed",
                    actor=UserRef(id="ann", name="Ann"), at=0.0)))
    assert h.core.rooms[sid].role_of("bob") == "editor"  # the cache is behind
    anchor = {"path": "a.py", "start_line": 0, "end_line": 0, "text": ["x"]}
    await h.send("bob", {"type": "thread_create", "id": "t1", "session_id": sid,
                         "anchor": anchor, "text": "no", "rid": "r"})
    (err,) = h.wire("bob").take("error")
    assert (err["code"], err["id"]) == ("forbidden", "t1")
    assert await h.core.store.action("t1") is None


async def test_a_join_after_an_end_this_process_has_not_heard_of_is_refused(h):
    sid = await _session(h)
    await h.send("ann", {"type": "invite_create", "session_id": sid, "role": "editor"})
    token = h.wire("ann").take("invite_result")[0]["invite"]["token"]
    await h.core.store.commit(Write(
        session_id=sid, id_prefix="end", ended_at=5.0,
        event=Event(session_id=sid, seq=0, id="", kind="session_ended",
                    actor=UserRef(id="ann", name="Ann"), at=5.0)))
    await h.client("bob")
    await h.send("bob", {"type": "session_join", "invite": token, "rid": "j"})
    (err,) = h.wire("bob").take("error")
    assert (err["code"], err["rid"]) == ("session_ended", "j")
    assert [m.user_id for m in await h.core.store.members(sid)] == ["ann"]
