"""This process's rooms: loading, joining, leaving, liveness, and what the bus delivers.

A room is loaded while a local client is joined to it, and kept in step with every
relay process by the events the bus delivers (``on_event``). Who is online is the
bus's registry: a connection that joins, leaves, times out or comes back tells it,
and the user's arrival or departure is announced once, by whichever process saw it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine
from typing import Any

from relay.config import Config
from relay.core import wirejson
from relay.core.budget import WriteBudget
from relay.core.client import Client
from relay.core.delivery import Delivery
from relay.core.ports import Fields, SessionBus, Store
from relay.core.records import LogLine
from relay.core.room import Room
from relay.errors import StoreError
from relay.metrics import Metrics
from wire import CloseCode, Event, Mention, MentionNotice, UserJoined, UserLeft, encode

log = logging.getLogger("relay.core")
GAP_LIMIT = 10_000  # events per user one gap fill sends (a client further behind syncs)


class Rooms:
    """The rooms part of Core (relay.core.service), and the BusListener it implements."""

    config: Config
    store: Store
    bus: SessionBus
    delivery: Delivery
    metrics: Metrics
    clock: Callable[[], float]
    budget: WriteBudget
    rooms: dict[str, Room]
    loading: dict[str, list[Event]]  # events of sessions being loaded, applied once loaded
    clients: set[Client]
    tasks: set[asyncio.Task[None]]

    async def room(self, session_id: str) -> Room | None:
        """The session's room, loaded (and subscribed to on the bus) if need be."""
        room = self.rooms.get(session_id)
        if room is not None:
            return room
        early = self.loading.setdefault(session_id, [])
        await self.bus.subscribe(session_id)
        try:
            record = await self.store.get_session(session_id)
            members = await self.store.members(session_id) if record is not None else []
        except BaseException:
            await self._loaded(session_id, early)
            raise
        room = self.rooms.get(session_id)  # loaded meanwhile by another join
        if room is None and record is not None:
            room = self.rooms[session_id] = Room(record, members)
            self.bus.position(session_id, record.last_seq)
            for event in early:
                room.apply(event)
        await self._loaded(session_id, early)
        return room

    async def _loaded(self, session_id: str, early: list[Event]) -> None:
        if self.loading.get(session_id) is early:
            del self.loading[session_id]
        if session_id not in self.rooms:
            await self.bus.unsubscribe(session_id)

    async def drop(self, room: Room) -> None:
        """Forget a room no local client is joined to."""
        if room.clients or self.rooms.get(room.id) is not room:
            return
        del self.rooms[room.id]
        if room.id not in self.loading:
            await self.bus.unsubscribe(room.id)

    def users_online(self) -> int:
        """Users online in some session through this process's connections."""
        return sum(1 for room in self.rooms.values() for clients in room.clients.values()
                   if any(room.id not in c.stale for c in clients))

    # -- joining and leaving

    async def attach(self, room: Room, client: Client) -> None:
        uid = client.user.id
        assert room.role_of(uid) is not None
        client.joined.add(room.id)
        client.stale.discard(room.id)
        room.clients.setdefault(uid, set()).add(client)
        self.delivery.attach(room.id, client)
        await self.go_live(room, client)

    async def go_live(self, room: Room, client: Client) -> None:
        """Tell the registry the client is live in the room; announce a user who came
        online."""
        if room.id not in client.joined or room.id in client.stale or client.closed:
            return
        uid = client.user.id
        fields = wirejson.plain_fields("status", "active")
        fields["user_id"] = fields["u"] = client.user_json
        if await self.bus.arrive(room.id, uid, client.conn_id, fields):
            await self.announce_arrival(room, uid, fields)

    async def announce_arrival(self, room: Room, user_id: str, fields: Fields) -> None:
        """Tell every client of the session but the user's that the user came online."""
        m = room.members.get(user_id)
        if m is not None:
            frame = UserJoined(session_id=room.id, participant=room.participant(m, fields))
            await self.bus.publish(room.id, encode(frame).encode(), "user_joined",
                                   exclude_user=user_id)

    async def leave(self, room: Room, client: Client, reason: str) -> None:
        uid = client.user.id
        live = room.id in client.joined and room.id not in client.stale
        client.joined.discard(room.id)
        client.stale.discard(room.id)
        client.pending.pop(room.id, None)
        self.delivery.detach(room.id, client)
        clients = room.clients.get(uid)
        if clients is not None:
            clients.discard(client)
            if not clients:
                del room.clients[uid]
        if live and await self.go_offline(room, client, reason):
            try:
                await self.store.append_log(room.id, LogLine(kind="leave", actor=uid,
                                                             at=self.clock(), detail=reason))
            except StoreError as exc:  # the leave itself happened: only its log line is lost
                log.warning("leave not logged", extra={"session": room.id, "error": str(exc)})
        await self.drop(room)

    async def go_offline(self, room: Room, client: Client, reason: str) -> bool:
        """Tell the registry the client is no longer live; announce a user who went
        offline (True)."""
        uid = client.user.id
        if not await self.bus.depart(room.id, uid, client.conn_id):
            return False
        frame = UserLeft(session_id=room.id, user_id=uid, reason=reason)  # type: ignore[arg-type]
        await self.bus.publish(room.id, encode(frame).encode(), "user_left", exclude_user=uid)
        return True

    # -- presence liveness

    async def expire(self, now: float) -> None:
        """Drop the presence of clients silent for longer than the presence timeout."""
        self.budget.prune(now)
        deadline = now - self.config.presence_timeout
        for client in tuple(self.clients):
            if client.last_seen >= deadline:
                continue
            for sid in tuple(client.joined):
                if sid in client.stale:
                    continue
                room = self.rooms.get(sid)
                if room is None:
                    continue
                client.stale.add(sid)
                if await self.go_offline(room, client, "timeout"):
                    log.info("presence expired", extra={"user": client.user.id, "session": sid})

    def revive(self, client: Client) -> None:
        """A timed-out client sent a frame: live again (announced on the next loop turn)."""
        for sid in tuple(client.stale):
            client.stale.discard(sid)
            room = self.rooms.get(sid)
            if room is not None and sid in client.joined:
                self.spawn(self.go_live(room, client))

    def spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.ensure_future(coro)
        self.tasks.add(task)
        task.add_done_callback(self._finished)

    def _finished(self, task: asyncio.Task[None]) -> None:
        self.tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("background step failed", exc_info=task.exception())

    # -- what the bus delivers (relay.core.ports.BusListener; on_presence is set in Core)

    async def on_event(self, session_id: str, event: Event,
                       audience: frozenset[str] | None) -> None:
        room = self.rooms.get(session_id)
        if room is None:
            early = self.loading.get(session_id)
            if early is not None:
                early.append(event)
            return
        self.delivery.publish(session_id, encode(event).encode(), "event", only=audience)
        room.apply(event)
        if event.kind == "participant_removed" and event.participant is not None:
            uid = event.participant.user.id
            for c in tuple(room.clients.get(uid, ())):
                await self.leave(room, c, "removed")
                c.close(CloseCode.REMOVED, "removed from the session")
        elif event.kind == "session_ended":
            for clients in room.clients.values():
                for c in clients:
                    c.pending.pop(session_id, None)

    async def on_gap(self, session_id: str, after_seq: int) -> int:
        room = self.rooms.get(session_id)
        record = await self.store.get_session(session_id)
        last = record.last_seq if record is not None else after_seq
        if room is None or last <= after_seq:
            return last
        # Each local user's view (audience) of what came after, merged in seq order.
        seen: dict[int, tuple[Event, set[str]]] = {}
        for uid in tuple(room.clients):
            for event in await self.store.events_after(session_id, after_seq, uid, GAP_LIMIT):
                if event.seq <= last:
                    seen.setdefault(event.seq, (event, set()))[1].add(uid)
        for seq in sorted(seen):
            event, users = seen[seq]
            await self.on_event(session_id, event, frozenset(users))
        return last

    async def on_departed(self, session_id: str, user_id: str) -> None:
        frame = UserLeft(session_id=session_id, user_id=user_id, reason="disconnected")
        await self.bus.publish(session_id, encode(frame).encode(), "user_left",
                               exclude_user=user_id)
        try:
            await self.store.append_log(session_id, LogLine(
                kind="leave", actor=user_id, at=self.clock(), detail="relay gone"))
        except StoreError as exc:
            log.warning("leave not logged", extra={"session": session_id, "error": str(exc)})

    async def on_revived(self, session_id: str, user_id: str, fields: Fields) -> None:
        room = self.rooms.get(session_id)
        if room is not None and room.clients.get(user_id) and room.role_of(user_id):
            await self.announce_arrival(room, user_id, fields)

    def on_frame(self, session_id: str, data: bytes, kind: str,
                 exclude_user: str | None) -> None:
        self.delivery.publish(session_id, data, kind, exclude_user=exclude_user)

    async def on_mention(self, session_id: str, user_id: str, mention: Mention) -> None:
        room = self.rooms.get(session_id)
        clients = room.clients.get(user_id) if room is not None else None
        if not clients:
            return
        data = encode(MentionNotice(mention=mention)).encode()
        for c in tuple(clients):
            c.write(data, "mention")
        await self.store.mark_mentions_delivered(session_id, user_id, mention.seq)
