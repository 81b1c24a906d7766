"""The Ensemble wire protocol: every message between daemon and relay.

One JSON text frame carries one message; its ``type`` field names the class
below (its ``TYPE``). This module is the single definition: the relay, the
daemon, docs/protocol.md and the generated TypeScript all follow it.

Conventions
- ``rid``: optional request id chosen by the client; replies and errors echo it.
- ``id`` on durable actions: a client-made unique id (UUID). The relay stores
  the action, acks it with ``ack{id, seq}``, then broadcasts an ``event`` with
  the per-session ``seq``. Re-sending an ``id`` is acked again, never stored twice.
- Paths are workspace-relative POSIX paths; positions are LSP positions
  (zero-based line, UTF-16 character).
- Times are UNIX seconds (float).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal

from relay.schema import MAX_STRING, Check, SchemaError, ValueOutOfRange, structure, to_wire

PROTOCOL_VERSION = 1
SUPPORTED_VERSIONS = frozenset({1})
# Presence encodings (hello.presence): 1, ``presence`` frames; 2, compact ``p`` frames.
PRESENCE_FORM = 2  # the newest, what the daemon asks for
PRESENCE_FORMS = frozenset({1, 2})

# Paths of the relay's WebSocket endpoints.
SESSION_PATH = "/ws"  # needs "Authorization: Bearer <jwt>" on the upgrade
AUTH_PATH = "/auth"  # no token; accepts only hello, sign_up and sign_in

Role = Literal["host", "editor", "viewer"]
InviteRole = Literal["editor", "viewer"]
Status = Literal["active", "idle", "away"]
ExportFormat = Literal["json", "markdown"]


class ErrorCode:
    """Codes carried by ``error`` frames (and documented in docs/protocol.md)."""

    BAD_JSON = "bad_json"
    BAD_MESSAGE = "bad_message"
    UNKNOWN_TYPE = "unknown_type"
    UNSUPPORTED_VERSION = "unsupported_version"
    HELLO_REQUIRED = "hello_required"
    FRAME_TOO_LARGE = "frame_too_large"
    TEXT_TOO_LONG = "text_too_long"
    RATE_LIMITED = "rate_limited"
    UNAUTHORIZED = "unauthorized"
    TOKEN_EXPIRED = "token_expired"
    BAD_CREDENTIALS = "bad_credentials"
    USERNAME_TAKEN = "username_taken"
    INVALID_USERNAME = "invalid_username"
    WEAK_PASSWORD = "weak_password"
    FORBIDDEN = "forbidden"
    NOT_IN_SESSION = "not_in_session"
    SESSION_NOT_FOUND = "session_not_found"
    SESSION_ENDED = "session_ended"
    SESSION_FULL = "session_full"
    INVITE_INVALID = "invite_invalid"
    INVITE_EXPIRED = "invite_expired"
    NOT_FOUND = "not_found"
    NOT_AUTHOR = "not_author"
    ID_CONFLICT = "id_conflict"
    INVALID_VALUE = "invalid_value"
    TOO_MANY_CONNECTIONS = "too_many_connections"
    STORAGE_BUSY = "storage_busy"
    FORBIDDEN_ORIGIN = "forbidden_origin"
    REMOVED = "removed"
    SHUTTING_DOWN = "shutting_down"
    INTERNAL = "internal"


class CloseCode:
    """WebSocket close codes used by the relay."""

    NORMAL = 1000
    GOING_AWAY = 1001
    PROTOCOL_ERROR = 1002
    UNSUPPORTED_DATA = 1003
    POLICY_VIOLATION = 1008
    MESSAGE_TOO_BIG = 1009
    SERVICE_RESTART = 1012
    UNSUPPORTED_VERSION = 4000
    HELLO_REQUIRED = 4001
    REMOVED = 4003
    SESSION_ENDED = 4004
    RATE_LIMITED = 4029


class ProtocolError(Exception):
    """a frame or action the relay refuses; becomes an ``error`` frame."""

    def __init__(
        self, code: str, message: str, *, rid: str | None = None, id: str | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.rid = rid
        self.id = id
        self.retry_after = retry_after  # seconds, for refusals that pass (rate, busy store)


# ---------------------------------------------------------------------------
# Bounds of what a client may send (applied when a client frame is decoded)

MAX_ID_CHARS = MAX_STRING  # every string field without a bound of its own: ids, rid, emoji, ...
MAX_POSITION = 2**31 - 1  # line and character numbers: 0 <= n <= MAX_POSITION
MAX_PATH_BYTES = 1024  # UTF-8 bytes of a path
MAX_PATH_SEGMENTS = 128  # '/'-separated parts of a path
MAX_DISPLAY_NAME = 64
MAX_JSON_DEPTH = 32  # nesting of objects and arrays in a frame

# C0 and C1 controls, DEL, and the bidi formatting characters (embeddings, overrides,
# isolates, marks) that make text display in another order than it is stored.
_UNSAFE_CHARS = re.compile("[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def path_problem(path: str) -> str | None:
    """Why ``path`` is not a workspace-relative POSIX path, or None when it is.

    Accepted: 1 to MAX_PATH_BYTES bytes, at most MAX_PATH_SEGMENTS parts joined by '/',
    no part empty, '.' or '..' (so no leading or trailing '/', no '//'), no backslash,
    no drive letter ('C:'), no control or bidi formatting character.
    """
    if not path:
        return "a path must not be empty"
    if len(path) > MAX_PATH_BYTES // 4 and len(path.encode()) > MAX_PATH_BYTES:
        return f"a path is at most {MAX_PATH_BYTES} bytes"
    if _UNSAFE_CHARS.search(path) is not None:
        return "a path must not hold control or bidi formatting characters"
    if "\\" in path:
        return "a path uses '/', never a backslash"
    if path[0] == "/" or (len(path) > 1 and path[1] == ":" and path[0].isascii()
                          and path[0].isalpha()):
        return "a path is relative to the workspace, never absolute"
    parts = path.split("/")
    if len(parts) > MAX_PATH_SEGMENTS:
        return f"a path has at most {MAX_PATH_SEGMENTS} parts"
    for part in parts:
        if part in ("", ".", ".."):
            return "a path has no empty, '.' or '..' part"
    return None


def name_problem(name: str) -> str | None:
    """Why ``name`` cannot be shown to others as a display name, or None."""
    if _UNSAFE_CHARS.search(name) is not None:
        return "a name must not hold control or bidi formatting characters"
    if name != name.strip():
        return "a name must not start or end with whitespace"
    return None


def label_problem(label: str) -> str | None:
    """Why ``label`` (a session name, ...) cannot be shown to others, or None."""
    if _UNSAFE_CHARS.search(label) is not None:
        return "control or bidi formatting characters are not allowed"
    return None


_POS = Check(low=0, high=MAX_POSITION).meta()
_PATH = Check(max_chars=None, test=path_problem).meta()
_TEXT = Check(max_chars=None).meta()  # bounded by the frame size; the core checks its limit
_REPO = Check(max_chars=1024, test=label_problem).meta()
_LABEL = Check(max_chars=None, test=label_problem).meta()  # the core checks the length
_NAME = Check(max_chars=MAX_DISPLAY_NAME, test=name_problem).meta()


def _repo_part() -> Any:
    return field(default=None, metadata=_REPO)


# ---------------------------------------------------------------------------
# Value types


@dataclass(slots=True, kw_only=True)
class Position:
    line: int = field(metadata=_POS)
    character: int = field(metadata=_POS)


@dataclass(slots=True, kw_only=True)
class Range:
    start: Position
    end: Position


@dataclass(slots=True, kw_only=True)
class Selection:
    """A selection; ``active`` is where the caret is, ``anchor`` where it started."""

    anchor: Position
    active: Position


@dataclass(slots=True, kw_only=True)
class RepoIdentity:
    """What identifies a repository across machines."""

    remote: str | None = _repo_part()  # normalized remote URL, e.g. "github.com/acme/app"
    root_commit: str | None = _repo_part()  # hash of the first commit
    name: str | None = _repo_part()  # folder name, for display only


@dataclass(slots=True, kw_only=True)
class UserRef:
    id: str  # the username, lowercase
    name: str  # display name


@dataclass(slots=True, kw_only=True)
class Anchor:
    """Where a comment thread is pinned, with enough text to find it again."""

    path: str = field(metadata=_PATH)
    start_line: int = field(metadata=_POS)
    end_line: int = field(metadata=_POS)  # inclusive
    text: list[str] = field(metadata=_TEXT)  # the anchored lines, start_line..end_line
    before: list[str] = field(default_factory=list, metadata=_TEXT)  # up to 3 lines above
    after: list[str] = field(default_factory=list, metadata=_TEXT)  # up to 3 lines below


@dataclass(slots=True, kw_only=True)
class Limits:
    max_frame_bytes: int
    max_text_chars: int
    max_participants: int
    rate_per_second: float
    rate_burst: int
    history_page: int
    presence_timeout: float


@dataclass(slots=True, kw_only=True)
class SessionInfo:
    session_id: str
    name: str
    repo: RepoIdentity
    host: UserRef
    created_at: float
    ended_at: float | None = None
    role: Role | None = None  # the asking user's role, when a member
    project_id: str | None = None  # the project the session belongs to


@dataclass(slots=True, kw_only=True)
class Participant:
    user: UserRef
    role: Role
    online: bool
    status: Status = "active"
    joined_at: float = 0.0


@dataclass(slots=True, kw_only=True)
class CursorState:
    path: str
    selections: list[Selection]
    content_hash: str | None = None  # sha1 of the sender's file text (approximate cursors)


@dataclass(slots=True, kw_only=True)
class ViewportState:
    path: str
    ranges: list[Range]


@dataclass(slots=True, kw_only=True)
class PeerPresence:
    """Latest ephemeral state of one peer. Absent fields are unchanged."""

    user_id: str
    status: Status | None = None
    cursor: CursorState | None = None
    viewport: ViewportState | None = None
    focus: str | None = None
    sent_at: float | None = None  # sender's clock, carried for latency figures


@dataclass(slots=True, kw_only=True)
class ChatMessage:
    id: str
    session_id: str
    seq: int
    author: UserRef
    text: str  # markdown, stored raw; "" once deleted
    created_at: float
    parent_id: str | None = None
    to: str | None = None  # user id of a direct message's recipient
    mentions: list[str] = field(default_factory=list)
    reactions: dict[str, list[str]] = field(default_factory=dict)  # emoji -> user ids
    edited_at: float | None = None
    deleted: bool = False


@dataclass(slots=True, kw_only=True)
class Comment:
    id: str
    thread_id: str
    author: UserRef
    text: str
    created_at: float
    mentions: list[str] = field(default_factory=list)
    reactions: dict[str, list[str]] = field(default_factory=dict)
    edited_at: float | None = None
    deleted: bool = False


@dataclass(slots=True, kw_only=True)
class Thread:
    id: str
    session_id: str  # the session it was created in
    anchor: Anchor
    author: UserRef
    created_at: float
    comments: list[Comment]
    resolved: bool = False
    resolved_by: str | None = None


@dataclass(slots=True, kw_only=True)
class Mention:
    session_id: str
    seq: int
    by: UserRef
    text: str
    at: float
    message_id: str | None = None
    thread_id: str | None = None
    comment_id: str | None = None


@dataclass(slots=True, kw_only=True)
class Invite:
    invite_id: str
    session_id: str
    role: InviteRole
    token: str
    expires_at: float
    revoked: bool = False
    uses: int = 0
    max_uses: int | None = None


@dataclass(slots=True, kw_only=True)
class LogEntry:
    seq: int
    kind: str
    actor: str
    at: float
    subject: str | None = None
    detail: str | None = None


EventKind = Literal[
    "chat_created",
    "chat_edited",
    "chat_deleted",
    "chat_reaction",
    "thread_created",
    "comment_created",
    "comment_edited",
    "comment_deleted",
    "comment_reaction",
    "thread_resolved",
    "thread_reopened",
    "thread_deleted",
    "participant_joined",
    "participant_left",
    "participant_removed",
    "role_changed",
    "session_ended",
]


# ---------------------------------------------------------------------------
# Messages


class Message:
    """Base of every frame; ``TYPE`` is the frame's ``type`` field."""

    TYPE: ClassVar[str]
    __slots__ = ()


