"""The storage interface the relay core uses.

Every method is async so a networked database can sit behind it. A durable
change is one ``Write``: the store allocates the session's next seq, lets the
write build its event with it, and commits everything (entities, event,
mentions, log lines and the client id used for de-duplication) in ONE
transaction before returning. The relay acks only after that.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field

from wire import (
    ChatMessage,
    Comment,
    Event,
    Invite,
    LogEntry,
    Mention,
    RepoIdentity,
    Role,
    Thread,
)


@dataclass(slots=True)
class UserRecord:
    id: str
    name: str
    pw_hash: str
    created_at: float


@dataclass(slots=True)
class SessionRecord:
    id: str
    name: str
    repo: RepoIdentity
    repo_key: str
    host: str
    created_at: float
    ended_at: float | None = None
    last_seq: int = 0
    host_name: str = ""
    project_id: str = ""


@dataclass(slots=True)
class ProjectRecord:
    """A team space: sessions belong to it, its threads outlive them.

    ``repo_key`` is only a hint (how the owner's later sessions on the same repository
    find it again); access follows ``project_members``, granted by invites.
    """

    id: str
    owner: str
    repo_key: str
    created_at: float


@dataclass(slots=True)
class ProjectMemberRecord:
    """Access to a project's persisted data; ``removed_at`` set once a host revoked it."""

    project_id: str
    user_id: str
    granted_at: float
    removed_at: float | None = None


@dataclass(slots=True)
class MemberRecord:
    session_id: str
    user_id: str
    name: str
    role: Role
    joined_at: float
    removed_at: float | None = None


@dataclass(slots=True)
class InviteRecord:
    invite: Invite
    created_by: str
    created_at: float


@dataclass(slots=True)
class ActionRecord:
    client_id: str
    user_id: str
    session_id: str
    fingerprint: str
    seq: int


@dataclass(slots=True)
class LogLine:
    kind: str
    actor: str
    at: float
    subject: str | None = None
    detail: str | None = None


@dataclass(slots=True)
class Write:
    """One durable change of a session, committed atomically with its event."""

    session_id: str
    build: Callable[[int], Event]  # gets the allocated seq; fills seq into new entities
    client_id: str | None = None  # de-duplication key (durable client actions)
    user_id: str = ""
    fingerprint: str = ""
    audience: frozenset[str] | None = None  # None: everyone in the session
    chats: list[ChatMessage] = field(default_factory=list)
    threads: list[Thread] = field(default_factory=list)  # stored without their comments
    thread_project_id: str = ""
    thread_repo_key: str = ""
    deleted_threads: list[str] = field(default_factory=list)  # removed with their comments
    comments: list[Comment] = field(default_factory=list)
    mentions: list[tuple[str, Mention]] = field(default_factory=list)  # (user id, mention)
    members: list[MemberRecord] = field(default_factory=list)
    # Grants and revocations; a revocation also removes the user from every session of
    # the project, in the same transaction.
    project_members: list[ProjectMemberRecord] = field(default_factory=list)
    log: list[LogLine] = field(default_factory=list)
    ended_at: float | None = None


class Store(ABC):
    """Persistent state of the relay."""

    @abstractmethod
    async def open(self) -> None: ...

    @abstractmethod
    async def close(self) -> None: ...

    # users
    @abstractmethod
    async def create_user(self, user: UserRecord) -> None:
        """Raise DuplicateError when the id is taken."""

    @abstractmethod
    async def get_user(self, user_id: str) -> UserRecord | None: ...

    # sessions and members
    @abstractmethod
    async def create_session(self, session: SessionRecord, host: MemberRecord,
                             project: ProjectRecord | None = None) -> None:
        """Store a session and its host; with ``project``, create that project first
        (its owner becomes its first member), all in one transaction."""

    # projects
    @abstractmethod
    async def get_project(self, project_id: str) -> ProjectRecord | None: ...

    @abstractmethod
    async def latest_project(self, owner: str, repo_key: str) -> ProjectRecord | None:
        """The owner's most recent project with this repository key."""

    @abstractmethod
    async def project_member(self, project_id: str, user_id: str) -> ProjectMemberRecord | None:
        ...

    @abstractmethod
    async def get_session(self, session_id: str) -> SessionRecord | None: ...

    @abstractmethod
    async def sessions_of(self, user_id: str) -> list[tuple[SessionRecord, Role]]: ...

    @abstractmethod
    async def members(self, session_id: str) -> list[MemberRecord]: ...

    @abstractmethod
    async def session_count(self) -> int: ...

    # invites
    @abstractmethod
    async def create_invite(self, record: InviteRecord) -> None: ...

    @abstractmethod
    async def invite_by_token(self, token: str) -> InviteRecord | None: ...

    @abstractmethod
    async def invites(self, session_id: str) -> list[InviteRecord]: ...

    @abstractmethod
    async def revoke_invite(self, session_id: str, invite_id: str) -> bool: ...

    @abstractmethod
    async def use_invite(self, invite_id: str) -> None: ...

    # durable changes
    @abstractmethod
    async def action(self, client_id: str) -> ActionRecord | None:
        """The stored action with this client id, if any (de-duplication)."""

    @abstractmethod
    async def commit(self, write: Write) -> int:
        """Store a change and its event in one transaction; return its seq."""

    @abstractmethod
    async def events_after(
        self, session_id: str, after_seq: int, user_id: str, limit: int
    ) -> list[Event]: ...

    # entities
    @abstractmethod
    async def chat(self, message_id: str) -> ChatMessage | None: ...

    @abstractmethod
    async def chat_page(
        self, session_id: str, user_id: str, before_seq: int | None, limit: int
    ) -> tuple[list[ChatMessage], bool]:
        """Oldest-first page of messages the user may see, and whether older ones exist."""

    @abstractmethod
    async def thread(self, thread_id: str) -> tuple[Thread, str] | None:
        """A thread with its comments, and the id of its project."""

    @abstractmethod
    async def comment(self, comment_id: str) -> Comment | None: ...

    @abstractmethod
    async def project_threads(self, project_id: str) -> list[Thread]: ...

    # mentions and log
    @abstractmethod
    async def pending_mentions(self, session_id: str, user_id: str) -> list[Mention]: ...

    @abstractmethod
    async def mark_mentions_delivered(self, session_id: str, user_id: str, upto_seq: int) -> None:
        ...

    @abstractmethod
    async def append_log(self, session_id: str, line: LogLine) -> None: ...

    @abstractmethod
    async def log(self, session_id: str, limit: int) -> list[LogEntry]: ...
