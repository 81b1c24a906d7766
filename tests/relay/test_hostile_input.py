"""Hostile frames written by hand against docs/protocol.md: every path, position, number,
id and name is bounded; each refusal has a code, nothing is stored or relayed, and the
connection stays usable. Runs against the real relay subprocess."""

from __future__ import annotations

import json
from typing import Any

import pytest
from websockets.asyncio.client import connect

from tests.helpers import RelayRefused, WireClient, connected, new_id, sign_up, unique_name
from wire import (
    AUTH_PATH,
    Ack,
    ChatSend,
    CloseCode,
    Error,
    ErrorCode,
    HistoryFetch,
    HistoryPage,
    PresenceUpdate,
    SessionState,
)

BAD_PATHS = [
    "a\x00b.py",  # NUL
    "src/\x1b[31mred.py",  # control characters
    "src/a\x7f.py",
    "src/\u202egnp.exe",  # bidi override
    "src/\u2066x\u2069.py",  # bidi isolate
    "../etc/passwd",
    "src/../../etc/passwd",
    "src//a.py",  # empty segment
    "src/a.py/",
    "./src/a.py",  # '.' segment
    "src/./a.py",
    "/etc/passwd",  # absolute
    "C:/Windows/win.ini",  # drive letter
    "c:secret.txt",
    "src\\a.py",  # backslash
    "",
    "a" * 1025,  # over 1024 bytes
    "\u00e9" * 513,  # 1026 bytes in UTF-8
    "/".join(["d"] * 129),  # over 128 segments
]

GOOD_PATHS = ["src/app.py", "a.py", "dir with space/caf\u00e9.py", "a..b/c.d", ".github/x.yml",
              "/".join(["d"] * 128)]

SEL = {"anchor": {"line": 1, "character": 0}, "active": {"line": 1, "character": 4}}


def _anchor(path: str, start: Any = 0, end: Any = 0) -> dict[str, Any]:
    return {"path": path, "start_line": start, "end_line": end, "text": ["x = 1"]}


async def _refused(c: WireClient, frame: dict[str, Any], code: str = ErrorCode.INVALID_VALUE,
                   ) -> Error:
    frame.setdefault("rid", c.rid())
    err = await c.error(frame)
    assert err.code == code, (frame.get("type"), err)
    return err


async def _no_presence_reached(receiver: WireClient, sender: WireClient) -> None:
    """The sender's refused updates reached nobody (the receiver got no presence)."""
    await sender.barrier()
    await receiver.barrier()
    assert receiver.take(PresenceUpdate) == []


@pytest.mark.parametrize("path", BAD_PATHS, ids=range(len(BAD_PATHS)))
async def test_bad_paths_are_refused_in_every_message_that_carries_one(trio, path):
    """cursor, viewport, focus, viewers and thread anchors: invalid_value, nothing relayed
    or stored."""
    sid, c = trio.sid, trio.editor
    await trio.viewer.barrier()
    trio.viewer.take(PresenceUpdate)
    await _refused(c, {"type": "cursor", "session_id": sid, "path": path, "selections": [SEL]})
    await _refused(c, {"type": "viewport", "session_id": sid, "path": path,
                       "ranges": [{"start": {"line": 0, "character": 0},
                                   "end": {"line": 9, "character": 0}}]})
    await _refused(c, {"type": "focus", "session_id": sid, "path": path})
    await _refused(c, {"type": "viewers", "session_id": sid, "path": path})
    tid = new_id()
    err = await _refused(c, {"type": "thread_create", "id": tid, "session_id": sid,
                             "anchor": _anchor(path), "text": "look"})
    assert err.id == tid
    await _no_presence_reached(trio.viewer, c)
    # Nothing stored: a fresh join still works and holds no such thread.
    state = await trio.host.join(trio.sid)
    assert all(t.id != tid for t in state.threads)


async def test_a_nul_anchor_never_poisons_later_joins(trio):
    """The reported attack: a thread anchored at a path with NUL was acked, then every
    join failed. Now it is refused and joins keep working."""
    tid = new_id()
    await _refused(trio.editor, {"type": "thread_create", "id": tid, "session_id": trio.sid,
                                 "anchor": _anchor("src/a\x00.py"), "text": "boom"})
    for c in (trio.host, trio.editor, trio.viewer):
        state = await c.join(trio.sid)
        assert isinstance(state, SessionState)
        assert all(t.id != tid for t in state.threads)


