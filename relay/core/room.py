"""A live session as this process sees it: record, members, local clients."""

from __future__ import annotations

import json
from collections.abc import Mapping

from relay.core.client import Client
from relay.core.records import MemberRecord, SessionRecord
from wire import Event, Participant, RepoIdentity, Role, SessionInfo, Status, UserRef


def repo_key(repo: RepoIdentity, session_id: str) -> str:
    """The repository a session claims: root commit, else remote.

    Only a hint: a host's new session continues the host's OWN latest project with the
    same key. Access to persisted threads follows project membership (relay.core.projects).
    """
    if repo.root_commit:
        return "commit:" + repo.root_commit.strip().lower()
    if repo.remote:
        return "remote:" + normalize_remote(repo.remote)
    return "session:" + session_id


def normalize_remote(url: str) -> str:
    """git@github.com:acme/app.git, https://github.com/acme/app -> github.com/acme/app."""
    u = url.strip().lower()
    for prefix in ("https://", "http://", "ssh://", "git://", "git+ssh://"):
        if u.startswith(prefix):
            u = u[len(prefix):]
            break
    if "@" in u.split("/", 1)[0]:
        u = u.split("@", 1)[1]
    if ":" in u.split("/", 1)[0]:
        host, _, rest = u.partition(":")
        u = host + "/" + rest if not rest.isdigit() else host
    u = u.rstrip("/")
    if u.endswith(".git"):
        u = u[:-4]
    return u


class Room:
    """This process's view of a live session: its record and members, a cache refreshed
    by every committed event (``apply``), and the local clients joined to it.

    Who is online and their presence live in the bus (relay.core.ports.SessionBus),
    shared by every relay process.
    """

    def __init__(self, record: SessionRecord, members: list[MemberRecord]) -> None:
        self.record = record
        self.members: dict[str, MemberRecord] = {m.user_id: m for m in members}
        # The members as loaded reflect every event up to loaded_seq; member_seq holds
        # the seq of the last event applied to a member since, so that events arriving
        # out of order (from other processes) never undo a later change.
        self.loaded_seq = record.last_seq
        self.member_seq: dict[str, int] = {}
        self.clients: dict[str, set[Client]] = {}  # joined on this process's connections

    @property
    def id(self) -> str:
        return self.record.id

    @property
    def ended(self) -> bool:
        return self.record.ended_at is not None

    def info(self, role: Role | None = None) -> SessionInfo:
        r = self.record
        return SessionInfo(
            session_id=r.id, name=r.name, repo=r.repo,
            host=UserRef(id=r.host, name=r.host_name or r.host), created_at=r.created_at,
            ended_at=r.ended_at, role=role, project_id=r.project_id or None,
        )

    def member_ref(self, user_id: str) -> UserRef:
        m = self.members.get(user_id)
        return UserRef(id=user_id, name=m.name if m else user_id)

    def participant(self, m: MemberRecord, presence: Mapping[str, str] | None) -> Participant:
        """``m`` as a participant; ``presence``: the user's latest presence fields while
        online (relay.core.ports.SessionBus.presence), None while offline."""
        return Participant(
            user=UserRef(id=m.user_id, name=m.name), role=m.role, online=presence is not None,
            status=status(presence), joined_at=m.joined_at,
        )

    def participants(self, presence: Mapping[str, Mapping[str, str]]) -> list[Participant]:
        return [self.participant(m, presence.get(m.user_id)) for m in self.members.values()
                if m.removed_at is None]

    def role_of(self, user_id: str) -> str | None:
        m = self.members.get(user_id)
        return m.role if m and m.removed_at is None else None

    def apply(self, event: Event) -> None:
        """Refresh the cache from a committed event of this session (idempotent)."""
        r = self.record
        if event.seq > r.last_seq:
            r.last_seq = event.seq
        if event.kind == "session_ended" and r.ended_at is None:
            r.ended_at = event.at
        p = event.participant
        if p is None or event.kind not in _MEMBER_EVENTS:
            return
        uid = p.user.id
        if self.member_seq.get(uid, self.loaded_seq) >= event.seq:
            return
        self.member_seq[uid] = event.seq
        self.members[uid] = MemberRecord(
            session_id=r.id, user_id=uid, name=p.user.name, role=p.role, joined_at=p.joined_at,
            removed_at=event.at if event.kind == "participant_removed" else None)

    def confirm(self, member: MemberRecord, upto: int) -> None:
        """Take a current member's record read from the store when the cache proved stale
        (a role granted through another process, its event late on the bus). ``upto``: the
        room's ``last_seq`` when the read began; the read reflects every event up to it, so
        none of those may undo it when it arrives late. An event of the member applied
        since (past ``upto``) may be newer than the read: then the read is dropped."""
        uid = member.user_id
        if self.member_seq.get(uid, self.loaded_seq) > upto:
            return
        self.member_seq[uid] = upto
        self.members[uid] = member


_MEMBER_EVENTS = frozenset({"participant_joined", "role_changed", "participant_removed"})


def status(presence: Mapping[str, str] | None) -> Status:
    """The status in a user's presence fields ("active" when there is none)."""
    text = presence.get("status") if presence is not None else None
    if text is None:
        return "active"
    s = json.loads(text)
    return s if s in ("active", "idle", "away") else "active"
