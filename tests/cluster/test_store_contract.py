"""What the relay relies on from a Store, checked on every adapter (SQLite, PostgreSQL).

Each test runs once per store kind (the ``stores`` fixture in conftest.py) on a fresh
database; opening a second store on the same database stands for a second relay process or
a restart.
"""

from __future__ import annotations

import asyncio

import pytest

from relay.errors import DuplicateError, StoreError
from relay.store.base import InviteRecord, LogLine, Store, UserRecord
from tests.cluster import storekit as kit
from tests.cluster.conftest import Stores
from wire import ChatMessage, Comment, Invite

SID = "s1"
PID = "p-s1"


async def _session(store: Store, *members: str) -> None:
    """Users ann (host of s1) and ``members`` (joined s1 as editors)."""
    await kit.users(store, "ann", *members)
    await kit.new_session(store, SID)
    for uid in members:
        await store.commit(kit.join(SID, PID, uid))


async def _seqs(store: Store, sid: str = SID, uid: str = "ann") -> list[int]:
    return [e.seq for e in await store.events_after(sid, 0, uid, 1000)]


# -- users


async def test_users_are_stored_once_and_read_back(store: Store) -> None:
    user = UserRecord(id="ann", name="Ann", pw_hash="$2b$04$hash", created_at=12.5)
    await store.create_user(user)
    assert await store.get_user("ann") == user
    assert await store.get_user("nobody") is None
    with pytest.raises(DuplicateError):
        await store.create_user(UserRecord(id="ann", name="Other", pw_hash="y", created_at=2.0))
    assert (await store.get_user("ann")) == user


# -- sessions, projects, members


async def test_a_session_is_created_with_its_host_and_its_new_project(store: Store) -> None:
    await kit.users(store, "ann")
    await kit.new_session(store, SID, at=7.0)
    record = await store.get_session(SID)
    assert record is not None
    assert (record.id, record.host, record.host_name, record.project_id) == \
        (SID, "ann", "Ann", PID)
    assert record.repo.remote == "example.com/app" and record.repo_key == "remote:example.com/app"
    assert (record.created_at, record.ended_at, record.last_seq) == (7.0, None, 0)
    assert await store.get_session("nope") is None
    project = await store.get_project(PID)
    assert project is not None and (project.owner, project.created_at) == ("ann", 7.0)
    owner = await store.project_member(PID, "ann")
    assert owner is not None and (owner.granted_at, owner.removed_at) == (7.0, None)
    assert await store.project_member(PID, "bob") is None
    [host] = await store.members(SID)
    assert (host.user_id, host.name, host.role, host.removed_at) == ("ann", "Ann", "host", None)


async def test_latest_project_is_the_owners_newest_with_that_repository(store: Store) -> None:
    await kit.users(store, "ann", "bob")
    await kit.new_session(store, "a", project="old", at=1.0)
    await kit.new_session(store, "b", project="new", at=5.0)
    await kit.new_session(store, "c", project="same-time", at=5.0)  # same time: the later one
    await kit.new_session(store, "d", project="other-repo", at=9.0, repo_key="remote:x/y")
    await kit.new_session(store, "e", "bob", project="bobs", at=9.0)
    found = await store.latest_project("ann", "remote:example.com/app")
    assert found is not None and found.id == "same-time"
    assert await store.latest_project("cy", "remote:example.com/app") is None
    # a second session in an existing project
    await kit.new_session(store, "f", project="old", new_project=False, at=10.0)
    assert (await store.get_session("f")).project_id == "old"  # type: ignore[union-attr]
    assert (await store.latest_project("ann", "remote:example.com/app")).id == "same-time"  # type: ignore[union-attr]