# ----- client -> relay -------------------------------------------------------


@dataclass(slots=True, kw_only=True)
class Hello(Message):
    """First frame on every connection: the protocol version spoken."""

    TYPE: ClassVar[str] = "hello"
    protocol: int
    client: str = ""
    presence: int | None = None  # presence encoding wanted (PRESENCE_FORMS); absent: 1
    rid: str | None = None


@dataclass(slots=True, kw_only=True)
class SignUp(Message):
    TYPE: ClassVar[str] = "sign_up"
    username: str
    password: str
    display_name: str | None = field(default=None, metadata=_NAME)
    rid: str | None = None


@dataclass(slots=True, kw_only=True)
class SignIn(Message):
    TYPE: ClassVar[str] = "sign_in"
    username: str
    password: str
    rid: str | None = None


@dataclass(slots=True, kw_only=True)
class SessionCreate(Message):
    TYPE: ClassVar[str] = "session_create"
    name: str = field(metadata=_LABEL)
    repo: RepoIdentity
    project_id: str | None = None  # continue this project (the caller must own it)
    rid: str | None = None


@dataclass(slots=True, kw_only=True)
class SessionList(Message):
    TYPE: ClassVar[str] = "session_list"
    rid: str | None = None


@dataclass(slots=True, kw_only=True)
class SessionJoin(Message):
    """Join by session id (members) or by invite token; ``last_seq`` asks for catch-up."""

    TYPE: ClassVar[str] = "session_join"
    session_id: str | None = None
    invite: str | None = None
    last_seq: int | None = None
    rid: str | None = None


