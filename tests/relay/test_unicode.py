"""Frames whose \\u escapes leave a lone UTF-16 surrogate are refused, never stored or relayed."""

from __future__ import annotations

import json

from tests.helpers import connected
from wire import (
    Ack,
    ChatSend,
    CursorUpdate,
    Error,
    InviteCreate,
    InviteResult,
    Position,
    PresenceUpdate,
    Selection,
)


def _lone(frame: dict[str, object], field: str) -> str:
    """``frame`` as JSON with ``field``'s value ending in a lone \\ud800 escape."""
    return json.dumps(frame).replace(f'"{field}": "x', f'"{field}": "x\\ud800', 1)


async def test_lone_surrogate_in_a_cursor_is_refused_and_the_session_goes_on(relay, trio):
    sel = {"anchor": {"line": 1, "character": 0}, "active": {"line": 1, "character": 0}}
    raw = _lone({"type": "cursor", "session_id": trio.sid, "path": "x.py",
                 "selections": [sel], "rid": "r1"}, "path")
    assert "\\ud800" in raw
    await trio.editor.send(raw)
    err = await trio.editor.expect(Error)
    assert err.code == "bad_json"
    # A pair of escapes that makes one character is fine, and the session carries on.
    pair = json.dumps({"type": "cursor", "session_id": trio.sid, "path": "\U0001f600.py",
                       "selections": [sel]})
    assert "\\ud83d\\ude00" in pair
    await trio.editor.send(pair)
    await trio.host.expect(PresenceUpdate, predicate=lambda f: any(
        p.cursor is not None and p.cursor.path == "\U0001f600.py" for p in f.peers))
    await trio.editor.send(CursorUpdate(session_id=trio.sid, path="ok.py", selections=[
        Selection(anchor=Position(line=3, character=0), active=Position(line=3, character=0))]))
    await trio.host.expect(PresenceUpdate, predicate=lambda f: any(
        p.cursor is not None and p.cursor.path == "ok.py" for p in f.peers))
    # Someone joining now gets the editor's latest cursor in the join snapshot.
    inv = await trio.host.request(InviteCreate(session_id=trio.sid), InviteResult)
    late = await connected(relay.url, "late")
    state = await late.join(invite=inv.invite.token)
    paths = [p.cursor.path for p in state.presence if p.cursor is not None]
    assert paths == ["ok.py"]
    await late.close()


async def test_lone_surrogate_in_chat_is_refused_and_not_stored(trio):
    raw = _lone({"type": "chat_send", "id": "m1", "session_id": trio.sid, "text": "x",
                 "rid": "r2"}, "text")
    await trio.editor.send(raw)
    err = await trio.editor.expect(Error)
    assert err.code == "bad_json"
    ack = await trio.editor.request(ChatSend(id="m2", session_id=trio.sid, text="after"), Ack)
    assert ack.seq is not None


async def test_nul_in_an_id_or_a_text_is_refused_and_not_stored(trio):
    """A NUL (U+0000) is refused in any string, ids and texts alike (PostgreSQL cannot store
    it: tests/cluster/test_relay_postgres.py), with the field named; the session goes on."""
    for field, frame in (
        ("id", {"type": "chat_send", "id": "m\u0000", "session_id": trio.sid, "text": "x"}),
        ("text", {"type": "chat_send", "id": "m3", "session_id": trio.sid, "text": "a\u0000"}),
        ("emoji", {"type": "reaction_toggle", "id": "r5", "session_id": trio.sid,
                   "target_id": "m3", "emoji": "\u0000"}),
    ):
        await trio.editor.send(json.dumps({**frame, "rid": field}))
        err = await trio.editor.expect(Error)
        assert (err.code, err.rid) == ("invalid_value", field)
        assert field in err.message and "NUL" in err.message
    ack = await trio.editor.request(ChatSend(id="m4", session_id=trio.sid, text="after"), Ack)
    assert ack.seq is not None