async def test_sessions_of_lists_live_memberships_newest_first(store: Store) -> None:
    await kit.users(store, "ann", "bob")
    await kit.new_session(store, "old", at=1.0)
    await kit.new_session(store, "new", at=2.0)
    await kit.new_session(store, "bobs", "bob", at=3.0)
    await store.commit(kit.join("bobs", "p-bobs", "ann", role="viewer", at=4.0))
    assert [(s.id, role) for s, role in await store.sessions_of("ann")] == \
        [("bobs", "viewer"), ("new", "host"), ("old", "host")]
    await store.commit(kit.remove("bobs", "ann", "viewer", 4.0, at=5.0))
    assert [s.id for s, _ in await store.sessions_of("ann")] == ["new", "old"]
    assert [s.host_name for s, _ in await store.sessions_of("bob")] == ["Bob"]
    assert await store.sessions_of("cy") == []


async def test_members_join_change_role_and_leave_through_commits(store: Store) -> None:
    await _session(store, "bob")
    await kit.users(store, "cy")
    await store.commit(kit.join(SID, PID, "cy", role="viewer", at=6.0))
    assert [(m.user_id, m.role) for m in await store.members(SID)] == \
        [("ann", "host"), ("bob", "editor"), ("cy", "viewer")]
    await store.commit(kit.join(SID, PID, "cy", role="editor", at=6.0))  # role change: upsert
    await store.commit(kit.remove(SID, "bob", "editor", 5.0, at=8.0))
    members = {m.user_id: m for m in await store.members(SID)}
    assert members["cy"].role == "editor" and members["cy"].removed_at is None
    assert members["bob"].removed_at == 8.0  # kept, marked removed
    assert (await store.project_member(PID, "bob")).removed_at is None  # type: ignore[union-attr]


async def test_a_project_revocation_removes_the_user_from_all_its_sessions(store: Store) -> None:
    await _session(store, "bob")
    await kit.new_session(store, "s2", project=PID, new_project=False, at=2.0)
    await kit.new_session(store, "elsewhere", at=3.0)
    await store.commit(kit.join("s2", PID, "bob", at=6.0))
    await store.commit(kit.join("elsewhere", "p-elsewhere", "bob", at=6.0))
    await store.commit(kit.remove(SID, "bob", "editor", 5.0, at=9.0, revoke_project=PID))
    pm = await store.project_member(PID, "bob")
    assert pm is not None and (pm.granted_at, pm.removed_at) == (6.0, 9.0)  # the last grant
    assert [s.id for s, _ in await store.sessions_of("bob")] == ["elsewhere"]
    s2 = {m.user_id: m.removed_at for m in await store.members("s2")}
    assert s2["bob"] == 9.0
    # granted again later: a fresh grant time, no removal
    await store.commit(kit.join(SID, PID, "bob", at=12.0))
    pm = await store.project_member(PID, "bob")
    assert pm is not None and (pm.granted_at, pm.removed_at) == (12.0, None)


async def test_ending_a_session_is_a_commit_and_leaves_the_open_count(store: Store) -> None:
    await kit.users(store, "ann")
    await kit.new_session(store, "a")
    await kit.new_session(store, "b")
    assert await store.session_count() == 2
    seq = await store.commit(kit.end("a", at=30.0))
    assert seq == 1
    record = await store.get_session("a")
    assert record is not None and (record.ended_at, record.last_seq) == (30.0, 1)
    assert await store.session_count() == 1


# -- invites


def _invite(iid: str, token: str, at: float, max_uses: int | None = None) -> InviteRecord:
    return InviteRecord(invite=Invite(invite_id=iid, session_id=SID, role="editor", token=token,
                                      expires_at=at + 3600, max_uses=max_uses),
                        created_by="ann", created_at=at)


