"""What the core stores and reads back through the Store port (relay.core.ports).

A durable change is one ``Write``: plain data that a store commits in ONE transaction
(entities, event, mentions, log lines and the client id used for de-duplication), after
checking, inside that transaction, what the write says must still hold (``guard``,
``bases``). The store allocates the session's next seq and stamps it on the write
(``Write.stamp``); nothing of the core runs inside the transaction.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import TypeVar

from wire import (
    ChatMessage,
    Comment,
    Event,
    Invite,
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


@dataclass(frozen=True, slots=True)
class Guard:
    """What must still hold when a write commits, checked inside its transaction.

    ``user_id`` must be a current (not removed) member of the session with one of
    ``roles`` (None: no membership check); with ``open``, the session must not have
    ended. A store that finds otherwise raises GuardFailed with what it found.
    """

    user_id: str | None
    roles: frozenset[Role] = frozenset()
    open: bool = True


Entity = ChatMessage | Comment | Thread
E = TypeVar("E", ChatMessage, Comment, Thread)


def snapshot(entity: E) -> E:
    """A copy of an entity as read, for ``Write.bases`` (a thread without its comments,
    as stores keep a thread's own row)."""
    if isinstance(entity, Thread):
        return Thread(id=entity.id, session_id=entity.session_id, anchor=entity.anchor,
                      author=entity.author, created_at=entity.created_at, comments=[],
                      resolved=entity.resolved, resolved_by=entity.resolved_by)
    return copy.deepcopy(entity)


@dataclass(slots=True)
class Write:
    """One durable change of a session, committed atomically with its event.

    ``event`` has seq 0 until the store stamps the seq it allocates (``stamp``), as
    has a chat message the write creates. A server-made event (joins, role changes,
    removals, the end) gets its id from ``id_prefix`` and the seq: "role" -> "role-7".
    """

    session_id: str
    event: Event
    id_prefix: str | None = None
    client_id: str | None = None  # de-duplication key (durable client actions)
    user_id: str = ""
    fingerprint: str = ""
    guard: Guard | None = None
    # Stored entities this write was computed from, as read (``snapshot``): the store
    # raises WriteConflict when one of them changed or is gone since.
    bases: list[Entity] = field(default_factory=list)
    audience: frozenset[str] | None = None  # None: everyone in the session
    chats: list[ChatMessage] = field(default_factory=list)  # a new message has seq 0
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
    _created: list[ChatMessage] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        self._created = [m for m in self.chats if m.seq == 0]

    def stamp(self, seq: int) -> Event:
        """Give the event, the chat messages it creates and its mentions the seq the
        store allocated; return the event to store. Stores call it inside the commit's
        transaction (again on a retried transaction: it only depends on ``seq``)."""
        event = self.event
        event.seq = seq
        if self.id_prefix is not None:
            event.id = f"{self.id_prefix}-{seq}"
        for msg in self._created:
            msg.seq = seq
        for _, mention in self.mentions:
            mention.seq = seq
        return event
