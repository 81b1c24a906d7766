"""A live session: members, connected clients, presence."""

from __future__ import annotations

import asyncio
from typing import Any

from relay.core.client import Client
from relay.store.base import MemberRecord, SessionRecord
from wire import Participant, RepoIdentity, Role, SessionInfo, Status, UserRef


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
    def __init__(self, record: SessionRecord, members: list[MemberRecord]) -> None:
        self.record = record
        self.members: dict[str, MemberRecord] = {m.user_id: m for m in members}
        self.clients: dict[str, set[Client]] = {}  # joined on a connection
        self.live: dict[str, set[Client]] = {}  # joined and not timed out
        self.presence: dict[str, dict[str, Any]] = {}  # latest wire PeerPresence per online user
        self.lock = asyncio.Lock()  # orders durable writes of this session

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

    def status(self, user_id: str) -> Status:
        s = self.presence.get(user_id, {}).get("status", "active")
        return s if s in ("active", "idle", "away") else "active"

    def participant(self, m: MemberRecord) -> Participant:
        return Participant(
            user=UserRef(id=m.user_id, name=m.name), role=m.role,
            online=bool(self.live.get(m.user_id)), status=self.status(m.user_id),
            joined_at=m.joined_at,
        )

    def participants(self) -> list[Participant]:
        return [self.participant(m) for m in self.members.values() if m.removed_at is None]

    def role_of(self, user_id: str) -> str | None:
        m = self.members.get(user_id)
        return m.role if m and m.removed_at is None else None
