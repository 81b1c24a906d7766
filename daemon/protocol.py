"""The editor protocol: custom LSP methods between the extension and the daemon.

Every method lives under ``ensemble/``. Requests go from the editor to the
daemon and get a result; notifications flow both ways. This module is the
single source: ``python -m daemon.gen_ts`` writes the TypeScript declarations
into ``vscode-extension/src/protocol.generated.ts`` and a test fails when the
two drift.

Documents are named by their URI here (the editor's view); the daemon turns
them into workspace-relative paths for the relay. Positions are LSP positions
in the encoding negotiated at initialize.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from wire import (
    ChatMessage,
    InviteRole,
    Mention,
    Participant,
    Range,
    Role,
    Selection,
    SessionInfo,
    Status,
    Thread,
    UserRef,
)

ConnectionState = Literal["signed_out", "connecting", "online", "offline"]


class Method:
    """Names of every ``ensemble/`` method."""

    # editor -> daemon requests
    SIGN_UP = "ensemble/signUp"
    SIGN_IN = "ensemble/signIn"
    SIGN_OUT = "ensemble/signOut"
    STATE = "ensemble/state"
    CREATE_SESSION = "ensemble/createSession"
    LIST_SESSIONS = "ensemble/listSessions"
    JOIN_SESSION = "ensemble/joinSession"
    LEAVE_SESSION = "ensemble/leaveSession"
    END_SESSION = "ensemble/endSession"
    CREATE_INVITE = "ensemble/createInvite"
    REVOKE_INVITE = "ensemble/revokeInvite"
    SET_ROLE = "ensemble/setRole"
    REMOVE_PARTICIPANT = "ensemble/removeParticipant"
    SET_STATUS = "ensemble/setStatus"
    WHO_IS_VIEWING = "ensemble/whoIsViewing"
    FOLLOW = "ensemble/follow"
    SEND_CHAT = "ensemble/sendChat"
    EDIT_CHAT = "ensemble/editChat"
    DELETE_CHAT = "ensemble/deleteChat"
    REACT = "ensemble/react"
    CHAT_HISTORY = "ensemble/chatHistory"
    CREATE_THREAD = "ensemble/createThread"
    REPLY = "ensemble/reply"
    EDIT_COMMENT = "ensemble/editComment"
    DELETE_COMMENT = "ensemble/deleteComment"
    RESOLVE_THREAD = "ensemble/resolveThread"
    DELETE_THREAD = "ensemble/deleteThread"
    THREADS = "ensemble/threads"
    EXPORT = "ensemble/export"

    # editor -> daemon notifications (ephemeral)
    CURSOR = "ensemble/cursor"
    VIEWPORT = "ensemble/viewport"
    FOCUS = "ensemble/focus"
    ACTIVITY = "ensemble/activity"
    RECONNECT = "ensemble/reconnect"

    # daemon -> editor notifications
    DID_CHANGE_CONNECTION = "ensemble/didChangeConnection"
    DID_CHANGE_SESSION = "ensemble/didChangeSession"
    DID_CHANGE_PEERS = "ensemble/didChangePeers"
    DID_CHANGE_FOLLOW = "ensemble/didChangeFollow"
    DID_RECEIVE_CHAT = "ensemble/didReceiveChat"
    DID_CHANGE_THREADS = "ensemble/didChangeThreads"
    DID_RECEIVE_MENTION = "ensemble/didReceiveMention"
    DID_CHANGE_OUTBOX = "ensemble/didChangeOutbox"
    DID_ERROR = "ensemble/didError"


# ----- initialization ---------------------------------------------------------


@dataclass(slots=True, kw_only=True)
class InitializationOptions:
    relay_url: str = "ws://127.0.0.1:8765"
    # several relays of one cluster (ws:// or wss://); when not empty, used instead of
    # relay_url: the session's relay first (rendezvous hashing), the others on failover
    relay_urls: list[str] = field(default_factory=list)
    token: str | None = None
    display_name: str | None = None
    data_dir: str | None = None  # outbox and state; default a per-user folder
    workspace_roots: list[str] = field(default_factory=list)  # file URIs; default workspaceFolders
    native_ui: bool = False  # true: the extension renders natively, skip plain-LSP renderings
    idle_after: float = 300.0  # seconds without activity before "idle"
    away_after: float = 900.0  # seconds without activity before "away"
    cursor_rate: float = 20.0  # max cursor/viewport updates per second
    log_level: str = "info"
    # globs of files never shared (on top of .gitignore and the built-in secret list)
    ignore: list[str] = field(default_factory=list)
    # peers' carets as Hint diagnostics ("alice is here") for editors that cannot draw
    # inlay hints; default: on for plain clients, off when native_ui is true
    peer_diagnostics: bool | None = None


# ----- requests ------------------------------------------------------------------


@dataclass(slots=True, kw_only=True)
class SignUpParams:
    username: str
    password: str
    display_name: str | None = None
    relay_url: str | None = None


@dataclass(slots=True, kw_only=True)
class SignInParams:
    username: str
    password: str
    relay_url: str | None = None


@dataclass(slots=True, kw_only=True)
class SignInResult:
    token: str
    user: UserRef
    expires_at: float


@dataclass(slots=True, kw_only=True)
class Empty:
    pass


@dataclass(slots=True, kw_only=True)
class CreateSessionParams:
    name: str


@dataclass(slots=True, kw_only=True)
class JoinSessionParams:
    """Join by invite link, bare invite token or session id."""

    link: str | None = None
    invite: str | None = None
    session_id: str | None = None


@dataclass(slots=True, kw_only=True)
class SessionIdParams:
    session_id: str | None = None  # default: the current session


@dataclass(slots=True, kw_only=True)
class CreateInviteParams:
    role: InviteRole = "editor"
    expires_in: float = 7 * 24 * 3600.0


@dataclass(slots=True, kw_only=True)
class InviteLink:
    invite_id: str
    role: InviteRole
    link: str  # vscode://ensemble.ensemble/join?relay=...&invite=...
    token: str
    expires_at: float


@dataclass(slots=True, kw_only=True)
class RevokeInviteParams:
    invite_id: str


@dataclass(slots=True, kw_only=True)
class SetRoleParams:
    user_id: str
    role: InviteRole


@dataclass(slots=True, kw_only=True)
class UserIdParams:
    user_id: str


@dataclass(slots=True, kw_only=True)
class FollowParams:
    user_id: str | None = None  # null stops following


@dataclass(slots=True, kw_only=True)
class SetStatusParams:
    status: Status


@dataclass(slots=True, kw_only=True)
class UriParams:
    uri: str


@dataclass(slots=True, kw_only=True)
class ViewersResult:
    uri: str
    users: list[UserRef]


@dataclass(slots=True, kw_only=True)
class SendChatParams:
    text: str
    parent_id: str | None = None
    to: str | None = None


@dataclass(slots=True, kw_only=True)
class EditParams:
    target_id: str
    text: str


@dataclass(slots=True, kw_only=True)
class TargetParams:
    target_id: str


@dataclass(slots=True, kw_only=True)
class ReactParams:
    target_id: str  # a chat message id or a comment id
    emoji: str


@dataclass(slots=True, kw_only=True)
class Queued:
    """A durable action is in the outbox; it reaches the relay exactly once."""

    id: str


@dataclass(slots=True, kw_only=True)
class ChatHistoryParams:
    before_seq: int | None = None
    limit: int | None = None


@dataclass(slots=True, kw_only=True)
class ChatHistoryResult:
    messages: list[ChatMessage]
    has_more: bool


@dataclass(slots=True, kw_only=True)
class CreateThreadParams:
    uri: str
    range: Range  # lines of the thread; characters are ignored
    text: str


@dataclass(slots=True, kw_only=True)
class ReplyParams:
    thread_id: str
    text: str


@dataclass(slots=True, kw_only=True)
class ResolveThreadParams:
    thread_id: str
    resolved: bool


@dataclass(slots=True, kw_only=True)
class ThreadIdParams:
    thread_id: str


@dataclass(slots=True, kw_only=True)
class ThreadsParams:
    uri: str | None = None  # null: every thread of the session


@dataclass(slots=True, kw_only=True)
class LocalThread:
    """A thread placed in the local copy of its file."""

    thread: Thread
    uri: str
    range: Range | None  # null when the anchored code is gone
    outdated: bool  # the anchored text is no longer in the file
    moved: bool  # found at another line than recorded


@dataclass(slots=True, kw_only=True)
class ThreadsResult:
    threads: list[LocalThread]


@dataclass(slots=True, kw_only=True)
class ExportParams:
    format: Literal["json", "markdown"] = "markdown"


@dataclass(slots=True, kw_only=True)
class ExportResult:
    format: Literal["json", "markdown"]
    content: str


# ----- editor -> daemon notifications ---------------------------------------------


@dataclass(slots=True, kw_only=True)
class CursorParams:
    uri: str
    selections: list[Selection]


@dataclass(slots=True, kw_only=True)
class ViewportParams:
    uri: str
    ranges: list[Range]


@dataclass(slots=True, kw_only=True)
class FocusParams:
    uri: str | None = None


# ----- daemon -> editor notifications -----------------------------------------------


@dataclass(slots=True, kw_only=True)
class ConnectionParams:
    state: ConnectionState
    relay_url: str
    user: UserRef | None = None
    next_retry_at: float | None = None  # UNIX seconds, when offline
    detail: str | None = None


@dataclass(slots=True, kw_only=True)
class SessionView:
    session: SessionInfo
    you: Participant
    participants: list[Participant]
    invite_base: str  # relay URL to put in invite links
    repo_mismatch: bool  # the session's repository differs from the local one


@dataclass(slots=True, kw_only=True)
class SessionParams:
    """The current session, or null after leaving / when it ended."""

    session: SessionView | None = None
    reason: str | None = None


@dataclass(slots=True, kw_only=True)
class PeerView:
    """What the editor draws for one peer."""

    user: UserRef
    role: Role
    online: bool
    status: Status
    color: int  # stable palette index for this user
    uri: str | None = None  # file of the cursor, when inside our workspace
    path: str | None = None  # workspace-relative path of the cursor's file
    selections: list[Selection] = field(default_factory=list)
    visible: list[Range] = field(default_factory=list)
    focus_uri: str | None = None
    approximate: bool = False  # the peer's file differs from ours


@dataclass(slots=True, kw_only=True)
class PeersParams:
    peers: list[PeerView]


@dataclass(slots=True, kw_only=True)
class FollowStateParams:
    user_id: str | None = None


@dataclass(slots=True, kw_only=True)
class ChatParams:
    messages: list[ChatMessage]  # upserts, in seq order


@dataclass(slots=True, kw_only=True)
class ThreadsChangedParams:
    threads: list[LocalThread]  # upserts
    removed: list[str] = field(default_factory=list)


@dataclass(slots=True, kw_only=True)
class MentionParams:
    mention: Mention
    uri: str | None = None


@dataclass(slots=True, kw_only=True)
class OutboxParams:
    pending: int  # durable actions not yet acked by the relay


@dataclass(slots=True, kw_only=True)
class ErrorParams:
    code: str
    message: str
    method: str | None = None
    id: str | None = None  # the refused durable action (its Queued id): roll it back


@dataclass(slots=True, kw_only=True)
class StateResult:
    connection: ConnectionParams
    session: SessionView | None
    peers: list[PeerView]
    outbox: int
    following: str | None = None


# Request method -> (params type, result type); the generator and the server use it.
REQUESTS: dict[str, tuple[type, type | None]] = {
    Method.SIGN_UP: (SignUpParams, SignInResult),
    Method.SIGN_IN: (SignInParams, SignInResult),
    Method.SIGN_OUT: (Empty, None),
    Method.STATE: (Empty, StateResult),
    Method.CREATE_SESSION: (CreateSessionParams, SessionView),
    Method.LIST_SESSIONS: (Empty, list[SessionInfo]),
    Method.JOIN_SESSION: (JoinSessionParams, SessionView),
    Method.LEAVE_SESSION: (SessionIdParams, None),
    Method.END_SESSION: (SessionIdParams, None),
    Method.CREATE_INVITE: (CreateInviteParams, InviteLink),
    Method.REVOKE_INVITE: (RevokeInviteParams, None),
    Method.SET_ROLE: (SetRoleParams, None),
    Method.REMOVE_PARTICIPANT: (UserIdParams, None),
    Method.SET_STATUS: (SetStatusParams, None),
    Method.WHO_IS_VIEWING: (UriParams, ViewersResult),
    Method.FOLLOW: (FollowParams, None),
    Method.SEND_CHAT: (SendChatParams, Queued),
    Method.EDIT_CHAT: (EditParams, Queued),
    Method.DELETE_CHAT: (TargetParams, Queued),
    Method.REACT: (ReactParams, Queued),
    Method.CHAT_HISTORY: (ChatHistoryParams, ChatHistoryResult),
    Method.CREATE_THREAD: (CreateThreadParams, Queued),
    Method.REPLY: (ReplyParams, Queued),
    Method.EDIT_COMMENT: (EditParams, Queued),
    Method.DELETE_COMMENT: (TargetParams, Queued),
    Method.RESOLVE_THREAD: (ResolveThreadParams, Queued),
    Method.DELETE_THREAD: (ThreadIdParams, Queued),
    Method.THREADS: (ThreadsParams, ThreadsResult),
    Method.EXPORT: (ExportParams, ExportResult),
}

# Notification method -> params type, each direction.
CLIENT_NOTIFICATIONS: dict[str, type] = {
    Method.CURSOR: CursorParams,
    Method.VIEWPORT: ViewportParams,
    Method.FOCUS: FocusParams,
    Method.ACTIVITY: Empty,
    Method.RECONNECT: Empty,
}

SERVER_NOTIFICATIONS: dict[str, type] = {
    Method.DID_CHANGE_CONNECTION: ConnectionParams,
    Method.DID_CHANGE_SESSION: SessionParams,
    Method.DID_CHANGE_PEERS: PeersParams,
    Method.DID_CHANGE_FOLLOW: FollowStateParams,
    Method.DID_RECEIVE_CHAT: ChatParams,
    Method.DID_CHANGE_THREADS: ThreadsChangedParams,
    Method.DID_RECEIVE_MENTION: MentionParams,
    Method.DID_CHANGE_OUTBOX: OutboxParams,
    Method.DID_ERROR: ErrorParams,
}


class DaemonErrorCode:
    """LSP error codes the daemon answers with (data carries the Ensemble code)."""

    REQUEST_FAILED = -32803  # LSP RequestFailed; ``data.code`` holds the relay/daemon code
    INVALID_PARAMS = -32602
