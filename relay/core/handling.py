"""What a message handler may use of the core: the CoreView protocol and the handler types.

The handler modules (sessions, durable, queries, ephemeral, projects) see the core only
through ``CoreView``; relay.core.service's ``Core`` implements it and imports them to
build its dispatch tables, so that no handler module imports the service.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, Protocol

from relay.config import Config
from relay.core.client import Client
from relay.core.ports import SessionBus, Store
from relay.core.records import Write
from relay.core.room import Room
from wire import Event


class CoreView(Protocol):
    """The part of Core (relay.core.service) that handlers use."""

    config: Config
    store: Store
    bus: SessionBus
    clock: Callable[[], float]

    async def room(self, session_id: str) -> Room | None:
        """The session's room, loaded (and subscribed to on the bus) if need be."""
        ...

    async def drop(self, room: Room) -> None:
        """Forget a room no local client is joined to."""
        ...

    async def attach(self, room: Room, client: Client) -> None:
        """Deliver the room to ``client`` on this process and tell the registry it is live."""
        ...

    async def leave(self, room: Room, client: Client, reason: str) -> None:
        """Detach ``client`` from ``room``; announce and log a user who went offline."""
        ...

    def joined(self, client: Client, session_id: str, action: str, msg: Any) -> Room:
        """The room of a session this connection joined, with the action permitted."""
        ...

    def check_text(self, text: str, msg: Any, limit: int | None = None) -> None:
        """Refuse a text longer than ``limit`` (default: the configured maximum)."""
        ...

    async def commit(self, write: Write, action: str, msg: Any) -> Event:
        """Store a write the relay makes and refresh the session's room here."""
        ...

    async def durable(self, client: Client, msg: Any, build: Build) -> None:
        """Dedupe, check, store, ack and broadcast a durable action built by ``build``."""
        ...


# A request's handler.
Handler = Callable[[CoreView, Client, Any], Awaitable[None]]
# A durable action's write, built from the room and the message (again after a conflict).
Build = Callable[[CoreView, Client, Room, Any], Awaitable[Write]]
# An ephemeral update's handler: synchronous, never stored.
Ephemeral = Callable[[CoreView, Client, Any], None]
