"""Two cores on one bus and one store, as two relay processes would run: nothing one
core decides may depend on state that only it holds (who is online, presence, roles,
removals, the end, mentions, the participant count)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path

import pytest

from relay.adapters.local_bus import LocalBus
from relay.adapters.sqlite_store import SqliteStore
from relay.config import Config
from relay.core import wirejson
from relay.core.records import MemberRecord, SessionRecord
from relay.core.room import Room
from relay.core.service import Core
from relay.metrics import Metrics
from tests.relay.coreharness import Harness
from tests.relay.coreharness import cursor as _cursor
from wire import CloseCode, Event, Participant, RepoIdentity, Role, UserRef, decode_client

Pair = tuple[Harness, Harness]


@pytest.fixture
async def cores(tmp_path: Path) -> AsyncIterator[Pair]:
    cfg = Config(data_dir=tmp_path, jwt_secret="s" * 32, presence_timeout=5.0,
                 max_participants=3)
    store = SqliteStore(":memory:")
    await store.open()
    bus = LocalBus()
    a, b = Harness(Core(cfg, store, bus, Metrics())), Harness(Core(cfg, store, bus, Metrics()))
    b.n = 1000  # connection ids are per process: the bus tells them apart by process
    yield a, b
    await store.close()


async def _session(a: Harness, b: Harness, on_b: dict[str, str], on_a: dict[str, str]) -> str:
    """ann hosts on core a; ``on_b`` / ``on_a``: guests (name -> role) joining there."""
    await a.client("ann")
    await a.send("ann", {"type": "session_create", "name": "s", "repo": {"remote": "r/x"}})
    sid: str = a.wire("ann").take("session_state")[0]["session"]["session_id"]
    for h, guests in ((b, on_b), (a, on_a)):
        for name, role in guests.items():
            await a.send("ann", {"type": "invite_create", "session_id": sid, "role": role})
            token = a.wire("ann").take("invite_result")[0]["invite"]["token"]
            await h.client(name)
            await h.send(name, {"type": "session_join", "invite": token})
            assert h.wire(name).take("session_state")
    return sid


async def test_presence_and_durable_events_cross_to_the_other_core(cores: Pair):
    a, b = cores
    sid = await _session(a, b, {"bob": "editor"}, {})
    a.core.ephemeral(a.clients["ann"], decode_client(json.dumps(_cursor(sid, 4))))
    b.core.delivery.flush()
    (frame,) = b.wire("bob").take("presence")
    assert frame["peers"][0]["user_id"] == "ann"
    await b.send("bob", {"type": "chat_send", "id": "m1", "session_id": sid, "text": "hi"})
    (ack,) = b.wire("bob").take("ack")
    (event,) = [e for e in a.wire("ann").take("event") if e["kind"] == "chat_created"]
    assert (event["id"], event["seq"]) == ("m1", ack["seq"])


async def test_a_joiner_on_one_core_sees_who_is_online_on_the_other(cores: Pair):
    a, b = cores
    sid = await _session(a, b, {}, {"cat": "viewer"})
    await a.send("ann", {"type": "status", "session_id": sid, "status": "away"})
    await a.send("ann", {"type": "invite_create", "session_id": sid, "role": "editor"})
    token = a.wire("ann").take("invite_result")[0]["invite"]["token"]
    await b.client("bob")
    await b.send("bob", {"type": "session_join", "invite": token})
    (state,) = b.wire("bob").take("session_state")
    online = {p["user"]["id"]: (p["online"], p["status"]) for p in state["participants"]}
    assert online == {"ann": (True, "away"), "cat": (True, "active"), "bob": (True, "active")}
    assert {p["user_id"]: p.get("status") for p in state["presence"]} == \
        {"ann": "away", "cat": "active"}
    await b.send("bob", {"type": "viewers", "session_id": sid, "path": "a.py"})
    await a.send("ann", {"type": "focus", "session_id": sid, "path": "a.py"})
    await b.send("bob", {"type": "viewers", "session_id": sid, "path": "a.py", "rid": "v"})
    found = [r["users"] for r in b.wire("bob").take("viewers_result")]
    assert found == [[], [{"id": "ann", "name": "Ann"}]]


async def test_a_user_on_both_cores_comes_online_once_and_leaves_once(cores: Pair):
    a, b = cores
    sid = await _session(a, b, {"bob": "editor"}, {})
    assert len(a.wire("ann").take("user_joined")) == 1
    second = await a.client("bob")
    await a.send("bob", {"type": "session_join", "session_id": sid})
    assert not a.wire("ann").of("user_joined")  # online already, through core b
    await a.core.leave(a.core.rooms[sid], second, "left")
    assert not a.wire("ann").of("user_left")
    await b.send("bob", {"type": "session_leave", "session_id": sid})
    (left,) = a.wire("ann").take("user_left")
    assert left["user_id"] == "bob"


async def test_the_participant_count_is_the_sessions_not_one_cores(cores: Pair):
    a, b = cores
    sid = await _session(a, b, {"bob": "editor", "cat": "viewer"}, {})  # three online
    await a.send("ann", {"type": "invite_create", "session_id": sid, "role": "viewer"})
    token = a.wire("ann").take("invite_result")[0]["invite"]["token"]
    await a.client("dan")
    await a.send("dan", {"type": "session_join", "invite": token})
    assert a.wire("dan").take("error")[0]["code"] == "session_full"


async def test_a_role_change_on_one_core_governs_the_other(cores: Pair):
    a, b = cores
    sid = await _session(a, b, {"bob": "editor"}, {})
    await a.send("ann", {"type": "role_set", "session_id": sid, "user_id": "bob",
                         "role": "viewer"})
    anchor = {"path": "a.py", "start_line": 0, "end_line": 0, "text": ["x"]}
    await b.send("bob", {"type": "thread_create", "id": "t1", "session_id": sid,
                         "anchor": anchor, "text": "no"})
    assert b.wire("bob").take("error")[0]["code"] == "forbidden"
    changed = [e for e in b.wire("bob").take("event") if e["kind"] == "role_changed"]
    assert changed[0]["participant"]["role"] == "viewer"


async def test_a_removal_on_one_core_closes_the_users_sockets_on_the_other(cores: Pair):
    a, b = cores
    sid = await _session(a, b, {"bob": "editor"}, {})
    await a.send("ann", {"type": "participant_remove", "session_id": sid, "user_id": "bob"})
    assert b.wire("bob").closed is not None and b.wire("bob").closed[0] == CloseCode.REMOVED
    assert [e["kind"] for e in b.wire("bob").of("event")][-1] == "participant_removed"
    (left,) = a.wire("ann").take("user_left")
    assert (left["user_id"], left["reason"]) == ("bob", "removed")
    assert sid not in b.core.rooms


async def test_the_end_and_mentions_cross_to_the_other_core(cores: Pair):
    a, b = cores
    sid = await _session(a, b, {"bob": "editor"}, {})
    await a.send("ann", {"type": "chat_send", "id": "m1", "session_id": sid, "text": "@bob hi"})
    (mention,) = b.wire("bob").take("mention")
    assert mention["mention"]["message_id"] == "m1"
    assert await b.core.store.pending_mentions(sid, "bob") == []
    await a.send("ann", {"type": "session_end", "session_id": sid})
    await b.send("bob", {"type": "chat_send", "id": "m2", "session_id": sid, "text": "late"})
    assert b.wire("bob").take("error")[0]["code"] == "session_ended"


async def test_a_promotion_the_other_core_has_not_heard_of_yet_is_taken_from_the_store(
        cores: Pair):
    """The room is a cache: a role granted on core a lets bob write on core b at once,
    before the event reaches b (a late bus), and a role taken away there is refused by the
    commit's guard; a viewer whose stored role agrees is refused as before. Each time the
    store disagreed, b's cache took the stored role."""
    a, b = cores
    sid = await _session(a, b, {"bob": "viewer"}, {})
    anchor = {"path": "a.py", "start_line": 0, "end_line": 0, "text": ["x"]}

    def thread(tid: str) -> dict[str, object]:
        return {"type": "thread_create", "id": tid, "session_id": sid, "anchor": anchor,
                "text": "t"}

    await b.send("bob", thread("t0"))
    assert b.wire("bob").take("error")[0]["code"] == "forbidden"
    listeners = a.core.bus._listeners  # type: ignore[attr-defined]
    listeners.remove(b.core)  # b hears nothing from a for now
    for role, tid, outcome in (("editor", "t1", "ack"), ("viewer", "t2", "error")):
        await a.send("ann", {"type": "role_set", "session_id": sid, "user_id": "bob",
                             "role": role})
        await b.send("bob", thread(tid))
        [frame] = b.wire("bob").take(outcome)
        assert frame["code"] == "forbidden" if outcome == "error" else frame["id"] == tid
        assert b.core.rooms[sid].role_of("bob") == role  # from the store, not the bus
    listeners.append(b.core)


