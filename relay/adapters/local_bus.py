"""The in-process SessionBus: one relay process, its registry in memory.

Everything published goes straight to the listener (the core), which delivers to its
own clients (relay.core.delivery). The registry keeps, per session, the live
connections of each online user and their latest presence fields.
"""

from __future__ import annotations

from collections.abc import Callable

from relay.core.ports import BusListener, Fields, SessionBus
from wire import Event, Mention

PresenceSink = Callable[[str, str, Fields], None]
_NOBODY: dict[str, Fields] = {}  # never changed


class LocalBus(SessionBus):
    def __init__(self) -> None:
        self._listeners: list[BusListener] = []
        self._sink: PresenceSink = _nowhere
        self._online: dict[str, dict[str, set[int]]] = {}  # session -> user -> conns
        self._presence: dict[str, dict[str, Fields]] = {}  # session -> user -> fields

    def listen(self, listener: BusListener) -> None:
        self._listeners.append(listener)
        sinks = [lst.on_presence for lst in self._listeners]
        if len(sinks) == 1:
            self._sink = sinks[0]
        else:  # each listener keeps (and may change) the fields it is given: a copy each

            def fan(session_id: str, user_id: str, fields: Fields) -> None:
                sinks[0](session_id, user_id, fields)
                for sink in sinks[1:]:
                    sink(session_id, user_id, dict(fields))

            self._sink = fan

    async def open(self) -> None:
        """Nothing to connect to."""

    async def close(self) -> None:
        """Nothing to disconnect."""

    async def subscribe(self, session_id: str) -> None:
        """Nothing to do: every session's traffic reaches the one listener."""

    async def unsubscribe(self, session_id: str) -> None:
        """Nothing to do."""

    def position(self, session_id: str, seq: int) -> None:
        """Nothing to do: this bus loses nothing, so there are no gaps to find."""

    # -- fan-out

    async def publish_event(self, session_id: str, event: Event,
                            audience: frozenset[str] | None) -> None:
        for listener in self._listeners:
            await listener.on_event(session_id, event, audience)

    async def publish(self, session_id: str, data: bytes, kind: str, *,
                      exclude_user: str | None = None) -> None:
        for listener in self._listeners:
            listener.on_frame(session_id, data, kind, exclude_user)

    def publish_presence(self, session_id: str, user_id: str, fields: Fields) -> None:
        state = self._presence.get(session_id, _NOBODY).get(user_id)
        if state is not None:
            state.update(fields)
        self._sink(session_id, user_id, fields)

    async def send_mention(self, session_id: str, user_id: str, mention: Mention) -> None:
        for listener in self._listeners:
            await listener.on_mention(session_id, user_id, mention)

    # -- registry

    async def arrive(self, session_id: str, user_id: str, conn: int, fields: Fields) -> bool:
        users = self._online.setdefault(session_id, {})
        conns = users.get(user_id)
        if conns:
            conns.add(conn)
            return False
        users[user_id] = {conn}
        self._presence.setdefault(session_id, {})[user_id] = dict(fields)
        return True

    async def depart(self, session_id: str, user_id: str, conn: int) -> bool:
        users = self._online.get(session_id)
        conns = users.get(user_id) if users is not None else None
        if users is None or conns is None or conn not in conns:
            return False
        conns.discard(conn)
        if conns:
            return False
        del users[user_id]
        presence = self._presence.get(session_id)
        if presence is not None:
            presence.pop(user_id, None)
            if not presence:
                del self._presence[session_id]
        if not users:
            del self._online[session_id]
        return True

    async def online(self, session_id: str) -> set[str]:
        return set(self._online.get(session_id, ()))

    async def presence(self, session_id: str) -> dict[str, Fields]:
        return {uid: dict(f) for uid, f in self._presence.get(session_id, {}).items()}


def _nowhere(session_id: str, user_id: str, fields: Fields) -> None:
    """Presence before any listener: nobody to deliver to."""
