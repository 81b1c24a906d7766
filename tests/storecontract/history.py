"""The Store contract: history (events, chat pages), threads and comments, mentions and
the event log."""

from __future__ import annotations

from relay.core.ports import Store
from relay.core.records import LogLine
from tests.storecontract import Contract, kit
from wire import ChatMessage, Comment

SID, PID = kit.SID, kit.PID


class HistoryContract(Contract):
    # -- history: events, chat pages, catch-up

    async def test_events_after_a_seq_in_order_with_a_limit(self, store: Store) -> None:
        await kit.session(store)
        for i in range(5):
            await store.commit(kit.chat(SID, f"m{i}"))
        events = await store.events_after(SID, 2, "ann", 2)
        assert [(e.seq, e.id, e.kind) for e in events] == [(3, "m2", "chat_created"),
                                                            (4, "m3", "chat_created")]
        assert events[0].message is not None and events[0].message.seq == 3
        assert await store.events_after(SID, 5, "ann", 10) == []
        assert await store.events_after("other", 0, "ann", 10) == []

    async def test_a_direct_message_is_seen_only_by_its_two_users(self, store: Store) -> None:
        await kit.session(store, bob="editor", cy="editor")
        await store.commit(kit.chat(SID, "public"))
        await store.commit(kit.chat(SID, "dm", "psst", to="bob"))
        for uid, visible in (("ann", ["public", "dm"]), ("bob", ["public", "dm"]),
                             ("cy", ["public"])):
            events = await store.events_after(SID, 0, uid, 100)
            assert [e.id for e in events if e.kind == "chat_created"] == visible, uid
            page, more = await store.chat_page(SID, uid, None, 10)
            assert ([m.id for m in page], more) == (visible, False), uid

    async def test_chat_pages_go_back_from_the_newest(self, store: Store) -> None:
        await kit.session(store)
        for i in range(7):
            await store.commit(kit.chat(SID, f"m{i}"))
        page, more = await store.chat_page(SID, "ann", None, 3)
        assert ([m.id for m in page], more) == (["m4", "m5", "m6"], True)
        page, more = await store.chat_page(SID, "ann", page[0].seq, 3)
        assert ([m.id for m in page], more) == (["m1", "m2", "m3"], True)
        page, more = await store.chat_page(SID, "ann", page[0].seq, 3)
        assert ([m.id for m in page], more) == (["m0"], False)
        assert await store.chat_page("other", "ann", None, 3) == ([], False)

    async def test_an_edited_message_keeps_its_seq_and_its_event_history(
            self, store: Store) -> None:
        await kit.session(store)
        await store.commit(kit.chat(SID, "m", "draft"))
        msg = await store.chat("m")
        assert msg is not None and (msg.text, msg.seq) == ("draft", 1)
        msg.text, msg.edited_at = "final", 9.0
        assert (await store.commit(kit.chat_update(SID, msg, "e1"))).seq == 2
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

    async def test_text_survives_byte_for_byte(self, store: Store) -> None:
        await kit.session(store)
        text = "naïve café — 日本語 𝄞 🧑‍💻 \u05e9\u05dc\u05d5\u05dd ' \" \\ %s %(x)s ? $1 \t\n end"
        await store.commit(kit.chat(SID, "m", text))
        assert (await store.chat("m")).text == text  # type: ignore[union-attr]
        [event] = await store.events_after(SID, 0, "ann", 1)
        assert event.message is not None and event.message.text == text

    async def test_paging_through_all_chat_exports_everything_in_order(
            self, store: Store) -> None:
        """What export does: pages of 500 from the newest back to the first."""
        await kit.session(store, bob="editor")
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

    async def test_a_thread_is_stored_with_its_comments_and_its_project(
            self, store: Store) -> None:
        await kit.session(store, bob="editor")
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

    async def test_reactions_edits_and_resolving_update_in_place(self, store: Store) -> None:
        await kit.session(store, bob="editor")
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
            self, store: Store) -> None:
        await kit.session(store)
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

    async def test_a_deleted_thread_goes_with_its_comments(self, store: Store) -> None:
        await kit.session(store)
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

    async def test_mentions_wait_until_delivered(self, store: Store) -> None:
        await kit.session(store, bob="editor", cy="editor")
        s1 = (await store.commit(kit.chat(SID, "m1", "hi @bob", mentions=["bob"]))).seq
        s2 = (await store.commit(kit.chat(SID, "m2", "@bob @cy", mentions=["bob", "cy"]))).seq
        pending = await store.pending_mentions(SID, "bob")
        assert [(m.seq, m.message_id, m.by.id) for m in pending] == [(s1, "m1", "ann"),
                                                                      (s2, "m2", "ann")]
        await store.mark_mentions_delivered(SID, "bob", s1)
        assert [m.message_id for m in await store.pending_mentions(SID, "bob")] == ["m2"]
        assert [m.message_id for m in await store.pending_mentions(SID, "cy")] == ["m2"]
        await store.mark_mentions_delivered(SID, "bob", s2)
        assert await store.pending_mentions(SID, "bob") == []
        assert await store.pending_mentions("other", "cy") == []

    async def test_the_event_log_keeps_the_newest_lines_oldest_first(
            self, store: Store) -> None:
        await kit.session(store, bob="editor")  # bob's join writes a member_added line
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