@pytest.mark.parametrize("path", GOOD_PATHS, ids=range(len(GOOD_PATHS)))
async def test_ordinary_paths_still_travel(trio, path):
    await trio.editor.send({"type": "cursor", "session_id": trio.sid, "path": path,
                            "selections": [SEL]})
    got = await trio.viewer.expect(
        PresenceUpdate, predicate=lambda p: any(e.cursor and e.cursor.path == path
                                                for e in p.peers))
    assert got.session_id == trio.sid


BAD_LINES = [-5, -1, 2**31, 10**30]


@pytest.mark.parametrize("n", BAD_LINES)
async def test_positions_out_of_range_are_refused(trio, n):
    """cursor (fast path and generic), viewport and anchors: 0 <= n < 2**31."""
    sid, c = trio.sid, trio.editor
    await trio.viewer.barrier()
    trio.viewer.take(PresenceUpdate)
    for sel in ({"anchor": {"line": n, "character": 0}, "active": {"line": 0, "character": 0}},
                {"anchor": {"line": 0, "character": 0}, "active": {"line": 0, "character": n}}):
        # Without rid first: a bare cursor frame, as the fast path sees them.
        await c.send({"type": "cursor", "session_id": sid, "path": "a.py", "selections": [sel]})
        err = await c.expect(Error)
        assert err.code == ErrorCode.INVALID_VALUE
        await _refused(c, {"type": "cursor", "session_id": sid, "path": "a.py",
                           "selections": [sel]})
    await _refused(c, {"type": "viewport", "session_id": sid, "path": "a.py",
                       "ranges": [{"start": {"line": 0, "character": 0},
                                   "end": {"line": n, "character": 0}}]})
    await _refused(c, {"type": "thread_create", "id": new_id(), "session_id": sid,
                       "anchor": _anchor("a.py", n, n), "text": "x"})
    await _no_presence_reached(trio.viewer, c)


@pytest.mark.parametrize("literal", ["NaN", "Infinity", "-Infinity"])
async def test_non_finite_numbers_are_not_json(trio, literal):
    """sent_at: NaN was relayed as bare NaN (not JSON); now bad_json, nothing relayed."""
    c = trio.editor
    raw = ('{"type": "cursor", "session_id": "' + trio.sid + '", "path": "a.py", '
           '"selections": [], "sent_at": ' + literal + "}")
    await c.send(raw)
    assert (await c.expect(Error)).code == ErrorCode.BAD_JSON
    await c.send(raw[:-1] + ', "rid": "nan"}')
    err = await c.expect(Error, predicate=lambda e: e.rid is None or e.rid == "nan")
    assert err.code == ErrorCode.BAD_JSON
    raw = ('{"type": "chat_send", "id": "' + new_id() + '", "session_id": "' + trio.sid
           + '", "text": "hi", "x": ' + literal + "}")
    await c.send(raw)
    assert (await c.expect(Error)).code == ErrorCode.BAD_JSON
    await _no_presence_reached(trio.viewer, c)
    for raw_frame in trio.viewer.raw:
        assert "NaN" not in raw_frame and "Infinity" not in raw_frame


async def test_numbers_that_overflow_to_infinity_are_refused(trio):
    c = trio.editor
    raw = ('{"type": "cursor", "session_id": "' + trio.sid + '", "path": "a.py", '
           '"selections": [], "sent_at": 1e400, "rid": "big"}')
    await c.send(raw)
    err = await c.expect(Error, predicate=lambda e: e.rid == "big")
    assert err.code == ErrorCode.INVALID_VALUE
    await _no_presence_reached(trio.viewer, c)


HUGE = 10**30


async def test_huge_integers_get_invalid_value_and_the_connection_survives(trio):
    """history, sync, session_join.last_seq, invite max_uses: invalid_value, no 1011."""
    sid, host = trio.sid, trio.host
    frames = [
        {"type": "history", "session_id": sid, "before_seq": HUGE},
        {"type": "history", "session_id": sid, "limit": HUGE},
        {"type": "sync", "session_id": sid, "after_seq": HUGE},
        {"type": "sync", "session_id": sid, "after_seq": -HUGE},
        {"type": "session_join", "session_id": sid, "last_seq": HUGE},
        {"type": "invite_create", "session_id": sid, "max_uses": HUGE},
        {"type": "event_log", "session_id": sid, "limit": HUGE},
        {"type": "hello", "protocol": HUGE},
    ]
    for frame in frames:
        await _refused(host, frame)
    await host.barrier()
    assert host.close_code is None