async def test_a_role_read_from_the_store_is_kept_so_the_next_action_reads_nothing(
        cores: Pair, monkeypatch: pytest.MonkeyPatch):
    """Once core b has read bob's newer role from the store, it keeps it: bob's next
    actions there are permitted without reading the store again, and the grant's event,
    arriving late, changes nothing."""
    a, b = cores
    sid = await _session(a, b, {"bob": "viewer"}, {})
    store = b.core.store
    reads: list[str] = []
    read = store.member

    async def counted(session_id: str, user_id: str) -> MemberRecord | None:
        reads.append(user_id)
        return await read(session_id, user_id)

    monkeypatch.setattr(store, "member", counted)
    listeners = a.core.bus._listeners  # type: ignore[attr-defined]
    listeners.remove(b.core)  # b hears nothing from a for now
    await a.send("ann", {"type": "role_set", "session_id": sid, "user_id": "bob",
                         "role": "editor"})
    (granted,) = [e for e in a.wire("ann").take("event") if e["kind"] == "role_changed"]
    anchor = {"path": "a.py", "start_line": 0, "end_line": 0, "text": ["x"]}
    for tid in ("t1", "t2", "t3"):
        await b.send("bob", {"type": "thread_create", "id": tid, "session_id": sid,
                             "anchor": anchor, "text": "t"})
        assert [f["id"] for f in b.wire("bob").take("ack")] == [tid]
    assert reads == ["bob"]  # the first action only
    room = b.core.rooms[sid]
    assert room.role_of("bob") == "editor"
    listeners.append(b.core)
    [late] = await store.events_after(sid, granted["seq"] - 1, "bob", 1)
    assert late.kind == "role_changed"
    await b.core.on_event(sid, late, None)  # the grant's event, late
    assert room.role_of("bob") == "editor" and reads == ["bob"]


