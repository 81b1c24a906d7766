"""The sans-I/O core without sockets (tests/relay/coreharness.py): the permission and
repository rules, durable actions, refusals, mentions, shutdown and races."""

from __future__ import annotations

import asyncio

import pytest

from relay.core.client import Client
from relay.core.records import MemberRecord, Write
from relay.core.room import normalize_remote, repo_key
from tests.relay import coreharness as ch
from tests.relay.coreharness import Wire
from wire import (
    CLIENT_MESSAGES,
    Event,
    RepoIdentity,
    UserRef,
    permissions,
)

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
    sid = await ch.session(h, ("bob", "editor"))
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
    sid = await ch.session(h, ("vic", "viewer"))
    anchor = {"path": "a.py", "start_line": 0, "end_line": 0, "text": ["x"]}
    await h.send("vic", {"type": "thread_create", "id": "t1", "session_id": sid,
                         "anchor": anchor, "text": "no", "rid": "r9"})
    (err,) = h.wire("vic").take("error")
    assert (err["code"], err["rid"], err["id"]) == ("forbidden", "r9", "t1")
    await h.send("vic", {"type": "chat_send", "id": "c1", "session_id": "other",
                         "text": "x", "rid": "r10"})
    assert h.wire("vic").take("error")[0]["code"] == "not_in_session"


async def test_silent_client_expires_and_comes_back_on_its_next_frame(h):
    sid = await ch.session(h, ("bob", "editor"))
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
    sid = await ch.session(h, ("bob", "editor"), ("cat", "viewer"))
    await h.send("ann", {"type": "chat_send", "id": "d1", "session_id": sid, "text": "psst",
                         "to": "bob"})
    assert h.wire("bob").of("event") and h.wire("ann").of("event")
    assert not h.wire("cat").of("event")
    events = await h.core.store.events_after(sid, 0, "cat", 100)
    assert all(e.id != "d1" for e in events)


async def test_mention_of_offline_member_waits_for_their_join(h):
    sid = await ch.session(h, ("bob", "editor"))
    await h.send("bob", {"type": "session_leave", "session_id": sid, "rid": "l"})
    await h.send("ann", {"type": "chat_send", "id": "m3", "session_id": sid,
                         "text": "hey @bob"})
    assert not h.wire("bob").of("mention")
    await h.send("bob", {"type": "session_join", "session_id": sid, "rid": "j2"})
    (state,) = h.wire("bob").take("session_state")
    assert [m["message_id"] for m in state["mentions"]] == ["m3"]
    assert await h.core.store.pending_mentions(sid, "bob") == []


async def test_refused_join_does_not_keep_the_session_loaded(h):
    sid = await ch.session(h)
    await h.client("eve")
    await h.send("ann", {"type": "session_leave", "session_id": sid, "rid": "l"})
    assert sid not in h.core.rooms
    await h.send("eve", {"type": "session_join", "session_id": sid, "rid": "x"})
    assert h.wire("eve").take("error")[0]["code"] == "not_in_session"
    assert sid not in h.core.rooms


async def test_requests_during_shutdown_are_refused_and_nothing_is_stored(h):
    sid = await ch.session(h)
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
    sid = await ch.session(h, *((n, "editor") for n in names))
    await h.send("ann", {"type": "chat_send", "id": "m", "session_id": sid, "text": "vote"})
    await asyncio.gather(*(h.send(n, {"type": "reaction_toggle", "id": f"r-{n}",
                                      "session_id": sid, "target_id": "m", "emoji": "+1"})
                           for n in ("ann", *names)))
    stored = await h.core.store.chat("m")
    assert stored is not None and sorted(stored.reactions["+1"]) == sorted(("ann", *names))
    seqs = sorted(f["seq"] for n in ("ann", *names) for f in h.wire(n).take("ack"))
    assert seqs[-5:] == list(range(seqs[-5], seqs[-5] + 5))


async def test_an_edit_racing_a_delete_never_brings_the_message_back(h):
    sid = await ch.session(h, ("bob", "editor"))
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
    sid = await ch.session(h, ("bob", "editor"))
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
    sid = await ch.session(h)
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
