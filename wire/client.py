"""Messages a client (the daemon) sends to the relay."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

from wire.bounds import _LABEL, _NAME, _PATH, _TEXT
from wire.types import (
    Anchor,
    ExportFormat,
    InviteRole,
    Message,
    Range,
    RepoIdentity,
    Selection,
    Status,
)

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
    content_hash: str | None = None  # sha1 of the file text, see daemon.text.documents.content_hash
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
