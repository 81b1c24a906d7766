"""The relay subprocess starts, accepts sign-up, and serves a session end to end."""

from __future__ import annotations

from tests.helpers import connected, new_id
from wire import Ack, ChatSend, Event


async def test_chat_message_is_acked_and_broadcast_to_the_session(relay):
    alice = await connected(relay.url, "alice")
    state = await alice.create_session()
    sid = state.session.session_id
    mid = new_id()
    ack = await alice.request(ChatSend(id=mid, session_id=sid, text="hello"), Ack)
    event = await alice.expect(Event, predicate=lambda e: e.id == mid)
    assert ack.seq == event.seq == 1
    assert event.message is not None and event.message.text == "hello"
    await alice.close()
