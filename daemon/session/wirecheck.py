"""Relay frames decoded item by item: one bad item never costs the whole frame.

``decode_server`` checks a frame as a whole, so a single thread, presence entry,
chat message or event of the wrong shape would make the daemon drop a whole
``session_state`` (and every join fail) or a whole history page. :func:`decode`
tries the strict decoding first; when it fails, each element of the frame's
top-level lists is checked on its own, the bad ones are left out, and the rest
is decoded. The caller gets the message and one line per item left out, to log
and to show the editor (``ensemble/didError`` with code ``bad_item``).
"""

from __future__ import annotations

import json
from dataclasses import fields
from typing import Any, get_args, get_origin

from wire import SERVER_MESSAGES, Message, ProtocolError, decode_server
from wire.schema import SchemaError, structure, type_hints

MAX_REPORTED = 5  # reasons kept per frame; the count says how many were left out


def decode(raw: str | bytes) -> tuple[Message, list[str]]:
    """The frame's message and the reasons of the items left out (empty when none)."""
    try:
        return decode_server(raw), []
    except ProtocolError as exc:
        strict = exc
    try:
        data = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise strict from None
    cls = SERVER_MESSAGES.get(str(data.get("type"))) if isinstance(data, dict) else None
    if cls is None:
        raise strict
    skipped = _prune(data, cls)
    if not skipped:
        raise strict
    return decode_server(json.dumps(data)), skipped


def _prune(data: dict[str, Any], cls: type[Any]) -> list[str]:
    hints = type_hints(cls)
    skipped: list[str] = []
    for f in fields(cls):
        hint = hints.get(f.name)
        items = data.get(f.name)
        if get_origin(hint) is not list or type(items) is not list:
            continue
        (item_type,) = get_args(hint) or (Any,)
        keep: list[Any] = []
        for i, item in enumerate(items):
            try:
                structure(item, item_type, f"{cls.TYPE}.{f.name}[{i}]")
            except SchemaError as exc:
                skipped.append(str(exc))
                continue
            keep.append(item)
        data[f.name] = keep
    return skipped


def summary(kind: str, skipped: list[str]) -> str:
    """One line for the editor: how many items of a ``kind`` frame were left out, and why."""
    reasons = "; ".join(skipped[:MAX_REPORTED])
    more = f" (and {len(skipped) - MAX_REPORTED} more)" if len(skipped) > MAX_REPORTED else ""
    return f"left out {len(skipped)} bad item(s) of a {kind} frame from the relay: {reasons}{more}"
