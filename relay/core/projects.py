"""Projects: the team spaces that sessions belong to and that own persisted threads.

Who may see and change a thread is decided by project membership that a host granted
(the owner, and everyone who joined one of its sessions through an invite), never by the
repository identity a client claims: that is only a hint for the owner's next session.
A host removing a participant revokes the membership in the whole project.
"""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING

from relay.core.room import Room
from relay.store.base import LogLine, MemberRecord, ProjectMemberRecord, ProjectRecord, Store, Write
from wire import CloseCode, ErrorCode, Event, ProtocolError, SessionCreate

if TYPE_CHECKING:
    from relay.core.client import Client
    from relay.core.service import Core


async def for_new_session(core: Core, client: Client, msg: SessionCreate, key: str,
                          now: float) -> tuple[ProjectRecord, bool]:
    """The project a new session belongs to, and whether it must be created.

    With ``project_id`` the caller must own that project. Without, the caller's own most
    recent project with the same repository key continues, else a new one starts: a
    stranger claiming someone else's repository gets an empty project of their own.
    """
    uid = client.user.id
    if msg.project_id is not None:
        project = await core.store.get_project(msg.project_id)
        if project is None:
            raise ProtocolError(ErrorCode.NOT_FOUND, "no such project", rid=msg.rid)
        if project.owner != uid:
            raise ProtocolError(ErrorCode.FORBIDDEN,
                                "only the project's owner may start a session in it",
                                rid=msg.rid)
        return project, False
    project = await core.store.latest_project(uid, key)
    if project is not None:
        return project, False
    return ProjectRecord(id=uuid.uuid4().hex, owner=uid, repo_key=key, created_at=now), True


async def has_access(store: Store, project_id: str, user_id: str) -> bool:
    """True while the user is a member of the project (its owner always is)."""
    if not project_id:
        return False
    pm = await store.project_member(project_id, user_id)
    return pm is not None and pm.removed_at is None


async def revoked_at(store: Store, project_id: str, user_id: str) -> float | None:
    """When the user's membership in the project was revoked (None: never, or re-granted)."""
    pm = await store.project_member(project_id, user_id) if project_id else None
    return pm.removed_at if pm is not None else None


def grant(room: Room, user_id: str, now: float) -> list[ProjectMemberRecord]:
    """The membership an invite grants (stored with the session membership)."""
    if not room.record.project_id:
        return []
    return [ProjectMemberRecord(project_id=room.record.project_id, user_id=user_id,
                                granted_at=now)]


def revoke(room: Room, user_id: str, now: float) -> list[ProjectMemberRecord]:
    """The revocation stored with a removal: the store also marks the user removed from
    every session of the project in the same transaction."""
    if not room.record.project_id:
        return []
    return [ProjectMemberRecord(project_id=room.record.project_id, user_id=user_id,
                                granted_at=now, removed_at=now)]


async def remove_elsewhere(core: Core, origin: Room, actor: Client, user_id: str,
                           now: float) -> None:
    """After a revocation: remove the user from the project's other live sessions, tell
    their peers, and close the user's sockets there."""
    pid = origin.record.project_id
    if not pid:
        return
    for room in [r for r in core.rooms.values() if r is not origin
                 and r.record.project_id == pid]:
        m = room.members.get(user_id)
        if m is not None and m.removed_at is None and m.role != "host":
            await _remove_from(core, room, actor, m, now, origin.id)


async def _remove_from(core: Core, room: Room, actor: Client, m: MemberRecord, now: float,
                       origin_id: str) -> None:
    event = await commit_removal(core, room, actor, m, now,
                                 detail=f"removed from the project in {origin_id}")
    core.publish_event(room, event, None)
    await close_sockets(core, room, m.user_id, "removed from the project")


async def commit_removal(core: Core, room: Room, actor: Client, m: MemberRecord, now: float,
                         *, revocation: list[ProjectMemberRecord] | None = None,
                         detail: str | None = None) -> Event:
    """Store ``m``'s removal from ``room`` (with the project revocation, when given) and
    return the ``participant_removed`` event to publish."""
    removed = MemberRecord(session_id=room.id, user_id=m.user_id, name=m.name, role=m.role,
                           joined_at=m.joined_at, removed_at=now)
    events: list[Event] = []

    def build(seq: int) -> Event:
        p = room.participant(m)
        p.online = False
        ev = Event(session_id=room.id, seq=seq, id=f"remove-{seq}", kind="participant_removed",
                   actor=actor.user, at=now, participant=p)
        events.append(ev)
        return ev

    async with room.lock:
        await core.commit(room, Write(
            session_id=room.id, build=build, members=[removed],
            project_members=revocation or [],
            log=[LogLine(kind="participant_removed", actor=actor.user.id, at=now,
                         subject=m.user_id, detail=detail)]))
        room.members[m.user_id] = removed
    return events[0]


async def close_sockets(core: Core, room: Room, user_id: str, reason: str) -> None:
    """A removed user's connections leave ``room`` and close with the removal code."""
    for c in tuple(room.clients.get(user_id, ())):
        await core.leave(room, c, "removed")
        c.close(CloseCode.REMOVED, reason)
