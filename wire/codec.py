"""The message tables and the JSON codec: decode_client, decode_server, encode."""

from __future__ import annotations

import json
from typing import Any

from wire.bounds import MAX_ID_CHARS, MAX_JSON_DEPTH
from wire.client import (
    ChatDelete,
    ChatEdit,
    ChatSend,
    CommentDelete,
    CommentEdit,
    CommentReply,
    CursorUpdate,
    EventLogQuery,
    ExportRequest,
    FocusUpdate,
    Heartbeat,
    Hello,
    HistoryFetch,
    InviteCreate,
    InviteList,
    InviteRevoke,
    ParticipantRemove,
    ReactionToggle,
    RoleSet,
    SessionCreate,
    SessionEnd,
    SessionJoin,
    SessionLeave,
    SessionList,
    SignIn,
    SignUp,
    StatusSet,
    SyncRequest,
    ThreadCreate,
    ThreadDelete,
    ThreadResolve,
    ViewersQuery,
    ViewportUpdate,
)
from wire.errors import ErrorCode, ProtocolError
from wire.schema import SchemaError, ValueOutOfRange, structure, to_wire
from wire.server import (
    Ack,
    AuthOk,
    Error,
    Event,
    EventLogResult,
    ExportResult,
    HistoryPage,
    InviteListResult,
    InviteResult,
    MentionNotice,
    Ok,
    PresenceCompact,
    PresenceUpdate,
    Reconnect,
    SessionListResult,
    SessionState,
    SyncResult,
    UserJoined,
    UserLeft,
    ViewersResult,
    Welcome,
)
from wire.types import Message

CLIENT_MESSAGES: dict[str, type[Message]] = {
    cls.TYPE: cls
    for cls in (
        Hello, SignUp, SignIn, SessionCreate, SessionList, SessionJoin, SessionLeave,
        SessionEnd, InviteCreate, InviteRevoke, InviteList, RoleSet, ParticipantRemove,
        StatusSet, CursorUpdate, ViewportUpdate, FocusUpdate, Heartbeat, ViewersQuery,
        ChatSend, ChatEdit, ChatDelete, ReactionToggle, ThreadCreate, CommentReply,
        CommentEdit, CommentDelete, ThreadResolve, ThreadDelete, HistoryFetch, SyncRequest,
        EventLogQuery, ExportRequest,
    )
}

SERVER_MESSAGES: dict[str, type[Message]] = {
    cls.TYPE: cls
    for cls in (
        Welcome, AuthOk, Ack, Error, Ok, SessionState, SessionListResult, InviteResult,
        InviteListResult, ViewersResult, HistoryPage, SyncResult, EventLogResult,
        ExportResult, Event, PresenceUpdate, PresenceCompact, UserJoined, UserLeft,
        MentionNotice, Reconnect,
    )
}

# Actions that must never be lost: they carry ``id`` and are acked.
DURABLE_TYPES = frozenset(
    cls.TYPE
    for cls in (
        ChatSend, ChatEdit, ChatDelete, ReactionToggle, ThreadCreate, CommentReply,
        CommentEdit, CommentDelete, ThreadResolve, ThreadDelete,
    )
)

# Latest-value-wins traffic: never stored, coalesced under load.
EPHEMERAL_TYPES = frozenset(
    cls.TYPE for cls in (StatusSet, CursorUpdate, ViewportUpdate, FocusUpdate, Heartbeat)
)


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


_STRICT_JSON = json.JSONDecoder(parse_constant=_no_constant)


def parse_json(raw: str | bytes) -> Any:
    """Parse a client frame: strict JSON (no NaN or Infinity), nested at most
    MAX_JSON_DEPTH levels; raise ProtocolError ``bad_json`` otherwise."""
    try:
        text = raw if isinstance(raw, str) else raw.decode()
        data = _STRICT_JSON.decode(text)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ProtocolError(ErrorCode.BAD_JSON, f"frame is not valid json: {exc}") from exc
    except RecursionError as exc:
        raise ProtocolError(ErrorCode.BAD_JSON, "frame is nested too deeply") from exc
    if text.count("[") + text.count("{") > MAX_JSON_DEPTH and not _shallow(data):
        raise ProtocolError(ErrorCode.BAD_JSON,
                            f"frame is nested deeper than {MAX_JSON_DEPTH} levels")
    return data


