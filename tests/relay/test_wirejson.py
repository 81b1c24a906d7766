"""Presence JSON from pre-encoded fields equals the generic encoder's output."""

from __future__ import annotations

import json
from typing import Any

import pytest

from relay.core import wirejson


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
