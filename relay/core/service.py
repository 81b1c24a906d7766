"""The relay core: dispatches decoded messages of authenticated clients."""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

from relay.config import Config
from relay.core import durable, queries, sessions, wirejson
from relay.core.budget import WriteBudget
from relay.core.client import Client, Transport
from relay.core.cursor import CursorFields
from relay.core.room import Room
from relay.errors import StoreBusy, StoreError
from relay.fanout import Fanout
from relay.metrics import Metrics
from relay.store.base import LogLine, Store, Write
from wire import (
    Ack,
    CursorUpdate,
    ErrorCode,
    Event,
    FocusUpdate,
    Limits,
    Mention,
    MentionNotice,
    Message,
    ProtocolError,
    StatusSet,
    UserJoined,
    UserLeft,
    UserRef,
    ViewportUpdate,
    encode,
    path_problem,
    permissions,
)
from wire.schema import to_wire

log = logging.getLogger("relay.core")

Handler = Callable[["Core", Client, Any], Awaitable[None]]
# Requests that store something without a client id: charged to the write budget too.
CHARGED = frozenset({"session_create", "invite_create"})
STORAGE_RETRY = 1.0  # retry_after of storage_busy refusals, in seconds
MAX_SELECTIONS = 100


class Core:
    def __init__(
        self,
        config: Config,
        store: Store,
        fanout: Fanout,
        metrics: Metrics,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.config = config
        self.store = store
        self.fanout = fanout
        self.metrics = metrics
        self.clock = clock
        self.rooms: dict[str, Room] = {}
        self.clients: set[Client] = set()
        self.handlers: dict[str, Handler] = {}
        for table in (sessions.HANDLERS, durable.HANDLERS, queries.HANDLERS):
            self.handlers.update(table)
        self.shutting_down = False
        self.budget = WriteBudget(config.user_writes_per_minute,
                                  config.user_write_bytes_per_minute)

    def limits(self) -> Limits:
        c = self.config
        return Limits(
            max_frame_bytes=c.max_frame_bytes, max_text_chars=c.max_text_chars,
            max_participants=c.max_participants, rate_per_second=c.rate_per_second,
            rate_burst=c.rate_burst, history_page=c.history_page,
            presence_timeout=c.presence_timeout,
        )

    # -- connections

    def connect(self, conn_id: int, user: UserRef, transport: Transport) -> Client:
        c = self.config
        client = Client(conn_id, user, transport, now=time.monotonic(), rate=c.rate_per_second,
                        burst=c.rate_burst, max_buffer=c.max_buffer_bytes)
        client.metrics = self.metrics
        self.clients.add(client)
        return client

    async def disconnect(self, client: Client) -> None:
        self.clients.discard(client)
        for sid in list(client.roles):
            room = self.rooms.get(sid)
            if room is not None:
                await self.leave(room, client, "disconnected")
        client.closed = True

    def admit(self, client: Client, now: float) -> bool:
        """Per-frame bookkeeping: presence liveness and the rate limit."""
        client.last_seen = now
        if client.stale:
            self.revive(client)
        return client.allow(now)

    # -- dispatch

    def ephemeral(self, client: Client, msg: Message) -> None:
        """Cursor, viewport, focus, status, heartbeat: synchronous, never stored."""
        kind = msg.TYPE
        self.metrics.messages_in[kind] += 1
        try:
            _EPHEMERAL[kind](self, client, msg)
        except ProtocolError as exc:
            self.refuse(client, exc, msg)

    def cursor(self, client: Client, fields: CursorFields) -> None:
        """ephemeral() for a cursor update decoded by fastpath.cursor_fields."""
        sid, path, selections, sent_at, content_hash, rid = fields
        self.metrics.messages_in["cursor"] += 1
        ref = Ref(rid)
        try:
            cursor_presence(self, client, sid, path, selections, sent_at, content_hash, ref)
        except ProtocolError as exc:
            self.refuse(client, exc, ref)

    async def handle(self, client: Client, msg: Message) -> None:
        kind = msg.TYPE
        if kind in _EPHEMERAL:
            self.ephemeral(client, msg)
            return
        self.metrics.messages_in[kind] += 1
        try:
            if self.shutting_down:
                raise ProtocolError(ErrorCode.SHUTTING_DOWN, "the relay is restarting: reconnect",
                                    rid=getattr(msg, "rid", None))
            handler = self.handlers.get(kind)
            if handler is None:
                raise ProtocolError(ErrorCode.UNKNOWN_TYPE, f"{kind} is not accepted here",
                                    rid=getattr(msg, "rid", None))
            if kind in CHARGED:
                self.budget.charge(client.user.id, len(encode(msg)), time.monotonic(), msg)
            await handler(self, client, msg)
        except ProtocolError as exc:
            self.refuse(client, exc, msg)
        except StoreBusy:
            log.warning("storage busy", extra={"type": kind, "conn": client.conn_id})
            self.refuse(client, ProtocolError(
                ErrorCode.STORAGE_BUSY, "the database is busy: nothing was stored, send it again",
                retry_after=STORAGE_RETRY), msg)
        except Exception:
            log.exception("handler failed", extra={"type": kind, "conn": client.conn_id})
            self.refuse(client, ProtocolError(ErrorCode.INTERNAL, "internal error"), msg)

    def refuse(self, client: Client, exc: ProtocolError, msg: Message | Ref | None = None) -> None:
        rid = exc.rid if exc.rid is not None else getattr(msg, "rid", None)
        mid = exc.id if exc.id is not None else getattr(msg, "id", None)
        self.metrics.errors[exc.code] += 1
        log.debug("refused", extra={"code": exc.code, "conn": client.conn_id})
        client.error(exc.code, exc.message, rid=rid, id=mid if isinstance(mid, str) else None,
                     retry_after=exc.retry_after)

    # -- helpers for handlers

    def joined(self, client: Client, session_id: str, action: str, msg: Any) -> Room:
        """The room of a session this connection joined, with the action permitted."""
        room = self.room_of(client, session_id, msg)
        self.permit(client, room, action, msg)
        return room

    def room_of(self, client: Client, session_id: str, msg: Any) -> Room:
        """The room of a session joined on this connection by a current member."""
        room = self.rooms.get(session_id)
        if room is None or session_id not in client.roles:
            raise ProtocolError(ErrorCode.NOT_IN_SESSION, "join the session first",
                                rid=getattr(msg, "rid", None), id=getattr(msg, "id", None))
        if room.role_of(client.user.id) is None:
            raise ProtocolError(ErrorCode.NOT_IN_SESSION, "not a member of this session",
                                rid=getattr(msg, "rid", None), id=getattr(msg, "id", None))
        return room

    def permit(self, client: Client, room: Room, action: str, msg: Any) -> None:
        """Role (permission matrix) and session state checks for an action."""
        rid = getattr(msg, "rid", None)
        mid = getattr(msg, "id", None)
        role = room.role_of(client.user.id)
        if role is None:
            raise ProtocolError(ErrorCode.NOT_IN_SESSION, "not a member of this session",
                                rid=rid, id=mid)
        permissions.check(action, role, rid=rid, id=mid)  # type: ignore[arg-type]
        if room.ended and action in permissions.WRITES:
            raise ProtocolError(ErrorCode.SESSION_ENDED, "the session has ended", rid=rid, id=mid)

    def check_text(self, text: str, msg: Any, limit: int | None = None) -> None:
        limit = self.config.max_text_chars if limit is None else limit
        if len(text) > limit:
            raise ProtocolError(ErrorCode.TEXT_TOO_LONG, f"text longer than {limit} characters",
                                rid=getattr(msg, "rid", None), id=getattr(msg, "id", None))

    def publish_event(self, room: Room, event: Event, audience: frozenset[str] | None) -> None:
        self.fanout.publish(room.id, encode(event).encode(), "event", only=audience)

    async def commit(self, room: Room, write: Write) -> int:
        seq = await self.store.commit(write)
        room.record.last_seq = max(room.record.last_seq, seq)
        return seq

    async def durable(
        self, client: Client, msg: Any, build: Callable[[Room], Awaitable[Write | None]]
    ) -> None:
        """Dedupe by client id, check, store, ack, broadcast: every durable action's path.

        De-duplication comes before the role and session-state checks so that the retry
        of an action stored just before a role change or the session's end is acked.
        """
        room = self.room_of(client, msg.session_id, msg)
        raw = canonical(msg)
        fp = hashlib.sha256(raw).hexdigest()
        async with room.lock:
            prev = await self.store.action(msg.id)
            if prev is not None:
                if prev.fingerprint != fp or prev.user_id != client.user.id:
                    raise ProtocolError(ErrorCode.ID_CONFLICT,
                                        "this id was already used for another action",
                                        rid=msg.rid, id=msg.id)
                client.send(Ack(id=msg.id, seq=prev.seq, rid=msg.rid))
                return
            self.permit(client, room, msg.TYPE, msg)
            write = await build(room)
            if write is None:
                return
            self.budget.charge(client.user.id, len(raw), time.monotonic(), msg)
            write.client_id = msg.id
            write.user_id = client.user.id
            write.fingerprint = fp
            events: list[Event] = []
            inner = write.build

            def capture(seq: int) -> Event:
                ev = inner(seq)
                events.append(ev)
                return ev

            write.build = capture
            seq = await self.commit(room, write)
        client.send(Ack(id=msg.id, seq=seq, rid=msg.rid))
        self.publish_event(room, events[0], write.audience)
        await self.deliver_mentions(room, write.mentions, seq)

    async def deliver_mentions(self, room: Room, mentions: list[tuple[str, Mention]],
                               seq: int) -> None:
        for uid, mention in mentions:
            clients = room.clients.get(uid)
            if not clients:
                continue
            data = encode(MentionNotice(mention=mention)).encode()
            for c in tuple(clients):
                c.write(data, "mention")
            await self.store.mark_mentions_delivered(room.id, uid, seq)

    # -- rooms, joining and leaving

    async def room(self, session_id: str) -> Room | None:
        room = self.rooms.get(session_id)
        if room is not None:
            return room
        record = await self.store.get_session(session_id)
        if record is None:
            return None
        members = await self.store.members(session_id)
        return self.rooms.setdefault(session_id, Room(record, members))

    def attach(self, room: Room, client: Client) -> None:
        uid = client.user.id
        role = room.role_of(uid)
        assert role is not None
        client.roles[room.id] = role  # type: ignore[assignment]
        client.stale.discard(room.id)
        room.clients.setdefault(uid, set()).add(client)
        self.fanout.attach(room.id, client)
        self.go_live(room, client)

    def go_live(self, room: Room, client: Client) -> None:
        uid = client.user.id
        live = room.live.setdefault(uid, set())
        was_online = bool(live)
        live.add(client)
        if not was_online:
            room.presence[uid] = {"user_id": uid, "status": "active"}
            m = room.members[uid]
            frame = UserJoined(session_id=room.id, participant=room.participant(m))
            self.fanout.publish(room.id, encode(frame).encode(), "user_joined", exclude_user=uid)

    async def leave(self, room: Room, client: Client, reason: str) -> None:
        uid = client.user.id
        client.roles.pop(room.id, None)
        client.stale.discard(room.id)
        client.pending.pop(room.id, None)
        self.fanout.detach(room.id, client)
        clients = room.clients.get(uid)
        if clients is not None:
            clients.discard(client)
            if not clients:
                del room.clients[uid]
        if self.go_offline(room, client, reason):
            try:
                await self.store.append_log(room.id, LogLine(kind="leave", actor=uid,
                                                             at=self.clock(), detail=reason))
            except StoreError as exc:  # the leave itself happened: only its log line is lost
                log.warning("leave not logged", extra={"session": room.id, "error": str(exc)})
        if not room.clients:
            self.rooms.pop(room.id, None)

    def go_offline(self, room: Room, client: Client, reason: str) -> bool:
        uid = client.user.id
        live = room.live.get(uid)
        if live is None or client not in live:
            return False
        live.discard(client)
        if live:
            return False
        del room.live[uid]
        room.presence.pop(uid, None)
        frame = UserLeft(session_id=room.id, user_id=uid, reason=reason)  # type: ignore[arg-type]
        self.fanout.publish(room.id, encode(frame).encode(), "user_left", exclude_user=uid)
        return True

    # -- presence liveness

    def expire(self, now: float) -> None:
        """Drop the presence of clients silent for longer than the presence timeout."""
        self.budget.prune(now)
        deadline = now - self.config.presence_timeout
        for client in tuple(self.clients):
            if client.last_seen >= deadline:
                continue
            for sid in client.roles:
                if sid in client.stale:
                    continue
                room = self.rooms.get(sid)
                if room is None:
                    continue
                client.stale.add(sid)
                if self.go_offline(room, client, "timeout"):
                    log.info("presence expired", extra={"user": client.user.id, "session": sid})

    def revive(self, client: Client) -> None:
        for sid in tuple(client.stale):
            client.stale.discard(sid)
            room = self.rooms.get(sid)
            if room is not None and sid in client.roles:
                self.go_live(room, client)


def canonical(msg: Any) -> bytes:
    """The message without its rid, as canonical JSON (what fingerprints and sizes use)."""
    data = to_wire(msg)
    data.pop("rid", None)
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def fingerprint(msg: Any) -> str:
    return hashlib.sha256(canonical(msg)).hexdigest()


# -- ephemeral traffic: synchronous, never stored


def _presence(core: Core, client: Client, msg: Any, action: str, entry: dict[str, Any],
              session_id: str | None = None, encoded: dict[str, str] | None = None) -> None:
    """Record and announce an ephemeral update; ``encoded`` has fields already in JSON."""
    room = core.joined(client, msg.session_id if session_id is None else session_id, action, msg)
    uid = client.user.id
    entry["user_id"] = uid
    state = room.presence.get(uid)
    if state is not None:
        state.update(entry)
    fields = wirejson.fields(entry) if encoded is None else encoded
    fields["user_id"] = fields["u"] = wirejson.string(uid)
    core.fanout.publish_presence(room.id, uid, fields)


class Ref:
    """The rid (and no id) of a message handled without its dataclass, for errors."""

    __slots__ = ("id", "rid")

    def __init__(self, rid: str | None) -> None:
        self.rid = rid
        self.id: str | None = None


def _check_path(path: str, msg: Any) -> None:
    problem = path_problem(path)
    if problem is not None:
        raise ProtocolError(ErrorCode.INVALID_VALUE, problem, rid=msg.rid)


def on_cursor(core: Core, client: Client, msg: CursorUpdate) -> None:
    selections = [
        {"anchor": {"line": s.anchor.line, "character": s.anchor.character},
         "active": {"line": s.active.line, "character": s.active.character}}
        for s in msg.selections
    ]
    cursor_presence(core, client, msg.session_id, msg.path, selections, msg.sent_at,
                    msg.content_hash, msg)


def cursor_presence(core: Core, client: Client, session_id: str, path: str,
                    selections: list[dict[str, Any]], sent_at: float | None,
                    content_hash: str | None, msg: Any) -> None:
    """A cursor update's checks and presence entry; ``msg`` supplies the rid for errors."""
    _check_path(path, msg)
    if len(selections) > MAX_SELECTIONS:
        raise ProtocolError(ErrorCode.INVALID_VALUE, "too many selections", rid=msg.rid)
    cursor: dict[str, Any] = {"path": path, "selections": selections}
    if content_hash is not None:
        cursor["content_hash"] = content_hash
    entry: dict[str, Any] = {"cursor": cursor}
    encoded = {"cursor": wirejson.cursor(path, selections, content_hash),
               "c": wirejson.cursor_short(path, selections, content_hash)}
    if sent_at is not None:
        entry["sent_at"] = sent_at
        encoded["sent_at"] = encoded["t"] = wirejson.value(sent_at)
    _presence(core, client, msg, "cursor", entry, session_id, encoded)


def on_viewport(core: Core, client: Client, msg: ViewportUpdate) -> None:
    _check_path(msg.path, msg)
    if len(msg.ranges) > MAX_SELECTIONS:
        raise ProtocolError(ErrorCode.INVALID_VALUE, "too many ranges", rid=msg.rid)
    _presence(core, client, msg, "viewport",
              {"viewport": {"path": msg.path, "ranges": [
                  {"start": {"line": r.start.line, "character": r.start.character},
                   "end": {"line": r.end.line, "character": r.end.character}}
                  for r in msg.ranges
              ]}})


def on_focus(core: Core, client: Client, msg: FocusUpdate) -> None:
    if msg.path is not None:
        _check_path(msg.path, msg)
    # "" means: no file of the workspace is focused.
    _presence(core, client, msg, "focus", {"focus": msg.path or ""})


def on_status(core: Core, client: Client, msg: StatusSet) -> None:
    _presence(core, client, msg, "status", {"status": msg.status})


def on_heartbeat(core: Core, client: Client, msg: Any) -> None:
    """Liveness only (recorded by Core.admit for every frame)."""


_EPHEMERAL: dict[str, Callable[[Core, Client, Any], None]] = {
    "cursor": on_cursor,
    "viewport": on_viewport,
    "focus": on_focus,
    "status": on_status,
    "heartbeat": on_heartbeat,
}