async def test_invites_are_found_by_token_counted_and_revoked(store: Store) -> None:
    await _session(store)
    await store.create_invite(_invite("i2", "tok-2", at=20.0, max_uses=3))
    await store.create_invite(_invite("i1", "tok-1", at=10.0))
    found = await store.invite_by_token("tok-2")
    assert found is not None and found.invite == Invite(
        invite_id="i2", session_id=SID, role="editor", token="tok-2", expires_at=3620.0,
        revoked=False, uses=0, max_uses=3)
    assert (found.created_by, found.created_at) == ("ann", 20.0)
    assert await store.invite_by_token("tok-3") is None
    await store.use_invite("i2")
    await store.use_invite("i2")
    assert (await store.invite_by_token("tok-2")).invite.uses == 2  # type: ignore[union-attr]
    assert [r.invite.invite_id for r in await store.invites(SID)] == ["i1", "i2"]
    assert await store.revoke_invite("other-session", "i1") is False
    assert await store.revoke_invite(SID, "i1") is True
    assert (await store.invite_by_token("tok-1")).invite.revoked is True  # type: ignore[union-attr]
    assert await store.revoke_invite(SID, "missing") is False


# -- durable changes: seq and client ids


async def test_seq_is_per_session_gapless_and_kept_on_the_session(store: Store) -> None:
    await _session(store)
    await kit.new_session(store, "s2")
    seqs = [await store.commit(kit.chat(SID, f"m{i}")) for i in range(3)]
    assert seqs == [1, 2, 3]
    assert await store.commit(kit.chat("s2", "other")) == 1
    assert await store.commit(kit.join(SID, PID, "ann", role="host")) == 4  # no client id
    assert (await store.get_session(SID)).last_seq == 4  # type: ignore[union-attr]
    assert await _seqs(store) == [1, 2, 3, 4]


async def test_a_failed_write_stores_nothing_and_gives_its_seq_back(store: Store) -> None:
    await _session(store)
    bad = kit.chat(SID, "bad")

    def boom(seq: int) -> object:
        raise RuntimeError("boom")

    bad.build = boom  # type: ignore[assignment]
    with pytest.raises(RuntimeError):
        await store.commit(bad)
    assert await store.chat("bad") is None
    assert await store.action("bad") is None
    assert await store.commit(kit.chat(SID, "good")) == 1
    assert await _seqs(store) == [1]


async def test_a_commit_into_an_unknown_session_is_refused(store: Store) -> None:
    with pytest.raises(StoreError):
        await store.commit(kit.chat("nowhere", "m"))
    assert await store.action("m") is None


async def test_an_action_is_kept_with_its_seq_user_and_fingerprint(store: Store) -> None:
    await _session(store)
    seq = await store.commit(kit.chat(SID, "m1"))
    action = await store.action("m1")
    assert action is not None
    assert (action.client_id, action.user_id, action.session_id, action.fingerprint,
            action.seq) == ("m1", "ann", SID, "fp-m1", seq)
    assert await store.action("m2") is None


async def test_a_client_id_used_for_another_action_is_refused(store: Store) -> None:
    await _session(store, "bob")
    await store.commit(kit.chat(SID, "m", "first"))
    other = kit.chat(SID, "m", "second", author="bob")
    with pytest.raises(DuplicateError):
        await store.commit(other)
    assert (await store.chat("m")).text == "first"  # type: ignore[union-attr]
    assert await _seqs(store) == [1, 2]  # bob's join, the first message
    assert await store.commit(kit.chat(SID, "n")) == 3  # the refused write took no seq


async def test_the_same_action_committed_again_is_stored_once(stores: Stores) -> None:
    """PostgreSQL decides a repeat inside the transaction and answers with the stored seq
    (the commit of several processes); SQLite refuses it (the relay checks ``action`` first,
    under the room lock of its one process)."""
    store = await stores.open()
    await _session(store)
    first = await store.commit(kit.chat(SID, "m"))
    if stores.kind == "postgres":
        assert await store.commit(kit.chat(SID, "m")) == first
    else:
        with pytest.raises(DuplicateError):
            await store.commit(kit.chat(SID, "m"))
    assert await _seqs(store) == [first]
    assert await store.commit(kit.chat(SID, "n")) == first + 1


