"""What every Store (relay.core.ports.Store) promises the core, checked on each store.

The ``store`` fixture runs each test on every factory in STORES; a store of another
database joins by adding its factory there.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest

from relay.adapters.sqlite_store import SqliteStore
from relay.core.ports import Store
from relay.core.records import (
    Guard,
    InviteRecord,
    LogLine,
    MemberRecord,
    SessionRecord,
    UserRecord,
    Write,
    snapshot,
)
from relay.errors import AlreadyStored, GuardFailed, IdConflict, StoreError, WriteConflict
from wire import ChatMessage, Event, Invite, Mention, Participant, RepoIdentity, Role, UserRef

ANN = UserRef(id="ann", name="Ann")
WRITERS: frozenset[Role] = frozenset({"host", "editor"})


async def _sqlite(folder: Path) -> Store:
    store = SqliteStore(folder / "relay.sqlite3")
    await store.open()
    return store


STORES: dict[str, Callable[[Path], Awaitable[Store]]] = {"sqlite": _sqlite}


@pytest.fixture(params=sorted(STORES))
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Store]:
    s = await STORES[request.param](tmp_path)
    yield s
    await s.close()


async def _session(store: Store, sid: str = "s1", **members: Role) -> str:
    """A session hosted by ann, with ``members`` (user id -> role) added."""
    for uid in ("ann", *members):
        if await store.get_user(uid) is None:
            await store.create_user(UserRecord(id=uid, name=uid.title(), pw_hash="x",
                                               created_at=1.0))
    await store.create_session(
        SessionRecord(id=sid, name="s", repo=RepoIdentity(), repo_key=f"session:{sid}",
                      host="ann", created_at=1.0),
        MemberRecord(session_id=sid, user_id="ann", name="Ann", role="host", joined_at=1.0))
    for uid, role in members.items():
        await store.commit(_member_write(sid, uid, role))
    return sid


def _member_write(sid: str, uid: str, role: Role, removed_at: float | None = None) -> Write:
    m = MemberRecord(session_id=sid, user_id=uid, name=uid.title(), role=role, joined_at=2.0,
                     removed_at=removed_at)
    p = Participant(user=UserRef(id=uid, name=uid.title()), role=role, online=False)
    kind = "participant_removed" if removed_at is not None else "participant_joined"
    return Write(session_id=sid, id_prefix="member",
                 event=Event(session_id=sid, seq=0, id="", kind=kind, actor=ANN, at=2.0,
                             participant=p),
                 members=[m])


def _chat_write(sid: str, mid: str, *, user: str = "ann", fingerprint: str = "f",
                text: str = "t", guard: Guard | None = None) -> Write:
    author = UserRef(id=user, name=user.title())
    msg = ChatMessage(id=mid, session_id=sid, seq=0, author=author, text=text, created_at=2.0)
    mention = Mention(session_id=sid, seq=0, by=author, text=text, at=2.0, message_id=mid)
    return Write(session_id=sid,
                 event=Event(session_id=sid, seq=0, id=mid, kind="chat_created", actor=author,
                             at=2.0, message=msg),
                 client_id=mid, user_id=user, fingerprint=fingerprint, guard=guard,
                 chats=[msg], mentions=[("bob", mention)])


def _edit_write(sid: str, mid: str, base: ChatMessage, text: str) -> Write:
    edited = snapshot(base)
    edited.text = text
    return Write(session_id=sid,
                 event=Event(session_id=sid, seq=0, id=f"edit-{mid}-{text}", kind="chat_edited",
                             actor=ANN, at=3.0, message=edited),
                 client_id=f"edit-{mid}-{text}", user_id="ann", fingerprint=text,
                 bases=[snapshot(base)], chats=[edited])


async def test_commit_returns_the_event_it_stored_with_the_seq_it_allocated(store: Store):
    sid = await _session(store)
    event = await store.commit(_chat_write(sid, "m1"))
    assert (event.seq, event.id, event.kind) == (1, "m1", "chat_created")
    assert event.message is not None and event.message.seq == 1
    assert await store.events_after(sid, 0, "ann", 10) == [event]
    assert (await store.chat("m1")).seq == 1  # type: ignore[union-attr]
    assert [m.seq for m in await store.pending_mentions(sid, "bob")] == [1]
    assert (await store.action("m1")).seq == 1  # type: ignore[union-attr]
    assert (await store.get_session(sid)).last_seq == 1  # type: ignore[union-attr]


async def test_a_server_made_event_gets_its_id_from_its_prefix_and_seq(store: Store):
    sid = await _session(store, bob="editor")
    event = await store.commit(_member_write(sid, "bob", "viewer"))
    assert (event.id, event.seq) == ("member-2", 2)
    assert [m.role for m in await store.members(sid) if m.user_id == "bob"] == ["viewer"]


async def test_seq_is_per_session_and_gapless(store: Store):
    s1 = await _session(store, "s1")
    s2 = await _session(store, "s2")
    seqs = [(await store.commit(_chat_write(sid, f"m{i}"))).seq
            for i, sid in enumerate((s1, s2, s1, s1, s2))]
    assert seqs == [1, 1, 2, 3, 2]


async def test_seq_is_gapless_under_concurrent_commits(store: Store):
    sid = await _session(store)
    other = await _session(store, "s2")
    writes = [_chat_write(sid, f"m{i}") for i in range(40)]
    writes += [_chat_write(other, f"o{i}") for i in range(10)]
    events = await asyncio.gather(*(store.commit(w) for w in writes))
    assert sorted(e.seq for e in events if e.session_id == sid) == list(range(1, 41))
    assert sorted(e.seq for e in events if e.session_id == other) == list(range(1, 11))
    stored = await store.events_after(sid, 0, "ann", 100)
    assert [e.seq for e in stored] == list(range(1, 41))
    assert {e.id: e.seq for e in stored} == {e.id: e.seq for e in events if e.session_id == sid}
    assert (await store.get_session(sid)).last_seq == 40  # type: ignore[union-attr]


async def test_a_resent_id_gets_the_original_event_and_stores_no_second_row(store: Store):
    sid = await _session(store)
    first = await store.commit(_chat_write(sid, "m"))
    await store.commit(_chat_write(sid, "n"))
    with pytest.raises(AlreadyStored) as resent:
        await store.commit(_chat_write(sid, "m"))
    assert resent.value.event == first
    assert [e.id for e in await store.events_after(sid, 0, "ann", 10)] == ["m", "n"]
    assert (await store.get_session(sid)).last_seq == 2  # type: ignore[union-attr]
    assert len(await store.pending_mentions(sid, "bob")) == 2


async def test_the_same_id_sent_twice_at_once_is_stored_once(store: Store):
    sid = await _session(store)
    results = await asyncio.gather(*(store.commit(_chat_write(sid, "m")) for _ in range(5)),
                                   return_exceptions=True)
    stored = [r for r in results if isinstance(r, Event)]
    assert len(stored) == 1
    assert all(isinstance(r, AlreadyStored) and r.event == stored[0]
               for r in results if r is not stored[0])
    assert len(await store.events_after(sid, 0, "ann", 10)) == 1


async def test_an_id_used_for_another_action_or_by_another_user_is_refused(store: Store):
    sid = await _session(store, bob="editor")
    await store.commit(_chat_write(sid, "m"))
    with pytest.raises(IdConflict):
        await store.commit(_chat_write(sid, "m", fingerprint="other"))
    with pytest.raises(IdConflict):
        await store.commit(_chat_write(sid, "m", user="bob"))
    assert len(await store.events_after(sid, 0, "ann", 10)) == 2  # bob's join, m


async def test_the_guard_is_checked_inside_the_transaction(store: Store):
    sid = await _session(store, bob="viewer", cat="editor")
    await store.commit(_member_write(sid, "cat", "editor", removed_at=3.0))
    with pytest.raises(GuardFailed) as viewer:
        await store.commit(_chat_write(sid, "b", user="bob", guard=Guard("bob", WRITERS)))
    assert (viewer.value.role, viewer.value.ended) == ("viewer", False)
    with pytest.raises(GuardFailed) as removed:
        await store.commit(_chat_write(sid, "c", user="cat", guard=Guard("cat", WRITERS)))
    assert removed.value.role is None
    with pytest.raises(GuardFailed):
        await store.commit(_chat_write(sid, "d", user="dan", guard=Guard("dan", WRITERS)))
    end = _member_write(sid, "bob", "viewer")
    end.ended_at = 4.0
    await store.commit(end)
    with pytest.raises(GuardFailed) as ended:
        await store.commit(_chat_write(sid, "a", guard=Guard("ann", WRITERS)))
    assert (ended.value.role, ended.value.ended) == ("host", True)
    after = await store.commit(_chat_write(sid, "a2", guard=Guard("ann", WRITERS, open=False)))
    assert after.seq == 5
    assert [e.id for e in await store.events_after(sid, 3, "ann", 10)] == ["member-4", "a2"]


async def test_a_write_built_from_an_entity_that_changed_since_is_refused(store: Store):
    sid = await _session(store)
    await store.commit(_chat_write(sid, "m"))
    read = await store.chat("m")
    assert read is not None
    await store.commit(_edit_write(sid, "m", read, "first"))
    with pytest.raises(WriteConflict):
        await store.commit(_edit_write(sid, "m", read, "second"))  # built from the old text
    assert (await store.chat("m")).text == "first"  # type: ignore[union-attr]
    assert await store.action("edit-m-second") is None
    again = await store.chat("m")
    assert again is not None
    assert (await store.commit(_edit_write(sid, "m", again, "second"))).seq == 3
    gone = snapshot(again)
    gone.id = "never-stored"
    with pytest.raises(WriteConflict):
        await store.commit(_edit_write(sid, "x", gone, "third"))


async def test_a_write_that_fails_part_way_stores_nothing(store: Store):
    sid = await _session(store)
    bad = _chat_write(sid, "bad")
    bad.log = [LogLine(kind="x", actor=None, at=2.0)]  # type: ignore[arg-type]
    with pytest.raises(StoreError):
        await store.commit(bad)
    assert await store.chat("bad") is None
    assert await store.action("bad") is None
    assert await store.pending_mentions(sid, "bob") == []
    assert (await store.commit(_chat_write(sid, "good"))).seq == 1


async def test_an_invite_is_used_at_most_max_uses_times_even_at_once(store: Store):
    sid = await _session(store)
    inv = Invite(invite_id="i1", session_id=sid, role="editor", token="tok", expires_at=9e9,
                 max_uses=2)
    await store.create_invite(InviteRecord(invite=inv, created_by="ann", created_at=1.0))
    used = await asyncio.gather(*(store.use_invite("i1") for _ in range(5)))
    assert sorted(used) == [False, False, False, True, True]
    assert (await store.invite_by_token("tok")).invite.uses == 2  # type: ignore[union-attr]
    await store.revoke_invite(sid, "i1")
    inv2 = Invite(invite_id="i2", session_id=sid, role="viewer", token="tok2", expires_at=9e9)
    await store.create_invite(InviteRecord(invite=inv2, created_by="ann", created_at=1.0))
    await store.revoke_invite(sid, "i2")
    assert not await store.use_invite("i2")