async def test_a_user_back_on_a_revived_core_is_announced_once_to_the_others(cores: Pair):
    """The bus registered core b's connections again after b was taken for dead
    (on_revived): bob, connected to b, is announced online with his presence; a core where
    bob has no connection announces nothing."""
    a, b = cores
    sid = await _session(a, b, {"bob": "editor"}, {})
    a.wire("ann").take("user_joined")
    fields = wirejson.plain_fields("status", "idle")
    await a.core.on_revived(sid, "bob", fields)
    assert not a.wire("ann").of("user_joined")
    await b.core.on_revived(sid, "bob", fields)
    (joined,) = a.wire("ann").take("user_joined")
    p = joined["participant"]
    assert (p["user"]["id"], p["online"], p["status"], p["role"]) == \
        ("bob", True, "idle", "editor")
    assert not b.wire("bob").of("user_joined")

def test_a_role_confirmed_from_the_store_is_ordered_against_the_events():
    """Room.confirm: a read that began at seq 2 is dropped when a later event of the member
    was applied meanwhile; once taken, no event up to seq 2 undoes it, a later one does."""
    record = SessionRecord(id="s", name="s", repo=RepoIdentity(), repo_key="k", host="ann",
                           created_at=0.0, last_seq=2)
    bob = MemberRecord(session_id="s", user_id="bob", name="Bob", role="viewer", joined_at=1.0)
    room = Room(record, [bob])

    def changed(seq: int, role: Role) -> Event:
        p = Participant(user=UserRef(id="bob", name="Bob"), role=role, online=True,
                        joined_at=1.0)
        return Event(session_id="s", seq=seq, id=f"e{seq}", kind="role_changed",
                     actor=UserRef(id="ann", name="Ann"), at=2.0, participant=p)

    as_editor = replace(bob, role="editor")
    room.apply(changed(3, "viewer"))  # applied while the read was under way
    room.confirm(as_editor, 2)
    assert room.role_of("bob") == "viewer"
    room.confirm(as_editor, 3)
    assert room.role_of("bob") == "editor"
    room.apply(changed(3, "viewer"))  # late, and older than the read
    assert room.role_of("bob") == "editor"
    room.apply(changed(4, "viewer"))
    assert room.role_of("bob") == "viewer"