def _shallow(data: Any) -> bool:
    """No object or array in ``data`` is nested deeper than MAX_JSON_DEPTH (iterative)."""
    stack: list[tuple[Any, int]] = [(data, 1)]
    while stack:
        value, depth = stack.pop()
        if depth > MAX_JSON_DEPTH:
            return False
        if type(value) is dict:
            stack.extend((v, depth + 1) for v in value.values() if type(v) in (dict, list))
        elif type(value) is list:
            stack.extend((v, depth + 1) for v in value if type(v) in (dict, list))
    return True


def _decode(raw: str | bytes, table: dict[str, type[Message]], strict: bool = False) -> Message:
    if strict:
        data = parse_json(raw)
    else:
        try:
            data = json.loads(raw)
        except (ValueError, UnicodeDecodeError) as exc:
            raise ProtocolError(ErrorCode.BAD_JSON, f"frame is not valid json: {exc}") from exc
    if _has_surrogate_escape(raw) and not _valid_unicode(data):
        raise ProtocolError(ErrorCode.BAD_JSON,
                            "frame is not valid json: a \\u escape leaves a lone surrogate")
    if type(data) is not dict:
        raise ProtocolError(ErrorCode.BAD_MESSAGE, "frame must be a json object")
    rid, msg_id = _echo(data.get("rid")), _echo(data.get("id"))
    kind = data.get("type")
    if type(kind) is not str:
        raise ProtocolError(
            ErrorCode.BAD_MESSAGE, "missing string field 'type'", rid=rid, id=msg_id
        )
    cls = table.get(kind)
    if cls is None:
        raise ProtocolError(
            ErrorCode.UNKNOWN_TYPE, f"unknown message type {kind!r}", rid=rid, id=msg_id
        )
    try:
        return structure(data, cls, strict=strict)
    except ValueOutOfRange as exc:
        raise ProtocolError(
            ErrorCode.INVALID_VALUE, f"bad {kind} message: {exc}", rid=rid, id=msg_id
        ) from exc
    except SchemaError as exc:
        raise ProtocolError(
            ErrorCode.BAD_MESSAGE, f"bad {kind} message: {exc}", rid=rid, id=msg_id
        ) from exc


def _echo(value: Any) -> str | None:
    """A rid or id an error may echo: a string within MAX_ID_CHARS, else None."""
    return value if type(value) is str and len(value) <= MAX_ID_CHARS else None


def _has_surrogate_escape(raw: str | bytes) -> bool:
    """True when ``raw`` may escape a UTF-16 surrogate (\\uD800-\\uDFFF): only then can
    json.loads return a string that is not valid Unicode."""
    if isinstance(raw, str):
        return "\\ud" in raw or "\\uD" in raw
    return b"\\ud" in raw or b"\\uD" in raw


def _valid_unicode(data: Any) -> bool:
    """No string (value or key) in ``data`` holds a lone surrogate."""
    if type(data) is str:
        try:
            data.encode()
        except UnicodeEncodeError:
            return False
        return True
    if type(data) is list:
        return all(_valid_unicode(v) for v in data)
    if type(data) is dict:
        return all(_valid_unicode(k) and _valid_unicode(v) for k, v in data.items())
    return True


def decode_client(raw: str | bytes) -> Message:
    """Parse and check a client frame, every bound included; raise ProtocolError with a
    code otherwise (``bad_json``, ``bad_message``, ``unknown_type``, ``invalid_value``)."""
    return _decode(raw, CLIENT_MESSAGES, strict=True)


def decode_server(raw: str | bytes) -> Message:
    """Parse and check a relay frame (used by the daemon and the tests). A compact
    presence frame (``p``) comes back as the PresenceUpdate it stands for."""
    msg = _decode(raw, SERVER_MESSAGES)
    if type(msg) is PresenceCompact:
        try:
            return msg.expand()
        except SchemaError as exc:
            raise ProtocolError(ErrorCode.BAD_MESSAGE, f"bad p message: {exc}") from exc
    return msg


def encode(msg: Message) -> str:
    """Serialize a message to its JSON text frame."""
    return json.dumps(to_wire(msg), separators=(",", ":"), ensure_ascii=False)


def as_dict(msg: Any) -> Any:
    """JSON-ready data of a message or value type."""
    return to_wire(msg)
