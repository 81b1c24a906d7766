"""A re-sent id (a client's retry) gets the same ack again and is applied once.

A reaction applied twice would silently undo itself; a thread or a reply stored twice would
show twice. Each test sends the same frame twice, then checks the acks, the events broadcast
(up to a marker), the events stored and the state a fresh join reads.
"""

from __future__ import annotations

from typing import Any

from tests.helpers import WireClient, new_id
from wire import (
    Ack,
    Anchor,
    ChatSend,
    CommentReply,
    Event,
    ReactionToggle,
    SyncRequest,
    SyncResult,
    ThreadCreate,
)


async def _sent_twice(client: WireClient, msg: Any) -> None:
    first = await client.request(msg, Ack)
    msg.rid = None  # a fresh rid, the same id: what an outbox retry sends
    second = await client.request(msg, Ack)
    assert (second.id, second.seq) == (first.id, first.seq)


async def _broadcast_once(trio: Any, action_id: str) -> None:
    """Every member got exactly one event for ``action_id`` (counted once a marker sent after
    it arrived: events come in order), and exactly one is stored."""
    marker = new_id()
    await trio.host.request(ChatSend(id=marker, session_id=trio.sid, text="marker"), Ack)
    for c in (trio.host, trio.editor, trio.viewer):
        await c.expect(Event, predicate=lambda e: e.id == marker)
        assert [e.id for e in c.take(Event)].count(action_id) == 1, c.user_id
    res = await trio.host.request(SyncRequest(session_id=trio.sid, after_seq=0), SyncResult)
    assert [e.id for e in res.events].count(action_id) == 1


async def test_resent_reaction_toggle_is_acked_again_and_not_undone(trio):
    mid = new_id()
    await trio.editor.request(ChatSend(id=mid, session_id=trio.sid, text="hi"), Ack)
    toggle = ReactionToggle(id=new_id(), session_id=trio.sid, target_id=mid, emoji="👍")
    await _sent_twice(trio.viewer, toggle)
    await _broadcast_once(trio, toggle.id)
    state = await trio.host.join(session_id=trio.sid)
    (message,) = [m for m in state.chat if m.id == mid]
    assert message.reactions == {"👍": [trio.viewer.user_id]}  # on, not toggled back off


async def test_resent_thread_create_is_acked_again_and_stored_once(trio):
    anchor = Anchor(path="src/app.py", start_line=3, end_line=3, text=["def f():"])
    create = ThreadCreate(id=new_id(), session_id=trio.sid, anchor=anchor, text="look")
    await _sent_twice(trio.editor, create)
    await _broadcast_once(trio, create.id)
    state = await trio.host.join(session_id=trio.sid)
    assert [t.id for t in state.threads] == [create.id]
    assert [c.text for c in state.threads[0].comments] == ["look"]


async def test_resent_comment_reply_is_acked_again_and_stored_once(trio):
    anchor = Anchor(path="src/app.py", start_line=3, end_line=3, text=["def f():"])
    tid = new_id()
    await trio.editor.request(ThreadCreate(id=tid, session_id=trio.sid, anchor=anchor,
                                           text="look"), Ack)
    reply = CommentReply(id=new_id(), session_id=trio.sid, thread_id=tid, text="seen")
    await _sent_twice(trio.host, reply)
    await _broadcast_once(trio, reply.id)
    state = await trio.host.join(session_id=trio.sid)
    (thread,) = state.threads
    assert [(c.id, c.text) for c in thread.comments] == [(tid, "look"), (reply.id, "seen")]
