"""Sessions, invites, roles and membership."""

from __future__ import annotations

import logging
import secrets
import uuid
from typing import TYPE_CHECKING

from relay.core import projects, wirejson
from relay.core.records import Guard, InviteRecord, LogLine, MemberRecord, SessionRecord, Write
from relay.core.room import Room, repo_key
from wire import (
    ErrorCode,
    Event,
    Invite,
    InviteCreate,
    InviteList,
    InviteListResult,
    InviteResult,
    InviteRevoke,
    Ok,
    ParticipantRemove,
    PeerPresence,
    ProtocolError,
    RoleSet,
    SessionCreate,
    SessionEnd,
    SessionJoin,
    SessionLeave,
    SessionList,
    SessionListResult,
    SessionState,
    permissions,
)
from wire.schema import structure

if TYPE_CHECKING:
    from relay.core.client import Client
    from relay.core.handling import CoreView, Handler

log = logging.getLogger("relay.sessions")

MAX_NAME = 200
MAX_INVITE_SECONDS = 90 * 24 * 3600.0
MAX_CATCHUP = 10_000


async def session_create(core: CoreView, client: Client, msg: SessionCreate) -> None:
    name = msg.name.strip()
    if not name or len(name) > MAX_NAME:
        raise ProtocolError(ErrorCode.INVALID_VALUE, f"name must be 1-{MAX_NAME} characters",
                            rid=msg.rid)
    for value in (msg.repo.remote, msg.repo.root_commit, msg.repo.name):
        if value is not None and len(value) > 1024:
            raise ProtocolError(ErrorCode.INVALID_VALUE, "repository identity too long",
                                rid=msg.rid)
    sid = uuid.uuid4().hex
    now = core.clock()
    uid = client.user.id
    key = repo_key(msg.repo, sid)
    project, new = await projects.for_new_session(core, client, msg, key, now)
    record = SessionRecord(id=sid, name=name, repo=msg.repo, repo_key=key, host=uid,
                           created_at=now, host_name=client.user.name, project_id=project.id)
    host = MemberRecord(session_id=sid, user_id=uid, name=client.user.name, role="host",
                        joined_at=now)
    await core.store.create_session(record, host, project if new else None)
    await core.store.append_log(sid, LogLine(kind="session_created", actor=uid, at=now))
    log.info("session created", extra={"session": sid, "user": uid})
    room = await core.room(sid)
    assert room is not None
    await enter(core, client, room, None, msg.rid)


async def session_list(core: CoreView, client: Client, msg: SessionList) -> None:
    rows = await core.store.sessions_of(client.user.id)
    infos = []
    for record, role in rows:
        room = Room(record, [])
        infos.append(room.info(role))
    client.send(SessionListResult(sessions=infos, rid=msg.rid))


async def session_join(core: CoreView, client: Client, msg: SessionJoin) -> None:
    now = core.clock()
    invite: InviteRecord | None = None
    if msg.invite is not None:
        invite = await core.store.invite_by_token(msg.invite)
        if invite is None or invite.invite.revoked:
            raise ProtocolError(ErrorCode.INVITE_INVALID, "invite is not valid", rid=msg.rid)
        inv = invite.invite
        if inv.expires_at <= now:
            raise ProtocolError(ErrorCode.INVITE_EXPIRED, "invite has expired", rid=msg.rid)
        if msg.session_id is not None and msg.session_id != inv.session_id:
            raise ProtocolError(ErrorCode.INVITE_INVALID, "invite is for another session",
                                rid=msg.rid)
        sid = inv.session_id
    elif msg.session_id is not None:
        sid = msg.session_id
    else:
        raise ProtocolError(ErrorCode.BAD_MESSAGE, "session_join needs session_id or invite",
                            rid=msg.rid)
    room = await core.room(sid)
    if room is None:
        raise ProtocolError(ErrorCode.SESSION_NOT_FOUND, "no such session", rid=msg.rid)
    try:
        await _admit(core, client, room, invite, msg, now)
    finally:
        await core.drop(room)  # refused: do not keep an empty room loaded


