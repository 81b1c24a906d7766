"""The Store contract: users, sessions, projects, members, invites, reopening."""

from __future__ import annotations

import asyncio

import pytest

from relay.core.ports import Store
from relay.core.records import InviteRecord, UserRecord
from relay.errors import DuplicateError
from tests.storecontract import Contract, Stores, kit
from wire import Invite

SID, PID = kit.SID, kit.PID


def _invite(iid: str, token: str, at: float, max_uses: int | None = None) -> InviteRecord:
    return InviteRecord(invite=Invite(invite_id=iid, session_id=SID, role="editor", token=token,
                                      expires_at=at + 3600, max_uses=max_uses),
                        created_by="ann", created_at=at)


class RecordsContract(Contract):
    async def test_users_are_stored_once_and_read_back(self, store: Store) -> None:
        user = UserRecord(id="ann", name="Ann", pw_hash="$2b$04$hash", created_at=12.5)
        await store.create_user(user)
        assert await store.get_user("ann") == user
        assert await store.get_user("nobody") is None
        with pytest.raises(DuplicateError):
            await store.create_user(UserRecord(id="ann", name="Other", pw_hash="y",
                                               created_at=2.0))
        assert (await store.get_user("ann")) == user

    async def test_a_session_is_created_with_its_host_and_its_new_project(
            self, store: Store) -> None:
        await kit.users(store, "ann")
        await kit.new_session(store, SID, at=7.0)
        record = await store.get_session(SID)
        assert record is not None
        assert (record.id, record.host, record.host_name, record.project_id) == \
            (SID, "ann", "Ann", PID)
        assert record.repo.remote == "example.com/app" and record.repo_key == kit.REPO_KEY
        assert (record.created_at, record.ended_at, record.last_seq) == (7.0, None, 0)
        assert await store.get_session("nope") is None
        project = await store.get_project(PID)
        assert project is not None and (project.owner, project.created_at) == ("ann", 7.0)
        owner = await store.project_member(PID, "ann")
        assert owner is not None and (owner.granted_at, owner.removed_at) == (7.0, None)
        assert await store.project_member(PID, "bob") is None
        [host] = await store.members(SID)
        assert (host.user_id, host.name, host.role, host.removed_at) == \
            ("ann", "Ann", "host", None)

    async def test_latest_project_is_the_owners_newest_with_that_repository(
            self, store: Store) -> None:
        await kit.users(store, "ann", "bob")
        await kit.new_session(store, "a", project="old", at=1.0)
        await kit.new_session(store, "b", project="new", at=5.0)
        await kit.new_session(store, "c", project="same-time", at=5.0)  # the later one wins
        await kit.new_session(store, "d", project="other-repo", at=9.0, repo_key="remote:x/y")
        await kit.new_session(store, "e", "bob", project="bobs", at=9.0)
        found = await store.latest_project("ann", kit.REPO_KEY)
        assert found is not None and found.id == "same-time"
        assert await store.latest_project("cy", kit.REPO_KEY) is None
        # a second session in an existing project
        await kit.new_session(store, "f", project="old", new_project=False, at=10.0)
        assert (await store.get_session("f")).project_id == "old"  # type: ignore[union-attr]
        found = await store.latest_project("ann", kit.REPO_KEY)
        assert found is not None and found.id == "same-time"

    async def test_sessions_of_lists_live_memberships_newest_first(self, store: Store) -> None:
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

    async def test_members_join_change_role_and_leave_through_commits(
            self, store: Store) -> None:
        await kit.session(store, bob="editor")
        await kit.users(store, "cy")
        await store.commit(kit.join(SID, PID, "cy", role="viewer", at=6.0))
        assert [(m.user_id, m.role) for m in await store.members(SID)] == \
            [("ann", "host"), ("bob", "editor"), ("cy", "viewer")]
        changed = await store.commit(kit.join(SID, PID, "cy", role="editor", at=6.0))
        assert (changed.id, changed.seq) == ("join-3", 3)  # a server-made event's id
        await store.commit(kit.remove(SID, "bob", "editor", 5.0, at=8.0))
        members = {m.user_id: m for m in await store.members(SID)}
        assert members["cy"].role == "editor" and members["cy"].removed_at is None
        assert members["bob"].removed_at == 8.0  # kept, marked removed
        assert (await store.project_member(PID, "bob")).removed_at is None  # type: ignore[union-attr]

    async def test_member_reads_one_current_membership(self, store: Store) -> None:
        await kit.session(store, bob="editor")
        await kit.users(store, "cy")
        host = await store.member(SID, "ann")
        assert host is not None and (host.session_id, host.user_id, host.name, host.role,
                                     host.removed_at) == (SID, "ann", "Ann", "host", None)
        assert host == next(m for m in await store.members(SID) if m.user_id == "ann")
        await store.commit(kit.join(SID, PID, "bob", role="viewer", at=6.0))
        bob = await store.member(SID, "bob")
        assert bob is not None and bob.role == "viewer"
        assert await store.member(SID, "cy") is None  # never a member
        assert await store.member("other", "ann") is None
        await store.commit(kit.remove(SID, "bob", "viewer", 5.0, at=8.0))
        assert await store.member(SID, "bob") is None  # removed: not a member any more
        await store.commit(kit.join(SID, PID, "bob", role="editor", at=9.0))
        again = await store.member(SID, "bob")
        assert again is not None and (again.role, again.removed_at) == ("editor", None)

    async def test_a_project_revocation_removes_the_user_from_all_its_sessions(
            self, store: Store) -> None:
        await kit.session(store, bob="editor")
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

    async def test_ending_a_session_is_a_commit_and_leaves_the_open_count(
            self, store: Store) -> None:
        await kit.users(store, "ann")
        await kit.new_session(store, "a")
        await kit.new_session(store, "b")
        assert await store.session_count() == 2
        ended = await store.commit(kit.end("a", at=30.0))
        assert (ended.seq, ended.id) == (1, "end-1")
        record = await store.get_session("a")
        assert record is not None and (record.ended_at, record.last_seq) == (30.0, 1)
        assert await store.session_count() == 1

    # -- invites

    async def test_invites_are_found_by_token_counted_and_revoked(self, store: Store) -> None:
        await kit.session(store)
        await store.create_invite(_invite("i2", "tok-2", at=20.0, max_uses=3))
        await store.create_invite(_invite("i1", "tok-1", at=10.0))
        found = await store.invite_by_token("tok-2")
        assert found is not None and found.invite == Invite(
            invite_id="i2", session_id=SID, role="editor", token="tok-2", expires_at=3620.0,
            revoked=False, uses=0, max_uses=3)
        assert (found.created_by, found.created_at) == ("ann", 20.0)
        assert await store.invite_by_token("tok-3") is None
        assert await store.use_invite("i2") and await store.use_invite("i2")
        assert (await store.invite_by_token("tok-2")).invite.uses == 2  # type: ignore[union-attr]
        assert await store.use_invite("i1")  # no limit
        assert [r.invite.invite_id for r in await store.invites(SID)] == ["i1", "i2"]
        assert await store.revoke_invite("other-session", "i1") is False
        assert await store.revoke_invite(SID, "i1") is True
        assert (await store.invite_by_token("tok-1")).invite.revoked is True  # type: ignore[union-attr]
        assert await store.revoke_invite(SID, "missing") is False
        assert not await store.use_invite("i1")  # revoked
        assert not await store.use_invite("missing")

    async def test_an_invite_is_used_at_most_max_uses_times_even_at_once(
            self, stores: Stores) -> None:
        one, two = await stores.open(), await stores.open()
        await kit.session(one)
        await one.create_invite(_invite("i1", "tok", at=1.0, max_uses=2))
        used = await asyncio.gather(*((one, two)[i % 2].use_invite("i1") for i in range(6)))
        assert sorted(used) == [False] * 4 + [True] * 2
        assert (await one.invite_by_token("tok")).invite.uses == 2  # type: ignore[union-attr]

    # -- lifecycle

    async def test_everything_is_there_after_reopening_and_seq_goes_on(
            self, stores: Stores) -> None:
        first = await stores.open()
        await kit.session(first, bob="editor")
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
        assert (await again.commit(kit.chat(SID, "m2"))).seq == 4
        assert await kit.seqs(again) == [1, 2, 3, 4]

    async def test_a_healthy_store_passes_its_write_probe(self, store: Store) -> None:
        assert await store.probe() is None