async def test_two_stores_on_one_database_share_one_gapless_seq(stores: Stores) -> None:
    one, two = await stores.open(), await stores.open()
    await _session(one)
    writes = [(one if i % 2 else two).commit(kit.chat(SID, f"m{i}")) for i in range(20)]
    seqs = await asyncio.gather(*writes)
    assert sorted(seqs) == list(range(1, 21))
    assert await _seqs(two) == list(range(1, 21))
    assert (await one.get_session(SID)).last_seq == 20  # type: ignore[union-attr]


# -- history: events, chat pages, catch-up


async def test_events_after_a_seq_in_order_with_a_limit(store: Store) -> None:
    await _session(store)
    for i in range(5):
        await store.commit(kit.chat(SID, f"m{i}"))
    events = await store.events_after(SID, 2, "ann", 2)
    assert [(e.seq, e.id, e.kind) for e in events] == [(3, "m2", "chat_created"),
                                                        (4, "m3", "chat_created")]
    assert events[0].message is not None and events[0].message.seq == 3
    assert await store.events_after(SID, 5, "ann", 10) == []
    assert await store.events_after("other", 0, "ann", 10) == []


async def test_a_direct_message_is_seen_only_by_its_two_users(store: Store) -> None:
    await _session(store, "bob", "cy")
    await store.commit(kit.chat(SID, "public"))
    await store.commit(kit.chat(SID, "dm", "psst", to="bob"))
    for uid, visible in (("ann", ["public", "dm"]), ("bob", ["public", "dm"]),
                         ("cy", ["public"])):
        events = await store.events_after(SID, 0, uid, 100)
        assert [e.id for e in events if e.kind == "chat_created"] == visible, uid
        page, more = await store.chat_page(SID, uid, None, 10)
        assert ([m.id for m in page], more) == (visible, False), uid


async def test_chat_pages_go_back_from_the_newest(store: Store) -> None:
    await _session(store)
    for i in range(7):
        await store.commit(kit.chat(SID, f"m{i}"))
    page, more = await store.chat_page(SID, "ann", None, 3)
    assert ([m.id for m in page], more) == (["m4", "m5", "m6"], True)
    page, more = await store.chat_page(SID, "ann", page[0].seq, 3)
    assert ([m.id for m in page], more) == (["m1", "m2", "m3"], True)
    page, more = await store.chat_page(SID, "ann", page[0].seq, 3)
    assert ([m.id for m in page], more) == (["m0"], False)
    assert await store.chat_page("other", "ann", None, 3) == ([], False)


async def test_an_edited_message_keeps_its_seq_and_its_event_history(store: Store) -> None:
    await _session(store)
    await store.commit(kit.chat(SID, "m", "draft"))
    msg = await store.chat("m")
    assert msg is not None and (msg.text, msg.seq) == ("draft", 1)
    msg.text, msg.edited_at = "final", 9.0
    assert await store.commit(kit.chat_update(SID, msg, "e1")) == 2
    msg.reactions = {"👍": ["ann"]}
    await store.commit(kit.chat_update(SID, msg, "r1", "chat_reaction"))
    stored = await store.chat("m")
    assert stored is not None
    assert (stored.text, stored.seq, stored.edited_at, stored.reactions) == \
        ("final", 1, 9.0, {"👍": ["ann"]})
    assert [e.kind for e in await store.events_after(SID, 0, "ann", 10)] == \
        ["chat_created", "chat_edited", "chat_reaction"]
    page, _ = await store.chat_page(SID, "ann", None, 10)
    assert [(m.id, m.text) for m in page] == [("m", "final")]
    assert await store.chat("missing") is None


