"""Protocol version, endpoint paths and the value types that messages carry."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar, Literal

from wire.bounds import _PATH, _POS, _TEXT, _repo_part

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
