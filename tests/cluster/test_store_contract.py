"""What the relay relies on from a Store, checked on every adapter (SQLite, PostgreSQL).

Each test runs once per store kind (the ``stores`` fixture in conftest.py) on a fresh
database; opening a second store on the same database stands for a second relay process or
a restart.
"""

from __future__ import annotations

import asyncio

import pytest

from relay.errors import DuplicateError, StoreError
from relay.store.base import InviteRecord, Store, UserRecord
from tests.cluster import storekit as kit
from tests.cluster.conftest import Stores
from wire import Invite

SID, PID = kit.SID, kit.PID
_session, _seqs = kit.session_with, kit.seqs


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
