"""The permission matrix, enforced by the relay: every refusal is an error with a code."""

from __future__ import annotations

import asyncio

from tests.helpers import WireClient, connected, new_id, sign_in
from wire import (
    Ack,
    Anchor,
    ChatDelete,
    ChatEdit,
    ChatSend,
    CloseCode,
    CommentDelete,
    CommentEdit,
    CommentReply,
    ErrorCode,
    Event,
    EventLogQuery,
    EventLogResult,
    InviteCreate,
    InviteList,
    InviteResult,
    InviteRevoke,
    Ok,
    ParticipantRemove,
    ReactionToggle,
    RoleSet,
    SessionEnd,
    SessionJoin,
    SyncRequest,
    SyncResult,
    ThreadCreate,
    ThreadResolve,
    UserLeft,
)


def _anchor() -> Anchor:
    return Anchor(path="src/app.py", start_line=3, end_line=4, text=["def f():", "    pass"])


async def _thread(c: WireClient, sid: str) -> str:
    tid = new_id()
    await c.request(ThreadCreate(id=tid, session_id=sid, anchor=_anchor(), text="look"), Ack)
    return tid


HOST_ONLY = [
    lambda sid, o: InviteCreate(session_id=sid),
    lambda sid, o: InviteList(session_id=sid),
    lambda sid, o: InviteRevoke(session_id=sid, invite_id="x"),
    lambda sid, o: RoleSet(session_id=sid, user_id=o, role="viewer"),
    lambda sid, o: ParticipantRemove(session_id=sid, user_id=o),
    lambda sid, o: SessionEnd(session_id=sid),
    lambda sid, o: EventLogQuery(session_id=sid),
]


async def test_host_only_actions_are_forbidden_to_editor_and_viewer(trio):
    """invite_create/list/revoke, role_set, participant_remove, session_end, event_log."""
    for make in HOST_ONLY:
        for client, other in ((trio.editor, trio.viewer), (trio.viewer, trio.editor)):
            msg = make(trio.sid, other.user_id)
            err = await client.error(msg)
            assert err.code == ErrorCode.FORBIDDEN, (msg.TYPE, err)


async def test_viewer_cannot_create_reply_resolve_or_edit_code_comments(trio):
    tid = await _thread(trio.editor, trio.sid)
    cases = [
        ThreadCreate(id=new_id(), session_id=trio.sid, anchor=_anchor(), text="no"),
        CommentReply(id=new_id(), session_id=trio.sid, thread_id=tid, text="no"),
        ThreadResolve(id=new_id(), session_id=trio.sid, thread_id=tid, resolved=True),
        CommentEdit(id=new_id(), session_id=trio.sid, comment_id=tid, text="no"),
    ]
    before = (await trio.host.request(SyncRequest(session_id=trio.sid, after_seq=0),
                                      SyncResult)).last_seq
    for c in (trio.host, trio.editor, trio.viewer):
        await c.barrier()
        c.take(Event)
    for msg in cases:
        err = await trio.viewer.error(msg)
        assert err.code == ErrorCode.FORBIDDEN and err.id == msg.id, err
    # Nothing was broadcast: a marker sent after the refusals is everyone's next event ...
    marker = new_id()
    await trio.host.request(ChatSend(id=marker, session_id=trio.sid, text="marker"), Ack)
    for c in (trio.host, trio.editor, trio.viewer):
        ev = await c.expect(Event)
        assert ev.id == marker, (c.user_id, ev)
    # ... and nothing was stored: the marker is the only event since, the thread unchanged.
    res = await trio.host.request(SyncRequest(session_id=trio.sid, after_seq=before),
                                  SyncResult)
    assert [e.id for e in res.events] == [marker]
    state = await trio.host.join(session_id=trio.sid)
    (thread,) = state.threads
    assert thread.id == tid and not thread.resolved
    assert [(c.id, c.text) for c in thread.comments] == [(tid, "look")]


async def test_viewer_chats_and_reacts(trio):
    mid = new_id()
    await trio.viewer.request(ChatSend(id=mid, session_id=trio.sid, text="hi"), Ack)
    await trio.viewer.request(ReactionToggle(id=new_id(), session_id=trio.sid, target_id=mid,
                                             emoji="👍"), Ack)
    tid = await _thread(trio.editor, trio.sid)
    await trio.viewer.request(ReactionToggle(id=new_id(), session_id=trio.sid, target_id=tid,
                                             emoji="🎉"), Ack)


async def test_editor_comments_replies_resolves(trio):
    tid = await _thread(trio.editor, trio.sid)
    await trio.editor.request(CommentReply(id=new_id(), session_id=trio.sid, thread_id=tid,
                                           text="more"), Ack)
    await trio.editor.request(ThreadResolve(id=new_id(), session_id=trio.sid, thread_id=tid,
                                            resolved=True), Ack)


async def test_only_the_author_edits_a_chat_message_even_the_host_cannot(trio):
    mid = new_id()
    await trio.editor.request(ChatSend(id=mid, session_id=trio.sid, text="mine"), Ack)
    for other in (trio.host, trio.viewer):
        err = await other.error(ChatEdit(id=new_id(), session_id=trio.sid, message_id=mid,
                                         text="changed"))
        assert err.code == ErrorCode.NOT_AUTHOR


