"""The sans-I/O core without sockets: in-memory transports, a real SQLite store in memory.

``Wire`` records what a client is sent; ``Harness`` connects named users to one Core;
``session`` makes a session with guests; ``cursor`` is a cursor frame. The fixture ``h``
(tests/relay/conftest.py) gives each test a fresh harness.
"""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from relay.adapters.local_bus import LocalBus
from relay.adapters.sqlite_store import SqliteStore
from relay.config import Config
from relay.core.client import Client
from relay.core.records import UserRecord
from relay.core.service import Core
from relay.metrics import Metrics
from wire import UserRef, decode_client


class Wire:
    """A transport that records frames; ``busy`` simulates a full socket buffer."""

    def __init__(self) -> None:
        self.frames: list[dict[str, Any]] = []
        self.is_busy = False
        self.pending_bytes = 0
        self.closed: tuple[int, str] | None = None
        self.written_at: dict[str, float] = {}  # when a frame of each type was last written

    def write(self, data: bytes) -> None:
        frame = json.loads(data)
        self.frames.append(frame)
        self.written_at[frame["type"]] = time.monotonic()

    def write_now(self, data: bytes) -> bool:
        if self.is_busy or self.pending_bytes:
            return False
        self.write(data)
        return True

    def busy(self) -> bool:
        return self.is_busy

    def buffered(self) -> int:
        return self.pending_bytes

    def close(self, code: int, reason: str) -> None:
        self.closed = (code, reason)

    def of(self, kind: str) -> list[dict[str, Any]]:
        return [f for f in self.frames if f["type"] == kind]

    def take(self, kind: str) -> list[dict[str, Any]]:
        found = self.of(kind)
        self.frames = [f for f in self.frames if f["type"] != kind]
        return found


class Harness:
    def __init__(self, core: Core) -> None:
        self.core = core
        self.wires: dict[str, Wire] = {}
        self.clients: dict[str, Client] = {}
        self.n = 0

    async def client(self, name: str) -> Client:
        if await self.core.store.get_user(name) is None:
            await self.core.store.create_user(UserRecord(id=name, name=name.title(),
                                                         pw_hash="x", created_at=0.0))
        self.n += 1
        wire = Wire()
        c = self.core.connect(self.n, UserRef(id=name, name=name.title()), wire)
        self.wires[name] = wire
        self.clients[name] = c
        return c

    async def send(self, name: str, frame: dict[str, Any]) -> None:
        msg = decode_client(json.dumps(frame))
        c = self.clients[name]
        await self.core.handle(c, msg)

    def wire(self, name: str) -> Wire:
        return self.wires[name]


async def harness(tmp_path: Path) -> AsyncIterator[Harness]:
    """A Core on an in-memory SQLite store and the local bus, its clock fixed at 1000."""
    cfg = Config(data_dir=tmp_path, jwt_secret="s" * 32, presence_timeout=5.0)
    store = SqliteStore(":memory:")
    await store.open()
    metrics = Metrics()
    clock = [1000.0]
    core = Core(cfg, store, LocalBus(), metrics, clock=lambda: clock[0])
    yield Harness(core)
    await store.close()


async def session(h: Harness, *guests: tuple[str, str]) -> str:
    await h.client("ann")
    await h.send("ann", {"type": "session_create", "name": "s", "repo": {"remote": "r/x"},
                         "rid": "c"})
    sid: str = h.wire("ann").take("session_state")[0]["session"]["session_id"]
    for name, role in guests:
        await h.send("ann", {"type": "invite_create", "session_id": sid, "role": role,
                             "rid": "i"})
        token = h.wire("ann").take("invite_result")[0]["invite"]["token"]
        await h.client(name)
        await h.send(name, {"type": "session_join", "invite": token, "rid": "j"})
        assert h.wire(name).take("session_state")
    return sid


def cursor(sid: str, line: int) -> dict[str, Any]:
    pos = {"line": line, "character": 0}
    return {"type": "cursor", "session_id": sid, "path": "a.py",
            "selections": [{"anchor": pos, "active": pos}]}
