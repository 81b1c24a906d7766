"""Presence JSON built from pre-encoded parts: each field of an update is encoded once.

A presence entry travels as a dict of field name -> JSON text ("fields"). The fan-out
joins the fields of every peer of a batch into one frame and sends the same bytes
to every receiver, so an update is encoded once however many receivers it has, and
merging a newer update of the same peer is a dict update, no decoding.

The output is exactly what ``json.dumps(..., separators=(",", ":"),
ensure_ascii=False)`` gives for the same values (tests/relay/test_wirejson.py).
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping
from json.encoder import encode_basestring
from typing import Any

string = encode_basestring  # the C encoder where CPython has it; a JSON string literal

_dumps = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode
_SELECTION = '{"anchor":{"line":%d,"character":%d},"active":{"line":%d,"character":%d}}'
_KEYS: dict[str, str] = {}


def value(v: Any) -> str:
    """One JSON value: plain strings and finite floats without the generic encoder."""
    t = type(v)
    if t is str:
        return string(v)
    if t is float and math.isfinite(v):
        return float.__repr__(v)
    return _dumps(v)


def fields(entry: Mapping[str, Any]) -> dict[str, str]:
    """Encode each field of a presence entry."""
    return {k: value(v) for k, v in entry.items()}


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


def peer(parts: Mapping[str, str]) -> str:
    """One peer entry from its encoded fields."""
    keys = _KEYS
    out = []
    for k, v in parts.items():
        key = keys.get(k)
        if key is None:
            key = keys[k] = string(k) + ":"
        out.append(key + v)
    return "{" + ",".join(out) + "}"


def presence_head(session_id: str) -> str:
    return '{"type":"presence","session_id":' + string(session_id) + ',"peers":['


def presence_frame(session_id: str, peers: Iterable[str], head: str | None = None) -> bytes:
    """A whole presence frame from encoded peer entries (``head``: presence_head, when
    the caller builds several frames of one session)."""
    if head is None:
        head = presence_head(session_id)
    return (head + ",".join(peers) + "]}").encode()
