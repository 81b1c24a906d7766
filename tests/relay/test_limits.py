"""Bad input and limits: each gets an error with a code and the request id, or the right close."""

from __future__ import annotations

import json

from tests.helpers import connected, new_id
from wire import (
    Ack,
    Anchor,
    ChatSend,
    CloseCode,
    Error,
    ErrorCode,
    HistoryFetch,
    HistoryPage,
    SessionList,
    SessionListResult,
    ThreadCreate,
)


async def test_malformed_json_gets_bad_json_and_the_connection_stays_usable(relay):
    c = await connected(relay.url)
    await c.send('{"type": "session_list", "rid": ')
    err = await c.expect(Error)
    assert err.code == ErrorCode.BAD_JSON
    await c.request(SessionList(), SessionListResult)


async def test_non_object_frame_and_missing_type_are_bad_message(relay):
    c = await connected(relay.url)
    await c.send("[1, 2]")
    assert (await c.expect(Error)).code == ErrorCode.BAD_MESSAGE
    err = await c.error({"rid": "t1", "text": "no type"})
    assert err.code == ErrorCode.BAD_MESSAGE and err.rid == "t1"


async def test_unknown_type_gets_unknown_type_with_rid(relay):
    c = await connected(relay.url)
    err = await c.error({"type": "teleport", "rid": "u1"})
    assert err.code == ErrorCode.UNKNOWN_TYPE and err.rid == "u1"
    err = await c.error({"type": "welcome", "rid": "u2", "protocol": 1, "server": "x",
                         "limits": {}})
    assert err.code == ErrorCode.UNKNOWN_TYPE and err.rid == "u2"


async def test_wrong_field_types_get_bad_message_with_rid_and_id(trio):
    err = await trio.host.error({"type": "chat_send", "rid": "w1", "id": "m1",
                                 "session_id": trio.sid, "text": 42})
    assert err.code == ErrorCode.BAD_MESSAGE and err.rid == "w1" and err.id == "m1"
    assert "text" in err.message
    err = await trio.host.error({"type": "cursor", "rid": "w2", "session_id": trio.sid,
                                 "path": "a.py", "selections": [{"anchor": {}}]})
    assert err.code == ErrorCode.BAD_MESSAGE and err.rid == "w2"
    err = await trio.host.error({"type": "status", "rid": "w3", "session_id": trio.sid,
                                 "status": "sleeping"})
    assert err.code == ErrorCode.BAD_MESSAGE
    await trio.host.barrier()


async def test_text_too_long_is_refused_and_nothing_is_stored(relay_factory):
    relay = relay_factory("--max-text-chars", "100")
    c = await connected(relay.url)
    sid = (await c.create_session()).session.session_id
    mid = new_id()
    err = await c.error(ChatSend(id=mid, session_id=sid, text="x" * 101))
    assert err.code == ErrorCode.TEXT_TOO_LONG and err.id == mid
    err = await c.error(ThreadCreate(id=new_id(), session_id=sid, text="y" * 101,
                                     anchor=Anchor(path="a.py", start_line=0, end_line=0,
                                                   text=["a"])))
    assert err.code == ErrorCode.TEXT_TOO_LONG
    page = await c.request(HistoryFetch(session_id=sid), HistoryPage)
    assert page.messages == []
    # The same id is still free: nothing was recorded for it.
    await c.request(ChatSend(id=mid, session_id=sid, text="x" * 100), Ack)


async def test_oversized_frame_closes_with_1009(relay_factory):
    relay = relay_factory("--max-frame-bytes", "4096")
    c = await connected(relay.url)
    sid = (await c.create_session()).session.session_id
    await c.send(json.dumps({"type": "chat_send", "id": new_id(), "session_id": sid,
                             "text": "z" * 5000}))
    assert await c.wait_closed() == CloseCode.MESSAGE_TOO_BIG


async def test_too_fast_traffic_is_rate_limited_with_rid_then_closed_4029(relay_factory):
    relay = relay_factory("--rate-per-second", "5", "--rate-burst", "5", "--rate-strikes", "20")
    c = await connected(relay.url)
    for i in range(40):
        await c.send(SessionList(rid=f"f{i}"))
    await c.wait_closed()
    assert c.close_code == CloseCode.RATE_LIMITED
    errors = c.take(Error)
    assert errors and all(e.code == ErrorCode.RATE_LIMITED for e in errors)
    assert errors[0].rid is not None and errors[0].rid.startswith("f")
    assert len(c.take(SessionListResult)) >= 5

