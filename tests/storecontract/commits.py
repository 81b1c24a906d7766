"""The Store contract: ``commit``. The client id, the guard and the bases are checked in
that order inside the commit's transaction; then the session's next seq is stamped and
everything is stored, or nothing is."""

from __future__ import annotations

import asyncio

import pytest

from relay.core.ports import Store
from relay.core.records import Guard, LogLine, snapshot
from relay.errors import AlreadyStored, GuardFailed, IdConflict, StoreError, WriteConflict
from tests.storecontract import Contract, Stores, kit
from wire import Event

SID, PID, WRITERS = kit.SID, kit.PID, kit.WRITERS


class CommitContract(Contract):
    async def test_commit_returns_the_event_it_stored_with_the_seq_it_allocated(
            self, store: Store) -> None:
        await kit.session(store)
        event = await store.commit(kit.chat(SID, "m1", mentions=["bob"]))
        assert (event.seq, event.id, event.kind) == (1, "m1", "chat_created")
        assert event.message is not None and event.message.seq == 1
        assert await store.events_after(SID, 0, "ann", 10) == [event]
        assert (await store.chat("m1")).seq == 1  # type: ignore[union-attr]
        assert [m.seq for m in await store.pending_mentions(SID, "bob")] == [1]
        action = await store.action("m1")
        assert action is not None
        assert (action.client_id, action.user_id, action.session_id, action.fingerprint,
                action.seq) == ("m1", "ann", SID, "fp-m1", 1)
        assert await store.action("m2") is None
        assert (await store.get_session(SID)).last_seq == 1  # type: ignore[union-attr]

    async def test_seq_is_per_session_gapless_and_kept_on_the_session(
            self, store: Store) -> None:
        await kit.session(store)
        await kit.session(store, "s2")
        seqs = [(await store.commit(kit.chat(sid, f"m{i}"))).seq
                for i, sid in enumerate((SID, "s2", SID, SID, "s2"))]
        assert seqs == [1, 1, 2, 3, 2]
        assert (await store.commit(kit.join(SID, PID, "ann", role="host"))).seq == 4  # no id
        assert (await store.get_session(SID)).last_seq == 4  # type: ignore[union-attr]
        assert await kit.seqs(store) == [1, 2, 3, 4]

    async def test_seq_is_gapless_under_concurrent_commits(self, store: Store) -> None:
        await kit.session(store)
        await kit.session(store, "s2")
        writes = [kit.chat(SID, f"m{i}") for i in range(40)]
        writes += [kit.chat("s2", f"o{i}") for i in range(10)]
        events = await asyncio.gather(*(store.commit(w) for w in writes))
        assert sorted(e.seq for e in events if e.session_id == SID) == list(range(1, 41))
        assert sorted(e.seq for e in events if e.session_id == "s2") == list(range(1, 11))
        stored = await store.events_after(SID, 0, "ann", 100)
        assert [e.seq for e in stored] == list(range(1, 41))
        assert {e.id: e.seq for e in stored} == \
            {e.id: e.seq for e in events if e.session_id == SID}
        assert (await store.get_session(SID)).last_seq == 40  # type: ignore[union-attr]

    async def test_two_stores_on_one_database_share_one_gapless_seq(
            self, stores: Stores) -> None:
        one, two = await stores.open(), await stores.open()
        await kit.session(one)
        writes = [(one if i % 2 else two).commit(kit.chat(SID, f"m{i}")) for i in range(20)]
        events = await asyncio.gather(*writes)
        assert sorted(e.seq for e in events) == list(range(1, 21))
        assert await kit.seqs(two) == list(range(1, 21))
        assert (await one.get_session(SID)).last_seq == 20  # type: ignore[union-attr]

    async def test_a_commit_into_an_unknown_session_is_refused(self, store: Store) -> None:
        with pytest.raises(StoreError):
            await store.commit(kit.chat("nowhere", "m"))
        assert await store.action("m") is None

    # -- client ids

    async def test_a_resent_id_gets_the_original_event_and_stores_no_second_row(
            self, store: Store) -> None:
        await kit.session(store)
        first = await store.commit(kit.chat(SID, "m", mentions=["bob"]))
        await store.commit(kit.chat(SID, "n", mentions=["bob"]))
        with pytest.raises(AlreadyStored) as resent:
            await store.commit(kit.chat(SID, "m", mentions=["bob"]))
        assert resent.value.event == first
        assert [e.id for e in await store.events_after(SID, 0, "ann", 10)] == ["m", "n"]
        assert len(await store.pending_mentions(SID, "bob")) == 2
        assert (await store.commit(kit.chat(SID, "o"))).seq == 3  # the resend took no seq

    async def test_the_same_id_sent_twice_at_once_is_stored_once(self, store: Store) -> None:
        await kit.session(store)
        results = await asyncio.gather(*(store.commit(kit.chat(SID, "m")) for _ in range(5)),
                                       return_exceptions=True)
        stored = [r for r in results if isinstance(r, Event)]
        assert len(stored) == 1
        assert all(isinstance(r, AlreadyStored) and r.event == stored[0]
                   for r in results if r is not stored[0])
        assert len(await store.events_after(SID, 0, "ann", 10)) == 1
        assert (await store.commit(kit.chat(SID, "n"))).seq == 2

    async def test_an_id_used_for_another_action_or_by_another_user_is_refused(
            self, store: Store) -> None:
        await kit.session(store, bob="editor")
        await store.commit(kit.chat(SID, "m", "first"))
        with pytest.raises(IdConflict):
            await store.commit(kit.chat(SID, "m", fingerprint="other"))
        with pytest.raises(IdConflict):
            await store.commit(kit.chat(SID, "m", "second", author="bob"))
        assert (await store.chat("m")).text == "first"  # type: ignore[union-attr]
        assert await kit.seqs(store) == [1, 2]  # bob's join, the first message
        assert (await store.commit(kit.chat(SID, "n"))).seq == 3  # refused writes took no seq

    # -- guard and bases

    async def test_the_guard_is_checked_inside_the_transaction(self, store: Store) -> None:
        await kit.session(store, bob="viewer", cat="editor")
        await store.commit(kit.remove(SID, "cat", "editor", 5.0, at=3.0))
        with pytest.raises(GuardFailed) as viewer:
            await store.commit(kit.chat(SID, "b", author="bob", guard=Guard("bob", WRITERS)))
        assert (viewer.value.role, viewer.value.ended) == ("viewer", False)
        with pytest.raises(GuardFailed) as removed:
            await store.commit(kit.chat(SID, "c", author="cat", guard=Guard("cat", WRITERS)))
        assert removed.value.role is None
        with pytest.raises(GuardFailed):
            await store.commit(kit.chat(SID, "d", author="dan", guard=Guard("dan", WRITERS)))
        await store.commit(kit.end(SID, at=4.0))
        with pytest.raises(GuardFailed) as ended:
            await store.commit(kit.chat(SID, "a", guard=Guard("ann", WRITERS)))
        assert (ended.value.role, ended.value.ended) == ("host", True)
        with pytest.raises(GuardFailed):
            await store.commit(kit.chat(SID, "e", guard=Guard(None)))  # no member check
        after = await store.commit(kit.chat(SID, "a2", guard=Guard("ann", WRITERS, open=False)))
        assert after.seq == 5
        assert [e.id for e in await store.events_after(SID, 3, "ann", 10)] == ["end-4", "a2"]
        assert [await store.action(m) for m in "bcdae"] == [None] * 5

    async def test_a_stored_id_is_answered_before_the_guard(self, store: Store) -> None:
        """A resend after a demotion still gets its original event."""
        await kit.session(store, bob="editor")
        sent = await store.commit(kit.chat(SID, "m", author="bob",
                                           guard=Guard("bob", WRITERS)))
        await store.commit(kit.join(SID, PID, "bob", role="viewer"))
        with pytest.raises(AlreadyStored) as resent:
            await store.commit(kit.chat(SID, "m", author="bob", guard=Guard("bob", WRITERS)))
        assert resent.value.event == sent

    async def test_a_write_built_from_an_entity_that_changed_since_is_refused(
            self, store: Store) -> None:
        await kit.session(store)
        await store.commit(kit.chat(SID, "m"))
        read = await store.chat("m")
        assert read is not None
        await store.commit(kit.edit(read, "first"))
        with pytest.raises(WriteConflict):
            await store.commit(kit.edit(read, "second"))  # built from the old text
        assert (await store.chat("m")).text == "first"  # type: ignore[union-attr]
        assert await store.action("edit-m-second") is None
        again = await store.chat("m")
        assert again is not None
        assert (await store.commit(kit.edit(again, "second"))).seq == 3
        gone = kit.edit(again, "third")
        gone.bases[0].id = "never-stored"
        with pytest.raises(WriteConflict):
            await store.commit(gone)
        assert await kit.seqs(store) == [1, 2, 3]

    async def test_a_thread_is_its_base_without_its_comments(self, store: Store) -> None:
        await kit.session(store)
        await store.commit(kit.new_thread(SID, PID, "t1"))
        found = await store.thread("t1")
        assert found is not None and len(found[0].comments) == 1
        base = snapshot(found[0])
        resolved = snapshot(found[0])
        resolved.resolved, resolved.resolved_by = True, "ann"
        write = kit.thread_write(SID, PID, resolved, "res1")
        write.bases = [base]
        assert (await store.commit(write)).seq == 2
        stale = kit.thread_write(SID, PID, snapshot(base), "res2", "thread_reopened")
        stale.bases = [base]  # read before the resolve
        with pytest.raises(WriteConflict):
            await store.commit(stale)
        found = await store.thread("t1")
        assert found is not None and found[0].resolved and len(found[0].comments) == 1

    async def test_a_write_that_fails_part_way_stores_nothing(self, store: Store) -> None:
        await kit.session(store)
        bad = kit.chat(SID, "bad", mentions=["bob"])
        bad.log = [LogLine(kind="x", actor=None, at=2.0)]  # type: ignore[arg-type]
        with pytest.raises(StoreError):
            await store.commit(bad)
        assert await store.chat("bad") is None
        assert await store.action("bad") is None
        assert await store.pending_mentions(SID, "bob") == []
        assert await kit.seqs(store) == []
        assert (await store.commit(kit.chat(SID, "good"))).seq == 1  # its seq was given back
