"""The ports the core owns: Store (durable state), SessionBus (what relay processes
share that is not durable) and Transport (one client's socket).

Adapters (relay/adapters/) implement them; the core is built with one of each and holds
no state that two relay processes must agree on outside them. What a process keeps in
memory is a cache (a session's record and members, refreshed by the events on the bus)
or its own (which of its clients are attached to which session).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Protocol

from relay.core.records import (
    ActionRecord,
    InviteRecord,
    LogLine,
    MemberRecord,
    ProjectMemberRecord,
    ProjectRecord,
    SessionRecord,
    UserRecord,
    Write,
)
from wire import ChatMessage, Comment, Event, LogEntry, Mention, Role, Thread


class Transport(Protocol):
    """What the core needs from a connection."""

    def write(self, data: bytes) -> None:
        """Queue a whole text frame (UTF-8 JSON) for sending, without blocking."""

    def write_now(self, data: bytes) -> bool:
        """Write a whole text frame if nothing is waiting in the write buffer and the
        connection is open; False (nothing written) otherwise. The fan-out's fast path."""

    def busy(self) -> bool:
        """True while the socket's write buffer is above its high-water mark."""

    def buffered(self) -> int:
        """Bytes waiting in the write buffer."""

    def close(self, code: int, reason: str) -> None:
        """Start closing the connection with a close code."""


class Store(ABC):
    """Persistent state of the relay: the one durable log.

    Every method is async so a networked database can sit behind it. Errors are
    relay.errors.StoreError and its subclasses: StoreBusy when the database stays
    locked longer than the store may wait (nothing was stored), StoreUnavailable (a
    StoreBusy) when it cannot be reached or cut the call off; the client sends it again.
    """

    @abstractmethod
    async def open(self) -> None: ...

    @abstractmethod
    async def close(self) -> None: ...

    @abstractmethod
    async def probe(self, timeout: float = 0.2) -> str | None:
        """Why the store cannot be written now, or None. A database merely locked by
        another writer counts as writable (StoreBusy is raised)."""

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

    @abstractmethod
    async def get_session(self, session_id: str) -> SessionRecord | None: ...

    @abstractmethod
    async def sessions_of(self, user_id: str) -> list[tuple[SessionRecord, Role]]:
        """Sessions the user is a current member of, newest first, with the role."""

    @abstractmethod
    async def members(self, session_id: str) -> list[MemberRecord]:
        """Every member of the session, removed ones included, oldest first."""

    @abstractmethod
    async def member(self, session_id: str, user_id: str) -> MemberRecord | None:
        """The user's membership of the session; None when not a current member (never
        one, or removed)."""

    @abstractmethod
    async def session_count(self) -> int:
        """Sessions not ended."""

    # projects
    @abstractmethod
    async def get_project(self, project_id: str) -> ProjectRecord | None: ...

    @abstractmethod
    async def latest_project(self, owner: str, repo_key: str) -> ProjectRecord | None:
        """The owner's most recent project with this repository key."""

    @abstractmethod
    async def project_member(self, project_id: str, user_id: str) -> ProjectMemberRecord | None:
        ...

    # invites
    @abstractmethod
    async def create_invite(self, record: InviteRecord) -> None: ...

    @abstractmethod
    async def invite_by_token(self, token: str) -> InviteRecord | None: ...

    @abstractmethod
    async def invites(self, session_id: str) -> list[InviteRecord]: ...

    @abstractmethod
    async def revoke_invite(self, session_id: str, invite_id: str) -> bool:
        """False when the session has no such invite."""

    @abstractmethod
    async def use_invite(self, invite_id: str) -> bool:
        """Count one use, atomically: False (nothing counted) when the invite is revoked
        or has no use left."""

    # durable changes
    @abstractmethod
    async def action(self, client_id: str) -> ActionRecord | None:
        """The stored action with this client id, if any (de-duplication)."""

    @abstractmethod
    async def commit(self, write: Write) -> Event:
        """Store a change and its event in one transaction; return the event stored.

        Inside that transaction, in this order: a client id stored before raises
        AlreadyStored (same user and fingerprint: carrying the original event) or
        IdConflict; a guard that does not hold raises GuardFailed; a base that changed
        or is gone raises WriteConflict. Then the session's next seq (gapless, one per
        commit, in commit order) is stamped on the write (``write.stamp``) and
        everything is stored. Any error stores nothing.
        """

    @abstractmethod
    async def events_after(
        self, session_id: str, after_seq: int, user_id: str, limit: int
    ) -> list[Event]:
        """Events after ``after_seq`` that the user may see (audience), oldest first."""

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