@dataclass(slots=True, kw_only=True)
class SessionLeave(Message):
    TYPE: ClassVar[str] = "session_leave"
    session_id: str
    rid: str | None = None


@dataclass(slots=True, kw_only=True)
class SessionEnd(Message):
    TYPE: ClassVar[str] = "session_end"
    session_id: str
    rid: str | None = None


@dataclass(slots=True, kw_only=True)
class InviteCreate(Message):
    TYPE: ClassVar[str] = "invite_create"
    session_id: str
    role: InviteRole = "editor"
    expires_in: float = 7 * 24 * 3600.0
    max_uses: int | None = None
    rid: str | None = None


@dataclass(slots=True, kw_only=True)
class InviteRevoke(Message):
    TYPE: ClassVar[str] = "invite_revoke"
    session_id: str
    invite_id: str
    rid: str | None = None


@dataclass(slots=True, kw_only=True)
class InviteList(Message):
    TYPE: ClassVar[str] = "invite_list"
    session_id: str
    rid: str | None = None


@dataclass(slots=True, kw_only=True)
class RoleSet(Message):
    TYPE: ClassVar[str] = "role_set"
    session_id: str
    user_id: str
    role: InviteRole
    rid: str | None = None


@dataclass(slots=True, kw_only=True)
class ParticipantRemove(Message):
    TYPE: ClassVar[str] = "participant_remove"
    session_id: str
    user_id: str
    rid: str | None = None


