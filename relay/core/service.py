"""The relay core: dispatches decoded messages of authenticated clients.

Core implements relay.core.handling.CoreView, the part of it the handler modules use.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import time
from collections.abc import Callable
from typing import Any

from relay.config import Config
from relay.core import durable, ephemeral, queries, sessions
from relay.core.budget import WriteBudget
from relay.core.client import Client
from relay.core.cursor import CursorFields
from relay.core.delivery import Delivery
from relay.core.ephemeral import Ref, cursor_presence
from relay.core.handling import Build, Handler
from relay.core.ports import SessionBus, Store, Transport
from relay.core.records import Guard, Write
from relay.core.room import Room
from relay.core.rooms import Rooms
from relay.errors import (
    AlreadyStored,
    GuardFailed,
    IdConflict,
    StoreBusy,
    StoreUnavailable,
    WriteConflict,
)
from relay.metrics import Metrics
from wire import (
    Ack,
    ErrorCode,
    Event,
    Limits,
    Message,
    ProtocolError,
    UserRef,
    encode,
    permissions,
)
from wire.schema import to_wire

log = logging.getLogger("relay.core")

# Requests that store something without a client id: charged to the write budget too.
CHARGED = frozenset({"session_create", "invite_create"})
STORAGE_RETRY = 1.0  # retry_after of storage_busy refusals, in seconds
WRITE_TRIES = 5  # builds of a durable write whose entities keep changing under it


class Core(Rooms):
    """The relay's logic on one process, built with a Store and a SessionBus."""

    def __init__(
        self,
        config: Config,
        store: Store,
        bus: SessionBus,
        metrics: Metrics,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.config = config
        self.store = store
        self.bus = bus
        self.metrics = metrics
        self.clock = clock
        self.delivery = Delivery(metrics, config.presence_batch_ms / 1000)
        self.on_presence = self.delivery.publish_presence  # the bus's hot path, no hop
        self.rooms: dict[str, Room] = {}
        self.loading: dict[str, list[Event]] = {}
        self.clients: set[Client] = set()
        self.tasks: set[asyncio.Task[None]] = set()
        self.handlers: dict[str, Handler] = {}
        for table in (sessions.HANDLERS, durable.HANDLERS, queries.HANDLERS):
            self.handlers.update(table)
        self.shutting_down = False
        self.budget = WriteBudget(config.user_writes_per_minute,
                                  config.user_write_bytes_per_minute)
        bus.listen(self)

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
        for sid in list(client.joined):
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
            ephemeral.HANDLERS[kind](self, client, msg)
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
        if kind in ephemeral.HANDLERS:
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
        except StoreBusy as exc:
            why = "unavailable" if isinstance(exc, StoreUnavailable) else "busy"
            log.warning(f"storage {why}", extra={"type": kind, "conn": client.conn_id,
                                                 "reason": str(exc)})
            self.refuse(client, ProtocolError(
                ErrorCode.STORAGE_BUSY, f"the database is {why}: nothing was stored, send it again",
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
        if room is None or session_id not in client.joined:
            raise ProtocolError(ErrorCode.NOT_IN_SESSION, "join the session first",
                                rid=getattr(msg, "rid", None), id=getattr(msg, "id", None))
        if room.role_of(client.user.id) is None:
            raise ProtocolError(ErrorCode.NOT_IN_SESSION, "not a member of this session",
                                rid=getattr(msg, "rid", None), id=getattr(msg, "id", None))
        return room

    def permit(self, client: Client, room: Room, action: str, msg: Any) -> None:
        """Role (permission matrix) and session state checks for an action."""
        check_role(room.role_of(client.user.id), room.ended, action, msg)

    async def permit_stored(self, client: Client, room: Room, action: str, msg: Any) -> None:
        """permit(), with a refusal for the role confirmed by the store: the room is a cache,
        and a role granted through another relay process may not have reached it yet (the
        bus is late, or Redis is away). A stored role that differs is written into the
        room (Room.confirm), so the next action needs no read. A role taken away is caught
        by the commit's guard."""
        try:
            self.permit(client, room, action, msg)
        except ProtocolError as exc:
            if exc.code != ErrorCode.FORBIDDEN:
                raise
            role = await self.stored_role(room, client.user.id)
            if role is None:
                raise
            check_role(role, room.ended, action, msg)

    async def stored_role(self, room: Room, user_id: str) -> str | None:
        """The user's role read from the store when it differs from the room's (then written
        into the room: Room.confirm), else None (the same, or not a current member)."""
        seen = room.record.last_seq
        stored = await self.store.member(room.id, user_id)
        if stored is None or stored.role == room.role_of(user_id):
            return None
        room.confirm(stored, seen)
        return stored.role

    def check_text(self, text: str, msg: Any, limit: int | None = None) -> None:
        limit = self.config.max_text_chars if limit is None else limit
        if len(text) > limit:
            raise ProtocolError(ErrorCode.TEXT_TOO_LONG, f"text longer than {limit} characters",
                                rid=getattr(msg, "rid", None), id=getattr(msg, "id", None))

    async def commit(self, write: Write, action: str, msg: Any) -> Event:
        """Store a write the relay makes (joins, role changes, removals, the end) and
        refresh the session's room here; its guard is checked inside the transaction."""
        try:
            event = await self.store.commit(write)
        except GuardFailed as exc:
            raise refusal(exc, write.guard, action, msg) from None
        room = self.rooms.get(write.session_id)
        if room is not None:
            room.apply(event)
        return event

    async def durable(self, client: Client, msg: Any, build: Build) -> None:
        """Dedupe by client id, check, store, ack, broadcast: every durable action's path.

        De-duplication comes before the role and session-state checks so that the retry
        of an action stored just before a role change or the session's end is acked. The
        store decides again inside its transaction: the id, the role and the session's
        state (the guard), and that what the write was built from did not change (else
        the write is built again from what is stored now).
        """
        room = self.room_of(client, msg.session_id, msg)
        uid = client.user.id
        raw = canonical(msg)
        fp = hashlib.sha256(raw).hexdigest()
        prev = await self.store.action(msg.id)
        if prev is not None:
            if prev.fingerprint != fp or prev.user_id != uid:
                raise _id_conflict(msg)
            client.send(Ack(id=msg.id, seq=prev.seq, rid=msg.rid))
            return
        await self.permit_stored(client, room, msg.TYPE, msg)
        guard = Guard(uid, permissions.MATRIX[msg.TYPE], msg.TYPE in permissions.WRITES)
        for attempt in range(WRITE_TRIES):
            write = await build(self, client, room, msg)
            if attempt == 0:
                self.budget.charge(uid, len(raw), time.monotonic(), msg)
            write.client_id = msg.id
            write.user_id = uid
            write.fingerprint = fp
            write.guard = guard
            try:
                event = await self.store.commit(write)
                break
            except WriteConflict:
                continue
            except AlreadyStored as exc:
                client.send(Ack(id=msg.id, seq=exc.event.seq, rid=msg.rid))
                return
            except IdConflict:
                raise _id_conflict(msg) from None
            except GuardFailed as exc:
                if exc.role is not None and exc.role != room.role_of(uid):
                    await self.stored_role(room, uid)  # the cache is stale: refresh it
                raise refusal(exc, guard, msg.TYPE, msg) from None
        else:
            raise StoreBusy(f"{msg.TYPE} {msg.id}: what it changes kept changing")
        room.apply(event)
        client.send(Ack(id=msg.id, seq=event.seq, rid=msg.rid))
        await self.bus.publish_event(room.id, event, write.audience)
        for user_id, mention in write.mentions:
            await self.bus.send_mention(room.id, user_id, mention)


def check_role(role: str | None, ended: bool, action: str, msg: Any) -> None:
    """Refuse ``action`` to a member with ``role`` (None: not a member) of a session that
    ``ended`` or not: the permission matrix and the session's state."""
    rid = getattr(msg, "rid", None)
    mid = getattr(msg, "id", None)
    if role is None:
        raise ProtocolError(ErrorCode.NOT_IN_SESSION, "not a member of this session",
                            rid=rid, id=mid)
    permissions.check(action, role, rid=rid, id=mid)  # type: ignore[arg-type]
    if ended and action in permissions.WRITES:
        raise ProtocolError(ErrorCode.SESSION_ENDED, "the session has ended", rid=rid, id=mid)


def refusal(exc: GuardFailed, guard: Guard | None, action: str, msg: Any) -> ProtocolError:
    """The refusal of a write whose ``guard`` failed inside the store's transaction."""
    rid, mid = getattr(msg, "rid", None), getattr(msg, "id", None)
    if guard is None or guard.user_id is None or exc.role in guard.roles:
        return ProtocolError(ErrorCode.SESSION_ENDED, "the session has ended", rid=rid, id=mid)
    try:
        check_role(exc.role, False, action, msg)
    except ProtocolError as refused:
        return refused
    return ProtocolError(ErrorCode.FORBIDDEN, f"{action.replace('_', ' ')} is not permitted",
                         rid=rid, id=mid)


def _id_conflict(msg: Any) -> ProtocolError:
    return ProtocolError(ErrorCode.ID_CONFLICT, "this id was already used for another action",
                         rid=msg.rid, id=msg.id)


def canonical(msg: Any) -> bytes:
    """The message without its rid, as canonical JSON (what fingerprints and sizes use)."""
    data = to_wire(msg)
    data.pop("rid", None)
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def fingerprint(msg: Any) -> str:
    return hashlib.sha256(canonical(msg)).hexdigest()
