"""Chat: broadcast, direct messages, replies, mentions, reactions, edit, delete, history."""

from __future__ import annotations

from tests.helpers import connected, new_id
from wire import (
    Ack,
    ChatDelete,
    ChatEdit,
    ChatSend,
    ErrorCode,
    Event,
    HistoryFetch,
    HistoryPage,
    InviteCreate,
    InviteResult,
    MentionNotice,
    Ok,
    ReactionToggle,
    SessionEnd,
    SessionLeave,
)


async def test_message_reaches_everyone_including_the_senders_other_windows(trio):
    mid = new_id()
    ack = await trio.editor.request(ChatSend(id=mid, session_id=trio.sid, text="**hi**"), Ack)
    for c in (trio.host, trio.editor, trio.viewer):
        ev = await c.expect(Event, predicate=lambda e: e.id == mid)
        assert ev.seq == ack.seq and ev.kind == "chat_created"
        assert ev.message is not None and ev.message.text == "**hi**"
        assert ev.message.author.id == trio.editor.user_id


async def test_resent_id_is_acked_again_and_never_stored_twice(trio):
    mid = new_id()
    msg = ChatSend(id=mid, session_id=trio.sid, text="once")
    first = await trio.editor.request(msg, Ack)
    msg.rid = None
    second = await trio.editor.request(msg, Ack)
    assert first.seq == second.seq
    page = await trio.host.request(HistoryFetch(session_id=trio.sid), HistoryPage)
    assert [m.id for m in page.messages] == [mid]
    await trio.host.barrier()
    assert len([e for e in trio.host.take(Event) if e.id == mid]) == 1


async def test_same_id_with_different_content_is_id_conflict(trio):
    mid = new_id()
    await trio.editor.request(ChatSend(id=mid, session_id=trio.sid, text="a"), Ack)
    err = await trio.editor.error(ChatSend(id=mid, session_id=trio.sid, text="b"))
    assert err.code == ErrorCode.ID_CONFLICT and err.id == mid
    err = await trio.viewer.error(ChatSend(id=mid, session_id=trio.sid, text="a"))
    assert err.code == ErrorCode.ID_CONFLICT


async def test_direct_message_reaches_only_sender_and_recipient(trio):
    mid = new_id()
    await trio.host.request(ChatSend(id=mid, session_id=trio.sid, text="psst",
                                     to=trio.editor.user_id), Ack)
    ev = await trio.editor.expect(Event, predicate=lambda e: e.id == mid)
    assert ev.message is not None and ev.message.to == trio.editor.user_id
    await trio.host.expect(Event, predicate=lambda e: e.id == mid)
    await trio.viewer.barrier()
    assert not [e for e in trio.viewer.take(Event) if e.id == mid]
    page = await trio.viewer.request(HistoryFetch(session_id=trio.sid), HistoryPage)
    assert mid not in [m.id for m in page.messages]
    page = await trio.editor.request(HistoryFetch(session_id=trio.sid), HistoryPage)
    assert mid in [m.id for m in page.messages]


async def test_direct_message_to_a_non_member_is_invalid(trio):
    err = await trio.host.error(ChatSend(id=new_id(), session_id=trio.sid, text="x",
                                         to="nobody"))
    assert err.code == ErrorCode.INVALID_VALUE


async def test_threaded_reply_carries_its_parent(trio):
    parent = new_id()
    await trio.host.request(ChatSend(id=parent, session_id=trio.sid, text="q?"), Ack)
    child = new_id()
    await trio.viewer.request(ChatSend(id=child, session_id=trio.sid, text="a",
                                       parent_id=parent), Ack)
    ev = await trio.host.expect(Event, predicate=lambda e: e.id == child)
    assert ev.message is not None and ev.message.parent_id == parent
    err = await trio.viewer.error(ChatSend(id=new_id(), session_id=trio.sid, text="a",
                                           parent_id="missing"))
    assert err.code == ErrorCode.NOT_FOUND


async def test_mention_is_delivered_live_to_an_online_member(trio):
    mid = new_id()
    await trio.host.request(ChatSend(id=mid, session_id=trio.sid,
                                     text=f"ping @{trio.viewer.user_id} and @nobody"), Ack)
    note = await trio.viewer.expect(MentionNotice)
    assert note.mention.message_id == mid and note.mention.by.id == trio.host.user_id
    ev = await trio.viewer.expect(Event, predicate=lambda e: e.id == mid)
    assert ev.message is not None and ev.message.mentions == [trio.viewer.user_id]
    await trio.editor.barrier()
    assert not trio.editor.take(MentionNotice)


async def test_mention_of_an_offline_member_is_delivered_on_next_join_once(relay, trio):
    await trio.viewer.request(SessionLeave(session_id=trio.sid), Ok)
    mid = new_id()
    await trio.host.request(ChatSend(id=mid, session_id=trio.sid,
                                     text=f"@{trio.viewer.user_id} see this"), Ack)
    state = await trio.viewer.join(session_id=trio.sid)
    assert [m.message_id for m in state.mentions] == [mid]
    await trio.viewer.request(SessionLeave(session_id=trio.sid), Ok)
    again = await trio.viewer.join(session_id=trio.sid)
    assert again.mentions == []