# Presence travels as "fields": field name -> JSON text, in both presence encodings
# (relay.core.wirejson), so an update is encoded once whatever the number of receivers.
Fields = dict[str, str]


class BusListener(Protocol):
    """What a bus delivers, on every relay process (the core implements it).

    Each call writes its frames to the process's local clients before it awaits
    anything, so frames go out in the order the calls were made.
    """

    async def on_event(self, session_id: str, event: Event,
                       audience: frozenset[str] | None) -> None:
        """A committed durable event: refresh the session's caches (members, roles, the
        end) from it, send it to the local clients of ``audience`` (None: everyone),
        close the sockets of a removed user."""

    def on_frame(self, session_id: str, data: bytes, kind: str,
                 exclude_user: str | None) -> None:
        """An encoded frame for the session's local clients (joins and leaves)."""

    def on_presence(self, session_id: str, user_id: str, fields: Fields) -> None:
        """One peer's ephemeral update. The hot path: synchronous, no copy."""

    async def on_mention(self, session_id: str, user_id: str, mention: Mention) -> None:
        """A mention for a user: sent to (and marked delivered for) the user's local
        clients in the session, if any."""

    async def on_gap(self, session_id: str, after_seq: int) -> int:
        """Events after ``after_seq`` may not have reached this process (a lost message,
        a reconnection to the bus): send them from the store to the local clients, each
        what its user may see, in seq order. Return the session's last seq."""

    async def on_departed(self, session_id: str, user_id: str) -> None:
        """The user's last connection was on a relay process that died: announce the
        departure (once in the cluster: the bus calls this on one process)."""

    async def on_revived(self, session_id: str, user_id: str, fields: Fields) -> None:
        """The user, connected to this process, came online again: this process had been
        taken for dead (stalled past the bus's liveness timeout, the departure announced
        by another) and registered its connections again. Announce the arrival, with
        ``fields`` as presence (once in the cluster: the bus calls this on one process)."""


class SessionBus(ABC):
    """What relay processes share that is not durable: fan-out and who is online.

    Fan-out goes to the listener of every process, this one's included. The registry
    (who is online in a session on which connections, their latest presence) is soft
    state: losing it loses nothing durable. Calls take effect in the order they are
    made. ``publish_presence`` is the hot path: synchronous, no round trip.
    """

    @abstractmethod
    def listen(self, listener: BusListener) -> None:
        """Deliver to ``listener`` from now on (the core calls it once)."""

    @abstractmethod
    async def open(self) -> None:
        """Connect."""

    @abstractmethod
    async def close(self) -> None:
        """Disconnect."""

    @abstractmethod
    async def subscribe(self, session_id: str) -> None:
        """This process has clients in the session from now on: deliver its traffic."""

    @abstractmethod
    def position(self, session_id: str, seq: int) -> None:
        """The session's last seq in the store when this process loaded it (after
        ``subscribe``): events up to it are known, later ones come through the bus. A bus
        that can lose messages uses it to find gaps; the in-process bus cannot."""

    @abstractmethod
    async def unsubscribe(self, session_id: str) -> None:
        """This process has no client in the session any more."""

    # fan-out
    @abstractmethod
    async def publish_event(self, session_id: str, event: Event,
                            audience: frozenset[str] | None) -> None:
        """A committed durable event, to every process (after the commit, with its seq)."""

    @abstractmethod
    async def publish(self, session_id: str, data: bytes, kind: str, *,
                      exclude_user: str | None = None) -> None:
        """An encoded frame for every client of the session (but ``exclude_user``'s)."""

    @abstractmethod
    def publish_presence(self, session_id: str, user_id: str, fields: Fields) -> None:
        """One peer's ephemeral update: merged into the registry's latest presence of a
        user who is online, and delivered to every process. ``fields`` is handed on
        as it is (the receiver may keep and change it)."""

    @abstractmethod
    async def send_mention(self, session_id: str, user_id: str, mention: Mention) -> None:
        """A mention, to the user wherever they are connected."""

    # registry
    @abstractmethod
    async def arrive(self, session_id: str, user_id: str, conn: int, fields: Fields) -> bool:
        """Connection ``conn`` of this process is live in the session. True when it is
        the user's first anywhere: the user came online, with ``fields`` as presence."""

    @abstractmethod
    async def depart(self, session_id: str, user_id: str, conn: int) -> bool:
        """Connection ``conn`` of this process left or timed out. True when it was the
        user's last anywhere: the user went offline and their presence is dropped."""

    @abstractmethod
    async def online(self, session_id: str) -> set[str]:
        """Users online in the session (the participant count of ``session_full``)."""

    @abstractmethod
    async def presence(self, session_id: str) -> dict[str, Fields]:
        """The latest presence of each online user: user id -> fields."""
