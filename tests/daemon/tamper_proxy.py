"""A WebSocket proxy in front of the real relay that can rewrite what the relay sends.

The daemon talks to the real relay through it; a test sets ``rewrite`` to change
frames on their way down (a thread whose path holds a NUL byte, a presence entry
with a cursor at line -5, an item of the wrong type), as a compromised or buggy
relay would send them. Frames going up pass unchanged.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Callable
from typing import Any

from websockets.asyncio.client import connect
from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.exceptions import ConnectionClosed

Rewrite = Callable[[dict[str, Any]], dict[str, Any]]


class TamperProxy:
    def __init__(self, upstream: str) -> None:
        self.upstream = upstream.rstrip("/")
        self.rewrite: Rewrite | None = None
        self.server: Server | None = None

    async def start(self) -> TamperProxy:
        self.server = await serve(self._handle, "127.0.0.1", 0, max_size=None, compression=None)
        return self

    @property
    def url(self) -> str:
        assert self.server is not None
        port = next(iter(self.server.sockets)).getsockname()[1]
        return f"ws://127.0.0.1:{port}"

    async def close(self) -> None:
        if self.server is not None:
            self.server.close()
            await self.server.wait_closed()

    def _tamper(self, raw: str | bytes) -> str | bytes:
        if self.rewrite is None:
            return raw
        frame = json.loads(raw)
        return json.dumps(self.rewrite(frame), ensure_ascii=False)

    async def _handle(self, ws: ServerConnection) -> None:
        assert ws.request is not None
        headers = {k: v for k, v in ws.request.headers.items() if k.lower() == "authorization"}
        async with connect(self.upstream + ws.request.path, additional_headers=headers,
                           max_size=None, compression=None) as up:
            async def down() -> None:
                async for raw in up:
                    await ws.send(self._tamper(raw))

            async def upward() -> None:
                async for raw in ws:
                    await up.send(raw)

            tasks = [asyncio.ensure_future(down()), asyncio.ensure_future(upward())]
            await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
            for t in tasks:
                t.cancel()
                with contextlib.suppress(asyncio.CancelledError, ConnectionClosed):
                    await t