async def test_text_survives_byte_for_byte(store: Store) -> None:
    await _session(store)
    text = "naïve café — 日本語 𝄞 🧑‍💻 \u05e9\u05dc\u05d5\u05dd ' \" \\ %s %(x)s ? $1 \t\n end"
    await store.commit(kit.chat(SID, "m", text))
    assert (await store.chat("m")).text == text  # type: ignore[union-attr]
    [event] = await store.events_after(SID, 0, "ann", 1)
    assert event.message is not None and event.message.text == text


async def test_paging_through_all_chat_exports_everything_in_order(store: Store) -> None:
    """What export does: pages of 500 from the newest back to the first."""
    await _session(store, "bob")
    for i in range(1001):
        await store.commit(kit.chat(SID, f"m{i}", to="bob" if i % 100 == 0 else None))
    seen: list[ChatMessage] = []
    before: int | None = None
    while True:
        page, more = await store.chat_page(SID, "ann", before, 500)
        seen[:0] = page
        if not more or not page:
            break
        before = page[0].seq
    assert [m.id for m in seen] == [f"m{i}" for i in range(1001)]
    page, _ = await store.chat_page(SID, "cy", None, 2000)
    assert len(page) == 1001 - 11


# -- threads, comments, reactions


async def test_a_thread_is_stored_with_its_comments_and_its_project(store: Store) -> None:
    await _session(store, "bob")
    await store.commit(kit.new_thread(SID, PID, "t1", at=3.0))
    reply = Comment(id="t1-c1", thread_id="t1", author=kit.ref("bob"), text="reply",
                    created_at=3.0)  # same time as the first: insertion order decides
    await store.commit(kit.comment_write(SID, reply, "t1-c1", actor="bob"))
    found = await store.thread("t1")
    assert found is not None
    thread, project = found
    assert project == PID
    assert (thread.anchor.path, thread.anchor.text, thread.author.id) == \
        ("src/app.py", ["a = 1", "b = 2"], "ann")
    assert [c.id for c in thread.comments] == ["t1-c0", "t1-c1"]
    assert await store.comment("t1-c1") == reply
    assert await store.thread("missing") is None
    assert await store.comment("missing") is None


async def test_reactions_edits_and_resolving_update_in_place(store: Store) -> None:
    await _session(store, "bob")
    await store.commit(kit.new_thread(SID, PID, "t1"))
    comment = await store.comment("t1-c0")
    assert comment is not None
    comment.reactions = {"🎉": ["bob"]}
    await store.commit(kit.comment_write(SID, comment, "r1", "comment_reaction", actor="bob"))
    comment.text, comment.edited_at = "edited", 8.0
    await store.commit(kit.comment_write(SID, comment, "e1", "comment_edited"))
    found = await store.thread("t1")
    assert found is not None
    thread = found[0]
    thread.resolved, thread.resolved_by = True, "bob"
    await store.commit(kit.thread_write(SID, PID, thread, "res1"))
    found = await store.thread("t1")
    assert found is not None
    thread = found[0]
    assert (thread.resolved, thread.resolved_by) == (True, "bob")
    [first] = thread.comments  # resolving keeps the comments
    assert (first.text, first.edited_at, first.reactions) == ("edited", 8.0, {"🎉": ["bob"]})


async def test_project_threads_outlive_the_session_and_stay_in_their_project(
        store: Store) -> None:
    await _session(store)
    await kit.new_session(store, "s2", project=PID, new_project=False, at=2.0)
    await kit.new_session(store, "other", at=2.0)
    await store.commit(kit.new_thread(SID, PID, "t-late", at=5.0))
    await store.commit(kit.new_thread("s2", PID, "t-early", at=4.0))
    await store.commit(kit.new_thread("s2", PID, "t-tie", at=5.0))
    await store.commit(kit.new_thread("other", "p-other", "t-other", at=1.0))
    await store.commit(kit.end(SID, at=6.0))
    threads = await store.project_threads(PID)
    assert [t.id for t in threads] == ["t-early", "t-late", "t-tie"]
    assert [[c.id for c in t.comments] for t in threads] == \
        [["t-early-c0"], ["t-late-c0"], ["t-tie-c0"]]
    assert [t.id for t in await store.project_threads("p-other")] == ["t-other"]
    assert await store.project_threads("p-none") == []


