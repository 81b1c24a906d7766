"""Presence JSON from pre-encoded fields equals the generic encoder's output."""

from __future__ import annotations

import json
from typing import Any

import pytest

from relay.core import wirejson
from wire import ErrorCode, Position, ProtocolError, Range, Selection, decode_server
from wire.schema import to_wire


def dumps(v: Any) -> str:
    return json.dumps(v, separators=(",", ":"), ensure_ascii=False)


@pytest.mark.parametrize("v", [
    "", "plain", 'quote " and \\ backslash', "tab\tnewline\ncontrol\x01\x1f", "ünïcødé ✓ 😀",
    "</script>", 0.0, -0.0, 1.5, 1e300, 1e-300, 1777000000.123456, float("nan"), float("inf"),
    -float("inf"), 0, -7, 2**70, True, False, None, [1, "a"], {"k": [1, {"x": None}]},
])
def test_value_matches_json_dumps(v: Any) -> None:
    assert wirejson.value(v) == dumps(v)


def test_fields_peer_and_frame_match_json_dumps() -> None:
    entry = {"cursor": {"path": "src/ä.py", "selections": []}, "sent_at": 12.5,
             "status": "idle", "user_id": "u\"1"}
    fields = wirejson.fields(entry)
    assert wirejson.peer(fields) == dumps(entry)
    frame = wirejson.presence_frame("s/1", [wirejson.peer(fields)] * 2)
    assert frame == dumps({"type": "presence", "session_id": "s/1",
                           "peers": [entry, entry]}).encode()


@pytest.mark.parametrize("content_hash", [None, "abc123"])
def test_cursor_matches_json_dumps(content_hash: str | None) -> None:
    sels = [{"anchor": {"line": 3, "character": 0}, "active": {"line": 3, "character": 9}},
            {"anchor": {"line": 10**9, "character": 2}, "active": {"line": 0, "character": 0}}]
    expected: dict[str, Any] = {"path": 'dir "x"/\\y\n.py', "selections": sels}
    if content_hash is not None:
        expected["content_hash"] = content_hash
    assert wirejson.cursor(expected["path"], sels, content_hash) == dumps(expected)
    assert wirejson.cursor("a", [], None) == dumps({"path": "a", "selections": []})


def test_selection_and_span_have_the_shape_of_the_wire_types() -> None:
    assert wirejson.selection(1, 2, 3, 4) == to_wire(
        Selection(anchor=Position(line=1, character=2), active=Position(line=3, character=4)))
    assert wirejson.span(1, 2, 3, 4) == to_wire(
        Range(start=Position(line=1, character=2), end=Position(line=3, character=4)))


def test_viewport_matches_json_dumps() -> None:
    ranges = [wirejson.span(0, 0, 40, 2), wirejson.span(10**9, 1, 10**9, 3)]
    path = 'dir "x"/\\y.py'
    assert wirejson.viewport(path, ranges) == dumps({"path": path, "ranges": ranges})
    assert wirejson.viewport("a", []) == dumps({"path": "a", "ranges": []})


def test_entry_reads_back_the_entry_that_fields_encode() -> None:
    entry = {"cursor": {"path": "a.py", "selections": [wirejson.selection(1, 2, 3, 4)],
                        "content_hash": "h"},
             "viewport": {"path": "b.py", "ranges": [wirejson.span(0, 0, 9, 1)]},
             "focus": "", "status": "away", "sent_at": 12.5, "user_id": "u\"1"}
    assert wirejson.entry(wirejson.fields(entry)) == entry


def test_compact_encoding_carries_the_same_presence_as_the_named_one() -> None:
    sels = [{"anchor": {"line": 3, "character": 0}, "active": {"line": 4, "character": 9}},
            {"anchor": {"line": 8, "character": 1}, "active": {"line": 8, "character": 1}}]
    entry = {"cursor": {"path": "src/ä \"q\".py", "selections": sels, "content_hash": "f" * 40},
             "viewport": {"path": "b.py", "ranges": [
                 {"start": {"line": 0, "character": 0}, "end": {"line": 40, "character": 2}}]},
             "focus": "", "status": "idle", "sent_at": 1764000000.123456, "user_id": "u1"}
    fields = wirejson.fields(entry)
    assert wirejson.peer(fields) == dumps(entry)  # encoding 1 unchanged by the short fields
    short = {"c": ["src/ä \"q\".py", [3, 0, 4, 9, 8, 1, 8, 1], "f" * 40],
             "v": ["b.py", [0, 0, 40, 2]], "f": "", "s": "idle", "t": 1764000000.123456,
             "u": "u1"}
    assert wirejson.peer(fields, 2) == dumps(short)
    named = wirejson.presence_frame("s1", [wirejson.peer(fields)])
    compact = wirejson.presence_frame("s1", [wirejson.peer(fields, 2)], form=2)
    assert compact == dumps({"type": "p", "s": "s1", "p": [short]}).encode()
    assert decode_server(compact) == decode_server(named)
    assert len(compact) < len(named) * 0.7
    no_hash = wirejson.cursor_short("a", [], None)
    assert json.loads(no_hash) == ["a", []]


@pytest.mark.parametrize("peer", [
    {"c": ["a.py", [1, 2, 3]]},  # not four numbers per selection
    {"c": ["a.py", [1, 2, 3, -4]]},  # negative
    {"c": ["a.py", [1, 2, 3, 4.5]]},  # not integers
    {"c": ["a.py"]},  # no selections
    {"c": [1, [1, 2, 3, 4]]},  # path not a string
    {"c": ["a.py", [1, 2, 3, 4], 7]},  # content_hash not a string
    {"c": ["a.py", [1, 2, 3, 4], "h", "extra"]},
    {"v": ["a.py", [0, 0, 1]]},
    {"v": ["a.py"]},
    {"s": "asleep"},
    {"t": "yesterday"},
])
def test_malformed_compact_presence_is_refused_with_a_code(peer: dict[str, Any]) -> None:
    frame = dumps({"type": "p", "s": "s1", "p": [{"u": "u1", **peer}]})
    with pytest.raises(ProtocolError) as exc:
        decode_server(frame)
    assert exc.value.code == ErrorCode.BAD_MESSAGE
    with pytest.raises(ProtocolError):
        decode_server(dumps({"type": "p", "s": "s1", "p": [peer]}))  # no user id
