"""Cursor frames without the generic machinery: most of the relay's inbound traffic.

``cursor(raw)`` decodes a well-formed cursor frame with plain type tests that
mirror wire.schema.structure for exactly CursorUpdate's fields, and returns
None for anything else (bad JSON, another type, a missing or mistyped field),
which then takes the generic path: decode_client builds the same message or
raises the same error. It applies the same bounds (wire.path_problem,
positions within 0..MAX_POSITION, finite numbers, string lengths, strict JSON) by
declining what breaks them. The fast path turns itself off if the protocol's cursor
types gain or lose fields.
"""

from __future__ import annotations

import dataclasses
import json
import json.scanner
from collections.abc import Callable
from math import isfinite
from typing import Any, cast

from relay.core import wirejson
from relay.core.cursor import CursorFields
from wire import (
    MAX_ID_CHARS,
    MAX_POSITION,
    CursorUpdate,
    Message,
    Position,
    ProtocolError,
    Selection,
    decode_client,
    parse_json,
    path_problem,
)
from wire.bounds import MAX_JSON_DEPTH
from wire.schema import MAX_INT

ENABLED = (
    tuple(f.name for f in dataclasses.fields(CursorUpdate))
    == ("session_id", "path", "selections", "sent_at", "content_hash", "rid")
    and tuple(f.name for f in dataclasses.fields(Selection)) == ("anchor", "active")
    and tuple(f.name for f in dataclasses.fields(Position)) == ("line", "character")
)


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


# wire.parse_json's grammar: strict JSON, no NaN or Infinity. The scanner is what
# JSONDecoder.raw_decode calls: (value, end), StopIteration when no value starts at 0.
_scan: Callable[[str, int], tuple[Any, int]] = json.scanner.make_scanner(
    cast(Any, json.JSONDecoder(parse_constant=_no_constant)))  # (its stub names no decoder)


def decode(raw: str | bytes) -> Message:
    """decode_client, faster for cursor frames; raise ProtocolError with a code otherwise."""
    msg = cursor(raw)
    return decode_client(raw) if msg is None else msg


def cursor(raw: str | bytes) -> CursorUpdate | None:
    """The cursor update in ``raw``, or None when the generic decoder must look at it."""
    fields = cursor_fields(raw)
    if fields is None:
        return None
    sid, path, sels, sent_at, content_hash, rid = fields
    selections = [Selection(anchor=Position(**s["anchor"]), active=Position(**s["active"]))
                  for s in sels]
    return CursorUpdate(session_id=sid, path=path, selections=selections, sent_at=sent_at,
                        content_hash=content_hash, rid=rid)


def cursor_fields(raw: str | bytes) -> CursorFields | None:
    """The fields of the cursor update in ``raw``, no dataclasses; None as for ``cursor``.

    Selections come back as new dicts holding exactly anchor/active line/character,
    in that order (unknown keys dropped), as the presence entry carries them.
    """
    if not ENABLED or type(raw) is not str or '"cursor"' not in raw or "\\u" in raw:
        return None  # escapes (maybe a lone surrogate): the generic decoder checks them
    # parse_json's grammar, without its error messages: a frame it would refuse, or one
    # with whitespace around, is left to the generic path.
    try:
        d, end = _scan(raw, 0)
    except (StopIteration, ValueError, RecursionError):
        return None
    if end != len(raw):
        return None
    if raw.count("[") + raw.count("{") > MAX_JSON_DEPTH:
        try:
            d = parse_json(raw)  # nesting that may be too deep: its check, once
        except ProtocolError:
            return None
    if type(d) is not dict or d.get("type") != "cursor":
        return None
    sid, path, sels = d.get("session_id"), d.get("path"), d.get("selections")
    if type(sid) is not str or type(path) is not str or type(sels) is not list:
        return None
    if len(sid) > MAX_ID_CHARS:
        return None
    if path_problem(path) is not None:  # cached (wire.bounds)
        return None
    top = MAX_POSITION
    selections = []
    for s in sels:
        if type(s) is not dict:
            return None
        a, b = s.get("anchor"), s.get("active")
        if type(a) is not dict or type(b) is not dict:
            return None
        al, ac, bl, bc = a.get("line"), a.get("character"), b.get("line"), b.get("character")
        if type(al) is not int or type(ac) is not int or type(bl) is not int or type(bc) is not int:
            return None
        if not (0 <= al <= top and 0 <= ac <= top and 0 <= bl <= top and 0 <= bc <= top):
            return None
        selections.append(wirejson.selection(al, ac, bl, bc))
    sent_at, content_hash, rid = d.get("sent_at"), d.get("content_hash"), d.get("rid")
    if sent_at is not None and type(sent_at) is not float:
        if type(sent_at) is not int or not -MAX_INT <= sent_at <= MAX_INT:
            return None
        sent_at = float(sent_at)
    elif sent_at is not None and not isfinite(sent_at):
        return None
    if content_hash is not None and (type(content_hash) is not str
                                     or len(content_hash) > MAX_ID_CHARS):
        return None
    if rid is not None and (type(rid) is not str or len(rid) > MAX_ID_CHARS):
        return None
    return sid, path, selections, sent_at, content_hash, rid