async def test_a_deleted_thread_goes_with_its_comments(store: Store) -> None:
    await _session(store)
    await store.commit(kit.new_thread(SID, PID, "t1"))
    await store.commit(kit.new_thread(SID, PID, "t2"))
    write = kit.thread_write(SID, PID, (await store.thread("t1"))[0], "d1",  # type: ignore[index]
                             "thread_deleted")
    write.threads, write.deleted_threads = [], ["t1"]
    await store.commit(write)
    assert await store.thread("t1") is None
    assert await store.comment("t1-c0") is None
    assert [t.id for t in await store.project_threads(PID)] == ["t2"]
    assert [e.kind for e in await store.events_after(SID, 0, "ann", 10)][-1] == "thread_deleted"


# -- mentions and the event log


async def test_mentions_wait_until_delivered(store: Store) -> None:
    await _session(store, "bob", "cy")
    s1 = await store.commit(kit.chat(SID, "m1", "hi @bob", mentions=["bob"]))
    s2 = await store.commit(kit.chat(SID, "m2", "@bob @cy", mentions=["bob", "cy"]))
    pending = await store.pending_mentions(SID, "bob")
    assert [(m.seq, m.message_id, m.by.id) for m in pending] == [(s1, "m1", "ann"),
                                                                  (s2, "m2", "ann")]
    await store.mark_mentions_delivered(SID, "bob", s1)
    assert [m.message_id for m in await store.pending_mentions(SID, "bob")] == ["m2"]
    assert [m.message_id for m in await store.pending_mentions(SID, "cy")] == ["m2"]
    await store.mark_mentions_delivered(SID, "bob", s2)
    assert await store.pending_mentions(SID, "bob") == []
    assert await store.pending_mentions("other", "cy") == []


async def test_the_event_log_keeps_the_newest_lines_oldest_first(store: Store) -> None:
    await _session(store, "bob")  # bob's join writes a member_added line
    for i in range(4):
        await store.append_log(SID, LogLine(kind="join", actor="ann", at=10.0 + i,
                                            subject=f"x{i}", detail=None if i else "first"))
    await kit.new_session(store, "s2")
    await store.append_log("s2", LogLine(kind="join", actor="ann", at=1.0))
    entries = await store.log(SID, 3)
    assert [(e.kind, e.subject, e.at) for e in entries] == \
        [("join", "x1", 11.0), ("join", "x2", 12.0), ("join", "x3", 13.0)]
    every = await store.log(SID, 100)
    assert [e.kind for e in every] == ["member_added", "join", "join", "join", "join"]
    assert every[1].detail == "first" and every[2].detail is None
    assert [e.seq for e in every] == sorted(e.seq for e in every)
    assert len({e.seq for e in every}) == 5


# -- lifecycle


async def test_everything_is_there_after_reopening_and_seq_goes_on(stores: Stores) -> None:
    first = await stores.open()
    await _session(first, "bob")
    await first.commit(kit.chat(SID, "m1"))
    await first.commit(kit.new_thread(SID, PID, "t1"))
    await first.create_invite(_invite("i1", "tok-1", at=1.0))
    await stores.close(first)
    again = await stores.open()  # applies no migration twice
    assert await again.probe() is None
    assert (await again.get_user("bob")) is not None
    assert (await again.get_session(SID)).last_seq == 3  # type: ignore[union-attr]
    assert await again.invite_by_token("tok-1") is not None
    assert (await again.thread("t1")) is not None
    assert await again.commit(kit.chat(SID, "m2")) == 4
    assert await _seqs(again) == [1, 2, 3, 4]


async def test_a_healthy_store_passes_its_write_probe(store: Store) -> None:
    assert await store.probe() is None  # type: ignore[attr-defined]
