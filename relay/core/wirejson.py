"""Presence JSON built from pre-encoded parts: each field of an update is encoded once.

A presence entry travels as a dict of field name -> JSON text ("fields"). The fan-out
joins the fields of every peer of a batch into one frame and sends the same bytes
to every receiver, so an update is encoded once however many receivers it has, and
merging a newer update of the same peer is a dict update, no decoding.

The output is exactly what ``json.dumps(..., separators=(",", ":"),
ensure_ascii=False)`` gives for the same values (tests/relay/test_wirejson.py).

Two presence encodings (docs/protocol.md, "Presence encodings"): 1, the ``presence``
frame with named fields, and 2, the compact ``p`` frame (short keys, selections and
ranges as flat arrays of numbers). An update's fields hold both: the long names
(``cursor``, ``sent_at``, ...) with their encoding-1 text and the short names (``c``,
``t``, ...) with their encoding-2 text; ``peer`` picks the ones of an encoding.

This module is the one place on the relay that writes the shape of a selection, a
viewport range and a presence entry: decoders build them with ``selection`` and
``span``, the core encodes them here, and reads the latest presence back with ``entry``.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping
from json.encoder import encode_basestring
from typing import Any

string = encode_basestring  # the C encoder where CPython has it; a JSON string literal

_dumps = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode
_QUAD = "%d,%d,%d,%d"
_SELECTION = '{"anchor":{"line":%d,"character":%d},"active":{"line":%d,"character":%d}}'
_SPAN = '{"start":{"line":%d,"character":%d},"end":{"line":%d,"character":%d}}'
PRESENCE_FORMS = (1, 2)  # the presence encodings
# long field name (encoding 1) -> short name (encoding 2)
SHORT = {"user_id": "u", "cursor": "c", "viewport": "v", "focus": "f", "status": "s",
         "sent_at": "t"}
# field name -> its key text in an entry of each encoding; "" leaves the field out
_KEYS: dict[str, str] = {**{k: "" for k in SHORT.values()},
                         **{k: string(k) + ":" for k in SHORT}}
_SHORT_KEYS: dict[str, str] = {**{k: "" for k in SHORT},
                               **{k: string(k) + ":" for k in SHORT.values()}}
KEYS = {1: _KEYS, 2: _SHORT_KEYS}
_SHORT_NAMES = frozenset(SHORT.values())

Point = dict[str, int]  # {"line", "character"}
Span = dict[str, Point]  # a selection {"anchor", "active"} or a range {"start", "end"}


def selection(anchor_line: int, anchor_character: int, active_line: int,
              active_character: int) -> Span:
    """A selection as presence carries it, from checked numbers."""
    return {"anchor": {"line": anchor_line, "character": anchor_character},
            "active": {"line": active_line, "character": active_character}}


def span(start_line: int, start_character: int, end_line: int, end_character: int) -> Span:
    """A viewport range as presence carries it, from checked numbers."""
    return {"start": {"line": start_line, "character": start_character},
            "end": {"line": end_line, "character": end_character}}


def value(v: Any) -> str:
    """One JSON value: plain strings and finite floats without the generic encoder."""
    t = type(v)
    if t is str:
        return string(v)
    if t is float and math.isfinite(v):
        return float.__repr__(v)
    return _dumps(v)


def fields(entry: Mapping[str, Any]) -> dict[str, str]:
    """Encode each field of a presence entry, in both encodings."""
    out: dict[str, str] = {}
    for k, v in entry.items():
        if k == "cursor":
            out.update(cursor_fields(v["path"], v["selections"], v.get("content_hash"), None))
        elif k == "viewport":
            out.update(viewport_fields(v["path"], v["ranges"]))
        elif k in SHORT:
            out.update(plain_fields(k, v))
        else:
            out[k] = value(v)
    return out


def cursor_fields(path: str, selections: Iterable[Mapping[str, Mapping[str, int]]],
                  content_hash: str | None, sent_at: float | None) -> dict[str, str]:
    """The fields of a cursor update, in both encodings."""
    out = {"cursor": cursor(path, selections, content_hash),
           "c": cursor_short(path, selections, content_hash)}
    if sent_at is not None:
        out["sent_at"] = out["t"] = value(sent_at)
    return out


def viewport_fields(path: str, ranges: Iterable[Mapping[str, Mapping[str, int]]]
                    ) -> dict[str, str]:
    """The fields of a viewport update, in both encodings."""
    return {"viewport": viewport(path, ranges), "v": viewport_short(path, ranges)}


def plain_fields(name: str, v: Any) -> dict[str, str]:
    """The fields of an update of one plain value (focus, status), in both encodings."""
    text = value(v)
    return {name: text, SHORT[name]: text}


def entry(parts: Mapping[str, str]) -> dict[str, Any]:
    """The presence entry (encoding 1 names, decoded values) that fields hold."""
    return {k: json.loads(v) for k, v in parts.items() if k not in _SHORT_NAMES}


def cursor(path: str, selections: Iterable[Mapping[str, Mapping[str, int]]],
           content_hash: str | None) -> str:
    """A cursor field ({"path", "selections", "content_hash"?}) from checked values."""
    sels = ",".join([_SELECTION % (s["anchor"]["line"], s["anchor"]["character"],
                                   s["active"]["line"], s["active"]["character"])
                     for s in selections])
    text = '{"path":' + string(path) + ',"selections":[' + sels + "]"
    if content_hash is not None:
        text += ',"content_hash":' + string(content_hash)
    return text + "}"


def cursor_short(path: str, selections: Iterable[Mapping[str, Mapping[str, int]]],
                 content_hash: str | None) -> str:
    """A cursor in encoding 2: [path, [anchor line, anchor character, active line,
    active character, ...], content_hash?]."""
    nums = ",".join([_QUAD % (s["anchor"]["line"], s["anchor"]["character"],
                                      s["active"]["line"], s["active"]["character"])
                     for s in selections])
    text = "[" + string(path) + ",[" + nums + "]"
    if content_hash is not None:
        text += "," + string(content_hash)
    return text + "]"


def viewport(path: str, ranges: Iterable[Mapping[str, Mapping[str, int]]]) -> str:
    """A viewport field ({"path", "ranges"}) from checked values."""
    spans = ",".join([_SPAN % (r["start"]["line"], r["start"]["character"],
                               r["end"]["line"], r["end"]["character"])
                      for r in ranges])
    return '{"path":' + string(path) + ',"ranges":[' + spans + "]}"


def viewport_short(path: str, ranges: Iterable[Mapping[str, Mapping[str, int]]]) -> str:
    """A viewport in encoding 2: [path, [start line, start character, end line, end
    character, ...]]."""
    nums = ",".join([_QUAD % (r["start"]["line"], r["start"]["character"],
                                      r["end"]["line"], r["end"]["character"])
                     for r in ranges])
    return "[" + string(path) + ",[" + nums + "]]"


def peer(parts: Mapping[str, str], form: int = 1) -> str:
    """One peer entry of presence encoding ``form`` from its encoded fields."""
    keys = KEYS[form]
    out = []
    for k, v in parts.items():
        key = keys.get(k)
        if key is None:  # a field without a short name: its own name in both encodings
            key = _KEYS[k] = _SHORT_KEYS[k] = string(k) + ":"
        if key:
            out.append(key + v)
    return "{" + ",".join(out) + "}"


def presence_head(session_id: str, form: int = 1) -> str:
    if form == 2:
        return '{"type":"p","s":' + string(session_id) + ',"p":['
    return '{"type":"presence","session_id":' + string(session_id) + ',"peers":['


def presence_frame(session_id: str, peers: Iterable[str], head: str | None = None,
                   form: int = 1) -> bytes:
    """A whole presence frame from encoded peer entries of encoding ``form`` (``head``:
    presence_head, when the caller builds several frames of one session)."""
    if head is None:
        head = presence_head(session_id, form)
    return (head + ",".join(peers) + "]}").encode()