async def test_host_deletes_anyones_chat_message_others_cannot(trio):
    mid = new_id()
    await trio.editor.request(ChatSend(id=mid, session_id=trio.sid, text="oops"), Ack)
    err = await trio.viewer.error(ChatDelete(id=new_id(), session_id=trio.sid, message_id=mid))
    assert err.code == ErrorCode.NOT_AUTHOR
    await trio.host.request(ChatDelete(id=new_id(), session_id=trio.sid, message_id=mid), Ack)


async def test_comment_edit_is_author_only_and_delete_author_or_host(trio):
    tid = await _thread(trio.editor, trio.sid)
    err = await trio.host.error(CommentEdit(id=new_id(), session_id=trio.sid, comment_id=tid,
                                            text="x"))
    assert err.code == ErrorCode.NOT_AUTHOR
    err = await trio.viewer.error(CommentDelete(id=new_id(), session_id=trio.sid,
                                                comment_id=tid))
    assert err.code == ErrorCode.NOT_AUTHOR
    await trio.host.request(CommentDelete(id=new_id(), session_id=trio.sid, comment_id=tid), Ack)


async def test_actions_on_a_session_not_joined_are_not_in_session(relay, trio):
    stranger = await connected(relay.url, "stranger")
    for msg in (ChatSend(id=new_id(), session_id=trio.sid, text="x"),
                EventLogQuery(session_id=trio.sid)):
        err = await stranger.error(msg)
        assert err.code == ErrorCode.NOT_IN_SESSION


async def test_role_change_takes_effect_at_once(trio):
    await trio.host.request(RoleSet(session_id=trio.sid, user_id=trio.viewer.user_id,
                                    role="editor"), Ok)
    ev = await trio.viewer.expect(Event, predicate=lambda e: e.kind == "role_changed")
    assert ev.participant is not None and ev.participant.role == "editor"
    await _thread(trio.viewer, trio.sid)
    await trio.host.request(RoleSet(session_id=trio.sid, user_id=trio.editor.user_id,
                                    role="viewer"), Ok)
    err = await trio.editor.error(ThreadCreate(id=new_id(), session_id=trio.sid,
                                               anchor=_anchor(), text="x"))
    assert err.code == ErrorCode.FORBIDDEN


async def test_host_role_cannot_be_changed_or_removed(trio):
    for msg in (RoleSet(session_id=trio.sid, user_id=trio.host.user_id, role="viewer"),
                ParticipantRemove(session_id=trio.sid, user_id=trio.host.user_id)):
        err = await trio.host.error(msg)
        assert err.code == ErrorCode.FORBIDDEN


async def test_removed_participant_is_closed_at_once_and_cannot_rejoin_with_old_invite(relay):
    host = await connected(relay.url, "host")
    sid = (await host.create_session()).session.session_id
    old = (await host.request(InviteCreate(session_id=sid), InviteResult)).invite.token
    bob = await connected(relay.url, "bob")
    await bob.join(invite=old)
    await host.request(ParticipantRemove(session_id=sid, user_id=bob.user_id), Ok)
    assert await bob.wait_closed() == CloseCode.REMOVED
    left = await host.expect(UserLeft)
    assert left.reason == "removed"
    token = await sign_in(relay.url, bob.user_id)
    bob2 = await WireClient.connect(relay.url, token)
    assert (await bob2.error(SessionJoin(session_id=sid))).code == ErrorCode.REMOVED
    assert (await bob2.error(SessionJoin(invite=old))).code == ErrorCode.REMOVED
    fresh = (await host.request(InviteCreate(session_id=sid, role="viewer"),
                                InviteResult)).invite.token
    state = await bob2.join(invite=fresh)
    assert state.you.role == "viewer"
    log = await host.request(EventLogQuery(session_id=sid), EventLogResult)
    assert "participant_removed" in [e.kind for e in log.entries]


async def test_remove_unknown_participant_is_not_found(trio):
    err = await trio.host.error(ParticipantRemove(session_id=trio.sid, user_id="nobody"))
    assert err.code == ErrorCode.NOT_FOUND


async def test_removed_user_with_two_windows_has_both_closed_at_once(relay):
    """Both of bob's windows are closed with 4xxx removed; the host hears one user_left."""
    host = await connected(relay.url, "host")
    sid = (await host.create_session()).session.session_id
    invite = (await host.request(InviteCreate(session_id=sid), InviteResult)).invite.token
    bob1 = await connected(relay.url, "bob")
    await bob1.join(invite=invite)
    bob2 = await WireClient.connect(relay.url, await sign_in(relay.url, bob1.user_id))
    await bob2.join(session_id=sid)
    await host.request(ParticipantRemove(session_id=sid, user_id=bob1.user_id), Ok)
    codes = await asyncio.gather(bob1.wait_closed(5), bob2.wait_closed(5))
    assert codes == [CloseCode.REMOVED, CloseCode.REMOVED]
    left = await host.expect(UserLeft)
    assert (left.user_id, left.reason) == (bob1.user_id, "removed")
    await host.barrier()
    assert host.take(UserLeft) == []