@dataclass(slots=True, kw_only=True)
class StatusSet(Message):
    TYPE: ClassVar[str] = "status"
    session_id: str
    status: Status
    rid: str | None = None


@dataclass(slots=True, kw_only=True)
class CursorUpdate(Message):
    """Ephemeral: latest value wins."""

    TYPE: ClassVar[str] = "cursor"
    session_id: str
    path: str = field(metadata=_PATH)
    selections: list[Selection]
    sent_at: float | None = None
    content_hash: str | None = None  # sha1 of the file text, see daemon.documents.content_hash
    rid: str | None = None


@dataclass(slots=True, kw_only=True)
class ViewportUpdate(Message):
    TYPE: ClassVar[str] = "viewport"
    session_id: str
    path: str = field(metadata=_PATH)
    ranges: list[Range]
    rid: str | None = None


@dataclass(slots=True, kw_only=True)
class FocusUpdate(Message):
    """The file in the focused editor, or null when none of ours is focused."""

    TYPE: ClassVar[str] = "focus"
    session_id: str
    path: str | None = field(default=None, metadata=_PATH)
    rid: str | None = None


@dataclass(slots=True, kw_only=True)
class Heartbeat(Message):
    """Keeps the sender's presence alive in every session it is in."""

    TYPE: ClassVar[str] = "heartbeat"
    rid: str | None = None