async def test_reaction_toggles_per_user(trio):
    mid = new_id()
    await trio.host.request(ChatSend(id=mid, session_id=trio.sid, text="ship it"), Ack)
    for c in (trio.editor, trio.viewer):
        await c.request(ReactionToggle(id=new_id(), session_id=trio.sid, target_id=mid,
                                       emoji="🚀"), Ack)
    ev = await trio.host.expect(
        Event, predicate=lambda e: e.kind == "chat_reaction" and e.actor.id == trio.viewer.user_id)
    assert ev.message is not None
    assert sorted(ev.message.reactions["🚀"]) == sorted([trio.editor.user_id,
                                                         trio.viewer.user_id])
    await trio.editor.request(ReactionToggle(id=new_id(), session_id=trio.sid, target_id=mid,
                                             emoji="🚀"), Ack)
    ev = await trio.host.expect(
        Event, predicate=lambda e: e.kind == "chat_reaction" and e.actor.id == trio.editor.user_id
        and e.message is not None and e.message.reactions.get("🚀") == [trio.viewer.user_id])
    err = await trio.viewer.error(ReactionToggle(id=new_id(), session_id=trio.sid,
                                                 target_id=mid, emoji="   "))
    assert err.code == ErrorCode.INVALID_VALUE


async def test_edit_keeps_edited_time_and_new_mentions_notify(trio):
    mid = new_id()
    await trio.editor.request(ChatSend(id=mid, session_id=trio.sid, text="draft"), Ack)
    await trio.editor.request(ChatEdit(id=new_id(), session_id=trio.sid, message_id=mid,
                                       text=f"final @{trio.viewer.user_id}"), Ack)
    ev = await trio.host.expect(Event, predicate=lambda e: e.kind == "chat_edited")
    assert ev.message is not None and ev.message.text.startswith("final")
    assert ev.message.edited_at is not None and ev.message.seq < ev.seq
    note = await trio.viewer.expect(MentionNotice)
    assert note.mention.message_id == mid


async def test_soft_delete_blanks_the_message_but_keeps_its_place(trio):
    mid = new_id()
    await trio.editor.request(ChatSend(id=mid, session_id=trio.sid, text="secret"), Ack)
    await trio.editor.request(ChatDelete(id=new_id(), session_id=trio.sid, message_id=mid), Ack)
    page = await trio.host.request(HistoryFetch(session_id=trio.sid), HistoryPage)
    (msg,) = [m for m in page.messages if m.id == mid]
    assert msg.deleted and msg.text == ""
    err = await trio.editor.error(ChatEdit(id=new_id(), session_id=trio.sid, message_id=mid,
                                           text="back"))
    assert err.code == ErrorCode.NOT_FOUND


async def test_history_on_join_is_the_last_page_and_older_pages_on_request(relay_factory):
    relay = relay_factory("--history-page", "5", "--rate-burst", "200")
    host = await connected(relay.url, "host")
    sid = (await host.create_session()).session.session_id
    ids = []
    for i in range(12):
        mid = new_id()
        ids.append(mid)
        await host.request(ChatSend(id=mid, session_id=sid, text=f"m{i}"), Ack)
    inv = await host.request(InviteCreate(session_id=sid), InviteResult)
    bob = await connected(relay.url, "bob")
    state = await bob.join(invite=inv.invite.token)
    assert [m.id for m in state.chat] == ids[-5:] and state.chat_has_more
    page = await bob.request(HistoryFetch(session_id=sid, before_seq=state.chat[0].seq),
                             HistoryPage)
    assert [m.id for m in page.messages] == ids[2:7] and page.has_more
    page = await bob.request(HistoryFetch(session_id=sid, before_seq=page.messages[0].seq),
                             HistoryPage)
    assert [m.id for m in page.messages] == ids[:2] and not page.has_more


async def test_empty_text_is_refused(trio):
    err = await trio.host.error(ChatSend(id=new_id(), session_id=trio.sid, text="  "))
    assert err.code == ErrorCode.INVALID_VALUE




async def test_retry_of_a_stored_action_is_acked_even_after_the_session_ended(trio):
    mid = new_id()
    msg = ChatSend(id=mid, session_id=trio.sid, text="last words")
    first = await trio.editor.request(msg, Ack)
    await trio.host.request(SessionEnd(session_id=trio.sid), Ok)
    msg.rid = None
    again = await trio.editor.request(msg, Ack)
    assert again.seq == first.seq
    err = await trio.editor.error(ChatSend(id=new_id(), session_id=trio.sid, text="new"))
    assert err.code == ErrorCode.SESSION_ENDED