async def _admit(core: CoreView, client: Client, room: Room, invite: InviteRecord | None,
                 msg: SessionJoin, now: float) -> None:
    uid = client.user.id
    sid = room.id
    member = room.members.get(uid)
    # Removal from any session of the project revokes access to all of it.
    revoked = await projects.revoked_at(core.store, room.record.project_id, uid)
    removed = [t for t in (member.removed_at if member else None, revoked) if t is not None]
    is_member = member is not None and member.removed_at is None and revoked is None
    if not is_member and invite is None:
        if removed:
            raise ProtocolError(ErrorCode.REMOVED, "you were removed from this session",
                                rid=msg.rid)
        raise ProtocolError(ErrorCode.NOT_IN_SESSION, "not a member: join with an invite",
                            rid=msg.rid)
    online = await core.bus.online(sid)
    if uid not in online and len(online) >= core.config.max_participants:
        raise ProtocolError(ErrorCode.SESSION_FULL, "the session is full", rid=msg.rid)
    if not is_member and invite is not None:
        inv = invite.invite
        if removed and invite.created_at <= max(removed):
            raise ProtocolError(ErrorCode.REMOVED, "removed: this invite predates the removal",
                                rid=msg.rid)
        if inv.max_uses is not None and inv.uses >= inv.max_uses:
            raise ProtocolError(ErrorCode.INVITE_INVALID, "invite has no uses left", rid=msg.rid)
        if room.ended:
            raise ProtocolError(ErrorCode.SESSION_ENDED, "the session has ended", rid=msg.rid)
        if not await core.store.use_invite(inv.invite_id):
            raise ProtocolError(ErrorCode.INVITE_INVALID, "invite has no uses left", rid=msg.rid)
        new = MemberRecord(session_id=sid, user_id=uid, name=client.user.name, role=inv.role,
                           joined_at=now)
        participant = room.participant(new, None)
        event = await core.commit(Write(
            session_id=sid, id_prefix="join",
            event=Event(session_id=sid, seq=0, id="", kind="participant_joined",
                        actor=client.user, at=now, participant=participant),
            guard=Guard(None, open=True), members=[new],
            project_members=projects.grant(room, uid, now),
            log=[LogLine(kind="member_added", actor=uid, at=now, subject=uid,
                         detail=f"invite {inv.invite_id} as {inv.role}")]), "session_join", msg)
        await core.bus.publish_event(room.id, event, None)
    await enter(core, client, room, msg.last_seq, msg.rid)


async def enter(core: CoreView, client: Client, room: Room, last_seq: int | None,
                rid: str | None) -> None:
    """Attach the client to the room and send it the whole session state."""
    uid = client.user.id
    first = room.id not in client.joined
    await core.attach(room, client)
    if first:
        await core.store.append_log(room.id, LogLine(kind="join", actor=uid, at=core.clock()))
    store = core.store
    chat, has_more = await store.chat_page(room.id, uid, None, core.config.history_page)
    pid = room.record.project_id
    threads = await store.project_threads(pid) if await projects.has_access(store, pid, uid) \
        else []
    mentions = await store.pending_mentions(room.id, uid)
    events = []
    if last_seq is not None:
        events = await store.events_after(room.id, last_seq, uid, MAX_CATCHUP + 1)
    events_more = len(events) > MAX_CATCHUP
    m = room.members[uid]
    # Presence is kept as encoded fields; peers' entries become PeerPresence values here.
    online = await core.bus.presence(room.id)
    presence = [structure(wirejson.entry(fields), PeerPresence)
                for other, fields in online.items() if other != uid]
    state = SessionState(
        session=room.info(m.role), you=room.participant(m, online.get(uid)),
        participants=room.participants(online), presence=presence,
        last_seq=room.record.last_seq, chat=chat, chat_has_more=has_more,
        threads=threads, mentions=mentions, events=events[:MAX_CATCHUP],
        events_has_more=events_more, rid=rid,
    )
    client.send(state)
    if mentions:
        await store.mark_mentions_delivered(room.id, uid, room.record.last_seq)


async def session_leave(core: CoreView, client: Client, msg: SessionLeave) -> None:
    room = core.joined(client, msg.session_id, "session_leave", msg)
    await core.leave(room, client, "left")
    client.send(Ok(rid=msg.rid))


async def session_end(core: CoreView, client: Client, msg: SessionEnd) -> None:
    room = core.joined(client, msg.session_id, "session_end", msg)
    now = core.clock()
    uid = client.user.id
    event = await core.commit(Write(
        session_id=room.id, id_prefix="end",
        event=Event(session_id=room.id, seq=0, id="", kind="session_ended", actor=client.user,
                    at=now),
        guard=Guard(uid, permissions.MATRIX["session_end"]), ended_at=now,
        log=[LogLine(kind="session_ended", actor=uid, at=now)]), "session_end", msg)
    client.send(Ok(rid=msg.rid))
    await core.bus.publish_event(room.id, event, None)
    log.info("session ended", extra={"session": room.id, "user": client.user.id})