@dataclass(slots=True, kw_only=True)
class ViewersQuery(Message):
    TYPE: ClassVar[str] = "viewers"
    session_id: str
    path: str = field(metadata=_PATH)
    rid: str | None = None


@dataclass(slots=True, kw_only=True)
class ChatSend(Message):
    TYPE: ClassVar[str] = "chat_send"
    id: str
    session_id: str
    text: str = field(metadata=_TEXT)
    parent_id: str | None = None
    to: str | None = None
    rid: str | None = None


@dataclass(slots=True, kw_only=True)
class ChatEdit(Message):
    TYPE: ClassVar[str] = "chat_edit"
    id: str
    session_id: str
    message_id: str
    text: str = field(metadata=_TEXT)
    rid: str | None = None


@dataclass(slots=True, kw_only=True)
class ChatDelete(Message):
    TYPE: ClassVar[str] = "chat_delete"
    id: str
    session_id: str
    message_id: str
    rid: str | None = None


@dataclass(slots=True, kw_only=True)
class ReactionToggle(Message):
    """Toggle the sender's ``emoji`` on a chat message or a comment."""

    TYPE: ClassVar[str] = "reaction_toggle"
    id: str
    session_id: str
    target_id: str
    emoji: str
    rid: str | None = None


@dataclass(slots=True, kw_only=True)
class ThreadCreate(Message):
    """A new thread; ``id`` is the thread's id and its first comment's id."""

    TYPE: ClassVar[str] = "thread_create"
    id: str
    session_id: str
    anchor: Anchor
    text: str = field(metadata=_TEXT)
    rid: str | None = None


@dataclass(slots=True, kw_only=True)
class CommentReply(Message):
    TYPE: ClassVar[str] = "comment_reply"
    id: str
    session_id: str
    thread_id: str
    text: str = field(metadata=_TEXT)
    rid: str | None = None


@dataclass(slots=True, kw_only=True)
class CommentEdit(Message):
    TYPE: ClassVar[str] = "comment_edit"
    id: str
    session_id: str
    comment_id: str
    text: str = field(metadata=_TEXT)
    rid: str | None = None


@dataclass(slots=True, kw_only=True)
class CommentDelete(Message):
    TYPE: ClassVar[str] = "comment_delete"
    id: str
    session_id: str
    comment_id: str
    rid: str | None = None


@dataclass(slots=True, kw_only=True)
class ThreadResolve(Message):
    TYPE: ClassVar[str] = "thread_resolve"
    id: str
    session_id: str
    thread_id: str
    resolved: bool
    rid: str | None = None


@dataclass(slots=True, kw_only=True)
class ThreadDelete(Message):
    """The host deletes a whole thread with its comments."""

    TYPE: ClassVar[str] = "thread_delete"
    id: str
    session_id: str
    thread_id: str
    rid: str | None = None


@dataclass(slots=True, kw_only=True)
class HistoryFetch(Message):
    """A page of chat history before ``before_seq`` (newest page when null)."""

    TYPE: ClassVar[str] = "history"
    session_id: str
    before_seq: int | None = None
    limit: int | None = None
    rid: str | None = None


@dataclass(slots=True, kw_only=True)
class SyncRequest(Message):
    """Every durable event after ``after_seq`` (catch-up after reconnect)."""

    TYPE: ClassVar[str] = "sync"
    session_id: str
    after_seq: int
    rid: str | None = None


@dataclass(slots=True, kw_only=True)
class EventLogQuery(Message):
    """Host only: the session's event log (joins, roles, removals, ...)."""

    TYPE: ClassVar[str] = "event_log"
    session_id: str
    limit: int | None = None
    rid: str | None = None


@dataclass(slots=True, kw_only=True)
class ExportRequest(Message):
    TYPE: ClassVar[str] = "export"
    session_id: str
    format: ExportFormat = "json"
    rid: str | None = None


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
