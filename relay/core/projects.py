"""Projects: the team spaces that sessions belong to and that own persisted threads.

Who may see and change a thread is decided by project membership that a host granted
(the owner, and everyone who joined one of its sessions through an invite), never by the
repository identity a client claims: that is only a hint for the owner's next session.
A host removing a participant revokes the membership in the whole project.
"""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING

from relay.core.ports import Store
from relay.core.records import (
    Guard,
    LogLine,
    MemberRecord,
    ProjectMemberRecord,
    ProjectRecord,
    Write,
)
from relay.core.room import Room, status
from wire import (
    ErrorCode,
    Event,
    Participant,
    ParticipantRemove,
    ProtocolError,
    SessionCreate,
    UserRef,
    permissions,
)

if TYPE_CHECKING:
    from relay.core.client import Client
    from relay.core.handling import CoreView


async def for_new_session(core: CoreView, client: Client, msg: SessionCreate, key: str,
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


async def other_sessions(core: CoreView, origin: Room, user_id: str) -> list[str]:
    """The project's other sessions that the user is a current member of, not as host:
    those a removal from ``origin`` removes the user from too (read before it)."""
    pid = origin.record.project_id
    if not pid:
        return []
    return [record.id for record, role in await core.store.sessions_of(user_id)
            if record.project_id == pid and record.id != origin.id and role != "host"]


async def remove_elsewhere(core: CoreView, sessions: list[str], origin: Room, actor: Client,
                           user_id: str, now: float) -> None:
    """After a revocation: a ``participant_removed`` event in each of ``sessions``
    (other_sessions), which tells their peers and closes the user's sockets there, on
    every relay process."""
    for sid in sessions:
        m = next((m for m in await core.store.members(sid) if m.user_id == user_id), None)
        if m is None:
            continue
        event = await commit_removal(core, sid, actor, m, now, None,
                                     detail=f"removed from the project in {origin.id}")
        await core.bus.publish_event(sid, event, None)


async def commit_removal(core: CoreView, session_id: str, actor: Client, m: MemberRecord,
                         now: float, msg: ParticipantRemove | None, *,
                         revocation: list[ProjectMemberRecord] | None = None,
                         detail: str | None = None) -> Event:
    """Store ``m``'s removal from the session (with the project revocation, when given)
    and return the ``participant_removed`` event to publish. ``msg``: the host's request,
    whose sender must still be the session's host (None: a removal it implies)."""
    removed = MemberRecord(session_id=session_id, user_id=m.user_id, name=m.name, role=m.role,
                           joined_at=m.joined_at, removed_at=now)
    presence = (await core.bus.presence(session_id)).get(m.user_id)
    p = Participant(user=UserRef(id=m.user_id, name=m.name), role=m.role, online=False,
                    status=status(presence), joined_at=m.joined_at)
    guard = None if msg is None else Guard(actor.user.id,
                                           permissions.MATRIX["participant_remove"], open=False)
    return await core.commit(Write(
        session_id=session_id, id_prefix="remove",
        event=Event(session_id=session_id, seq=0, id="", kind="participant_removed",
                    actor=actor.user, at=now, participant=p),
        guard=guard, members=[removed], project_members=revocation or [],
        log=[LogLine(kind="participant_removed", actor=actor.user.id, at=now,
                     subject=m.user_id, detail=detail)]), "participant_remove", msg)