async def invite_create(core: CoreView, client: Client, msg: InviteCreate) -> None:
    room = core.joined(client, msg.session_id, "invite_create", msg)
    if not 0 < msg.expires_in <= MAX_INVITE_SECONDS:
        raise ProtocolError(ErrorCode.INVALID_VALUE,
                            f"expires_in must be in (0, {int(MAX_INVITE_SECONDS)}]", rid=msg.rid)
    if msg.max_uses is not None and msg.max_uses < 1:
        raise ProtocolError(ErrorCode.INVALID_VALUE, "max_uses must be at least 1", rid=msg.rid)
    now = core.clock()
    inv = Invite(invite_id=secrets.token_hex(8), session_id=room.id, role=msg.role,
                 token=secrets.token_urlsafe(24), expires_at=now + msg.expires_in,
                 max_uses=msg.max_uses)
    await core.store.create_invite(InviteRecord(invite=inv, created_by=client.user.id,
                                                created_at=now))
    await core.store.append_log(room.id, LogLine(kind="invite_created", actor=client.user.id,
                                                 at=now, subject=inv.invite_id, detail=inv.role))
    client.send(InviteResult(invite=inv, rid=msg.rid))


async def invite_revoke(core: CoreView, client: Client, msg: InviteRevoke) -> None:
    room = core.joined(client, msg.session_id, "invite_revoke", msg)
    if not await core.store.revoke_invite(room.id, msg.invite_id):
        raise ProtocolError(ErrorCode.NOT_FOUND, "no such invite", rid=msg.rid)
    await core.store.append_log(room.id, LogLine(kind="invite_revoked", actor=client.user.id,
                                                 at=core.clock(), subject=msg.invite_id))
    client.send(Ok(rid=msg.rid))


async def invite_list(core: CoreView, client: Client, msg: InviteList) -> None:
    room = core.joined(client, msg.session_id, "invite_list", msg)
    records = await core.store.invites(room.id)
    client.send(InviteListResult(invites=[r.invite for r in records], rid=msg.rid))


def _target(room: Room, user_id: str, rid: str | None) -> MemberRecord:
    m = room.members.get(user_id)
    if m is None or m.removed_at is not None:
        raise ProtocolError(ErrorCode.NOT_FOUND, "no such participant", rid=rid)
    if m.role == "host":
        raise ProtocolError(ErrorCode.FORBIDDEN, "the host's role cannot change", rid=rid)
    return m


async def role_set(core: CoreView, client: Client, msg: RoleSet) -> None:
    room = core.joined(client, msg.session_id, "role_set", msg)
    m = _target(room, msg.user_id, msg.rid)
    now = core.clock()
    updated = MemberRecord(session_id=room.id, user_id=m.user_id, name=m.name, role=msg.role,
                           joined_at=m.joined_at)
    presence = (await core.bus.presence(room.id)).get(m.user_id)
    event = await core.commit(Write(
        session_id=room.id, id_prefix="role",
        event=Event(session_id=room.id, seq=0, id="", kind="role_changed", actor=client.user,
                    at=now, participant=room.participant(updated, presence)),
        guard=Guard(client.user.id, permissions.MATRIX["role_set"]), members=[updated],
        log=[LogLine(kind="role_changed", actor=client.user.id, at=now, subject=m.user_id,
                     detail=f"{m.role} -> {msg.role}")]), "role_set", msg)
    client.send(Ok(rid=msg.rid))
    await core.bus.publish_event(room.id, event, None)


async def participant_remove(core: CoreView, client: Client, msg: ParticipantRemove) -> None:
    room = core.joined(client, msg.session_id, "participant_remove", msg)
    m = _target(room, msg.user_id, msg.rid)
    now = core.clock()
    elsewhere = await projects.other_sessions(core, room, m.user_id)
    event = await projects.commit_removal(core, room.id, client, m, now, msg,
                                          revocation=projects.revoke(room, m.user_id, now))
    client.send(Ok(rid=msg.rid))
    await core.bus.publish_event(room.id, event, None)  # closes the user's sockets there
    await projects.remove_elsewhere(core, elsewhere, room, client, m.user_id, now)
    log.info("participant removed", extra={"session": room.id, "user": m.user_id})


HANDLERS: dict[str, Handler] = {
    "session_create": session_create,
    "session_list": session_list,
    "session_join": session_join,
    "session_leave": session_leave,
    "session_end": session_end,
    "invite_create": invite_create,
    "invite_revoke": invite_revoke,
    "invite_list": invite_list,
    "role_set": role_set,
    "participant_remove": participant_remove,
}