async def test_deeply_nested_json_is_bad_json_and_the_connection_survives(trio):
    c = trio.editor
    await c.send("[" * 100_000 + "]" * 100_000)
    assert (await c.expect(Error)).code == ErrorCode.BAD_JSON
    deep = '{"type": "cursor", "session_id": "%s", "path": "a.py", "selections": [], "x": %s}'
    await c.send(deep % (trio.sid, "[" * 100_000 + "]" * 100_000))
    assert (await c.expect(Error)).code == ErrorCode.BAD_JSON
    await c.send(deep % (trio.sid, "[" * 40 + "]" * 40))  # deeper than 32 levels
    assert (await c.expect(Error)).code == ErrorCode.BAD_JSON
    await c.send(json.dumps({"type": "chat_send", "id": new_id(), "session_id": trio.sid,
                             "text": "x", "rid": "deep", "extra": json.loads("[" * 40 + "]" * 40)}))
    assert (await c.expect(Error)).code == ErrorCode.BAD_JSON
    await c.barrier()
    assert c.close_code is None


async def test_long_ids_are_refused_and_nothing_is_stored(trio):
    """The client id (and every other string id) is at most 128 characters."""
    sid, c = trio.sid, trio.editor
    long_id = "i" * 200_000
    await _refused(c, {"type": "chat_send", "id": long_id, "session_id": sid, "text": "hi"})
    for field in ("id", "parent_id", "to", "rid"):
        frame = {"type": "chat_send", "id": new_id(), "session_id": sid, "text": "hi",
                 field: "x" * 129}
        await c.send(frame)
        err = await c.expect(Error)
        assert err.code == ErrorCode.INVALID_VALUE, field
        assert err.rid is None or len(err.rid) <= 128
    await _refused(c, {"type": "reaction_toggle", "id": new_id(), "session_id": sid,
                       "target_id": "t" * 129, "emoji": "+1"})
    await _refused(c, {"type": "comment_reply", "id": new_id(), "session_id": sid,
                       "thread_id": "t" * 129, "text": "x"})
    await _refused(c, {"type": "session_join", "session_id": "s" * 129})
    page = await c.request(HistoryFetch(session_id=sid), HistoryPage)
    assert page.messages == []
    await c.request(ChatSend(id="i" * 128, session_id=sid, text="fits"), Ack)


BAD_NAMES = ["\u202eevil", "Al\u200fice", "a\nb", "tab\there", " alice", "alice ", "bell\x07",
             "iso\u2067x"]


@pytest.mark.parametrize("name", BAD_NAMES, ids=range(len(BAD_NAMES)))
async def test_display_names_with_controls_bidi_or_edge_spaces_are_refused(relay, name):
    with pytest.raises(RelayRefused) as refused:
        await sign_up(relay.url, unique_name("n"), display_name=name)
    assert refused.value.code == ErrorCode.INVALID_VALUE


async def test_a_display_name_is_shown_with_the_username_on_the_wire(relay):
    """HTML or another user's name as display name is the UI's to escape and to show
    beside the username: the wire carries both."""
    uid = unique_name("h")
    token = await sign_up(relay.url, uid, display_name="<b>alice</b>")
    c = await WireClient.connect(relay.url, token)
    assert c.welcome is not None and c.welcome.user is not None
    assert (c.welcome.user.id, c.welcome.user.name) == (uid, "<b>alice</b>")
    await c.close()


async def test_session_names_with_controls_or_bidi_are_refused(relay):
    c = await connected(relay.url)
    for name in ("a\u202eb", "line\nbreak"):
        await _refused(c, {"type": "session_create", "name": name,
                           "repo": {"remote": "github.com/acme/app"}})
    await _refused(c, {"type": "session_create", "name": "ok",
                       "repo": {"remote": "github.com/acme/\u202eppa"}})
    await c.close()


async def test_binary_frames_are_refused_with_1003(relay):
    c = await connected(relay.url)
    await c.ws.send(b'{"type": "session_list", "rid": "b"}')
    assert await c.wait_closed() == CloseCode.UNSUPPORTED_DATA
    assert c.take(Error)[0].code == ErrorCode.BAD_MESSAGE
    # As the first frame, and on /auth.
    async with connect(relay.url + AUTH_PATH, compression=None) as ws:
        await ws.send(b'{"type": "hello", "protocol": 1}')
        reply = json.loads(await ws.recv())
        assert reply["type"] == "error"
        await ws.wait_closed()
        assert ws.close_code == CloseCode.UNSUPPORTED_DATA
    async with connect(relay.url + AUTH_PATH, compression=None) as ws:
        await ws.send('{"type": "hello", "protocol": 1}')
        await ws.recv()
        await ws.send(b'{"type": "sign_in", "username": "x", "password": "yyyyyyyy"}')
        assert json.loads(await ws.recv())["code"] == ErrorCode.BAD_MESSAGE
        await ws.wait_closed()
        assert ws.close_code == CloseCode.UNSUPPORTED_DATA
