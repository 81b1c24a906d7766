"""Messages the relay sends to a client."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal

from wire.schema import SchemaError
from wire.types import (
    ChatMessage,
    Comment,
    CursorState,
    EventKind,
    ExportFormat,
    Invite,
    Limits,
    LogEntry,
    Mention,
    Message,
    Participant,
    PeerPresence,
    Position,
    Range,
    Selection,
    SessionInfo,
    Status,
    Thread,
    UserRef,
    ViewportState,
)

# ----- relay -> client -------------------------------------------------------


@dataclass(slots=True, kw_only=True)
class Welcome(Message):
    TYPE: ClassVar[str] = "welcome"
    protocol: int
    server: str
    limits: Limits
    user: UserRef | None = None  # null on the auth endpoint
    presence: int | None = None  # presence encoding the relay sends; absent: 1
    rid: str | None = None


@dataclass(slots=True, kw_only=True)
class AuthOk(Message):
    TYPE: ClassVar[str] = "auth_ok"
    token: str
    user: UserRef
    expires_at: float
    rid: str | None = None


@dataclass(slots=True, kw_only=True)
class Ack(Message):
    """A durable action is stored; ``seq`` is its place in the session."""

    TYPE: ClassVar[str] = "ack"
    id: str
    seq: int
    rid: str | None = None


@dataclass(slots=True, kw_only=True)
class Error(Message):
    TYPE: ClassVar[str] = "error"
    code: str
    message: str
    rid: str | None = None
    id: str | None = None
    retry_after: float | None = None  # seconds to wait before trying again, when known


@dataclass(slots=True, kw_only=True)
class Ok(Message):
    """A request without a richer answer succeeded."""

    TYPE: ClassVar[str] = "ok"
    rid: str | None = None


@dataclass(slots=True, kw_only=True)
class SessionState(Message):
    """Answer to session_create and session_join: everything a member sees."""

    TYPE: ClassVar[str] = "session_state"
    session: SessionInfo
    you: Participant
    participants: list[Participant]
    presence: list[PeerPresence]
    last_seq: int
    chat: list[ChatMessage]
    chat_has_more: bool
    threads: list[Thread]
    mentions: list[Mention]
    events: list[Event] = field(default_factory=list)  # catch-up after last_seq
    events_has_more: bool = False  # catch-up was capped: continue with sync
    rid: str | None = None


@dataclass(slots=True, kw_only=True)
class SessionListResult(Message):
    TYPE: ClassVar[str] = "session_list_result"
    sessions: list[SessionInfo]
    rid: str | None = None


@dataclass(slots=True, kw_only=True)
class InviteResult(Message):
    TYPE: ClassVar[str] = "invite_result"
    invite: Invite
    rid: str | None = None


@dataclass(slots=True, kw_only=True)
class InviteListResult(Message):
    TYPE: ClassVar[str] = "invite_list_result"
    invites: list[Invite]
    rid: str | None = None


@dataclass(slots=True, kw_only=True)
class ViewersResult(Message):
    TYPE: ClassVar[str] = "viewers_result"
    session_id: str
    path: str
    users: list[UserRef]
    rid: str | None = None


@dataclass(slots=True, kw_only=True)
class HistoryPage(Message):
    TYPE: ClassVar[str] = "history_page"
    session_id: str
    messages: list[ChatMessage]
    has_more: bool
    rid: str | None = None


@dataclass(slots=True, kw_only=True)
class SyncResult(Message):
    TYPE: ClassVar[str] = "sync_result"
    session_id: str
    events: list[Event]
    last_seq: int
    has_more: bool = False  # capped: ask again after the last event's seq
    rid: str | None = None


@dataclass(slots=True, kw_only=True)
class EventLogResult(Message):
    TYPE: ClassVar[str] = "event_log_result"
    session_id: str
    entries: list[LogEntry]
    rid: str | None = None


@dataclass(slots=True, kw_only=True)
class ExportResult(Message):
    TYPE: ClassVar[str] = "export_result"
    session_id: str
    format: ExportFormat
    content: str
    rid: str | None = None


@dataclass(slots=True, kw_only=True)
class Event(Message):
    """A durable change, broadcast to the session with its ``seq``.

    It carries the whole current state of what changed (the message after an
    edit, the comment after a reaction, ...), so receivers simply upsert.
    """

    TYPE: ClassVar[str] = "event"
    session_id: str
    seq: int
    id: str
    kind: EventKind
    actor: UserRef
    at: float
    message: ChatMessage | None = None
    thread: Thread | None = None
    comment: Comment | None = None
    participant: Participant | None = None


@dataclass(slots=True, kw_only=True)
class PresenceUpdate(Message):
    """Ephemeral peer state, several peers per frame under load."""

    TYPE: ClassVar[str] = "presence"
    session_id: str
    peers: list[PeerPresence]


@dataclass(slots=True, kw_only=True)
class CompactPeer:
    """One peer of a ``p`` frame: PeerPresence with short keys and flat numbers."""

    u: str  # user_id
    c: list[Any] | None = None  # cursor: [path, [anchor line, anchor char, active line,
    #                             active char, ...], content_hash?]
    v: list[Any] | None = None  # viewport: [path, [start line, start char, end line, ...]]
    f: str | None = None  # focus
    s: Status | None = None  # status
    t: float | None = None  # sent_at


@dataclass(slots=True, kw_only=True)
class PresenceCompact(Message):
    """Presence encoding 2 (asked for in hello): the session id once, short entries.
    decode_server turns it into the PresenceUpdate it stands for."""

    TYPE: ClassVar[str] = "p"
    s: str  # session_id
    p: list[CompactPeer]

    def expand(self) -> PresenceUpdate:
        return PresenceUpdate(session_id=self.s, peers=[_expand_peer(x) for x in self.p])


def _quads(value: Any, what: str) -> list[tuple[Position, Position]]:
    if (type(value) is not list or len(value) % 4
            or any(type(n) is not int or n < 0 for n in value)):
        raise SchemaError(what, "array of non-negative integers, four per " + what)
    return [(Position(line=value[i], character=value[i + 1]),
             Position(line=value[i + 2], character=value[i + 3]))
            for i in range(0, len(value), 4)]


def _expand_peer(x: CompactPeer) -> PeerPresence:
    cursor = viewport = None
    if x.c is not None:
        if not 2 <= len(x.c) <= 3 or type(x.c[0]) is not str or (
                len(x.c) == 3 and type(x.c[2]) is not str):
            raise SchemaError("p.c", "[path, numbers, content_hash?]")
        cursor = CursorState(path=x.c[0], content_hash=x.c[2] if len(x.c) == 3 else None,
                             selections=[Selection(anchor=a, active=b)
                                         for a, b in _quads(x.c[1], "selection")])
    if x.v is not None:
        if len(x.v) != 2 or type(x.v[0]) is not str:
            raise SchemaError("p.v", "[path, numbers]")
        viewport = ViewportState(path=x.v[0], ranges=[Range(start=a, end=b)
                                                      for a, b in _quads(x.v[1], "range")])
    return PeerPresence(user_id=x.u, status=x.s, cursor=cursor, viewport=viewport, focus=x.f,
                        sent_at=x.t)


@dataclass(slots=True, kw_only=True)
class UserJoined(Message):
    """A participant came online in the session."""

    TYPE: ClassVar[str] = "user_joined"
    session_id: str
    participant: Participant


@dataclass(slots=True, kw_only=True)
class UserLeft(Message):
    """A participant went offline: left, disconnected, timed out or was removed."""

    TYPE: ClassVar[str] = "user_left"
    session_id: str
    user_id: str
    reason: Literal["left", "disconnected", "timeout", "removed", "ended"]


@dataclass(slots=True, kw_only=True)
class MentionNotice(Message):
    TYPE: ClassVar[str] = "mention"
    mention: Mention


@dataclass(slots=True, kw_only=True)
class Reconnect(Message):
    """The relay is shutting down; reconnect after ``retry_after`` seconds."""

    TYPE: ClassVar[str] = "reconnect"
    reason: str
    retry_after: float = 1.0
