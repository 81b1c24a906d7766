"""The relay's websockets connection (the inbound cursor fast path) and the transport that
writes framed messages to it.

Built on websockets' public API. What it relies on:

- ``ServerConnection.data_received`` feeds every read to the Sans-I/O parser
  (``Protocol.receive_data``) and hands each event of ``Protocol.events_received()``, in
  order, to ``process_event``, the hook ServerConnection itself overrides for the
  handshake. ``RelayConnection.process_event`` keeps its contract: every event it does not
  consume goes on to ``super().process_event`` in the order received.
- Every complete data message handed on that way comes back from ``recv()``, in order,
  once (one per final data frame).
- ``pause_writing`` / ``resume_writing`` and ``connection_made`` / ``connection_lost`` are
  the asyncio.Protocol callbacks: overridden here, always calling websockets' own.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable, Coroutine
from typing import Any, cast

from websockets.asyncio.server import ServerConnection
from websockets.exceptions import ConnectionClosedOK
from websockets.frames import Frame, Opcode
from websockets.protocol import Event, State

from relay.core.client import Client
from relay.metrics import Metrics
from wire import UserRef

log = logging.getLogger("relay.server")

WRITE_LIMIT = 64 * 1024  # socket buffer above which a receiver counts as busy
CLOSE_GRACE = 2.0  # seconds a connection the relay closes has to finish the close handshake

_TEXT, _BINARY, _CONT = Opcode.TEXT, Opcode.BINARY, Opcode.CONT
_OPEN, _CLOSED = State.OPEN, State.CLOSED


class RelayConnection(ServerConnection):
    """A websockets connection with an inbound fast path for the session loop.

    While the reader waits in ``next_message`` and every message handed to websockets
    has been read and handled, a final text frame is first offered to ``on_text``,
    which handles a cursor update on the spot (no frame queue, no task switch) or
    declines it. Frames arriving while anything is queued or being handled take the
    queue, so the order of handling never changes. websockets parses every frame
    (its checks, errors and close codes stay its own): the fast path only sees the
    frames it produced.
    """

    client: Client | None = None
    user: UserRef | None = None
    on_text: Callable[[str], bool] | None = None
    presence_form = 1  # presence encoding agreed at hello
    failing: asyncio.Task[None] | None = None
    on_lost: Callable[[], None] | None = None  # runs once when the TCP connection is gone
    sock: asyncio.Transport | None = None  # the asyncio transport (connection_made)
    send_paused = False  # asyncio paused writing: the socket buffer is above WRITE_LIMIT
    unread = 0  # complete messages handed to websockets that recv() has not returned
    handling = False  # the reader took a message and has not asked for the next one

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        self.sock = cast(asyncio.Transport, transport)

    def connection_lost(self, exc: Exception | None) -> None:
        super().connection_lost(exc)
        on_lost, self.on_lost = self.on_lost, None
        if on_lost is not None:
            on_lost()

    def process_event(self, event: Event) -> None:
        if type(event) is Frame and event.fin:
            opcode = event.opcode
            if opcode is _TEXT:
                on_text = self.on_text
                if on_text is not None and not self.unread and not self.handling:
                    try:
                        text = str(event.data, "utf-8")
                    except UnicodeDecodeError:
                        pass  # recv() fails the connection with 1007, as always
                    else:
                        try:
                            if on_text(text):
                                return
                        except Exception:  # a bug: close as a failing handler would (1011)
                            log.exception("cursor handling failed")
                            self.failing = asyncio.get_running_loop().create_task(
                                self.close(1011, "internal error"))
                            return
                self.unread += 1
            elif opcode is _BINARY or opcode is _CONT:
                self.unread += 1
        super().process_event(event)

    async def next_message(self) -> str | bytes:
        """recv(), after marking the message before as handled (the fast path's gate)."""
        self.handling = False
        message = await self.recv()
        self.unread -= 1
        self.handling = True
        return message

    async def messages(self) -> AsyncIterator[str | bytes]:
        """``async for`` over next_message(); ends quietly on a normal close."""
        try:
            while True:
                yield await self.next_message()
        except ConnectionClosedOK:
            return

    def pause_writing(self) -> None:
        super().pause_writing()
        self.send_paused = True

    def resume_writing(self) -> None:
        super().resume_writing()
        self.send_paused = False
        client = self.client
        if client is not None and client.pending:
            client.flush_presence()

    def write_frame(self, data: bytes) -> None:
        """Write ``data`` as one text frame straight to the socket while the connection is
        open. websockets writes its own frames (pongs, close) whole too, so frames never
        interleave; the relay sends no fragmented message."""
        sock = self.sock
        if sock is None or self.protocol.state is not _OPEN:
            return
        try:
            sock.write(_frame(data))
        except Exception as exc:  # the socket died under us; its handler cleans up
            log.debug("write failed", extra={"error": str(exc)})


_last_payload: bytes = b""
_last_frame: bytes = b"\x81\x00"


def _frame(data: bytes) -> bytes:
    """An unmasked final text frame; the last one is reused for the same payload object.

    Server frames are never masked and the relay negotiates no extension, so the
    frame bytes depend only on the payload: a presence batch written to every
    receiver of a session is framed once, not once per receiver.
    """
    global _last_payload, _last_frame
    if data is _last_payload:
        return _last_frame
    n = len(data)
    if n < 126:
        head = bytes((0x81, n))
    elif n < 65536:
        head = b"\x81\x7e" + n.to_bytes(2, "big")
    else:
        head = b"\x81\x7f" + n.to_bytes(8, "big")
    _last_payload, _last_frame = data, head + data
    return _last_frame


Spawn = Callable[[Coroutine[Any, Any, Any]], None]


class WsTransport:
    """The core's Transport over a RelayConnection. ``spawn`` runs a coroutine in the
    background (the server keeps and cancels its tasks); ``metrics`` counts closes."""

    __slots__ = ("conn", "metrics", "protocol", "sock", "spawn")

    def __init__(self, conn: RelayConnection, metrics: Metrics, spawn: Spawn) -> None:
        assert conn.sock is not None  # connection_made runs before the handler starts
        self.conn = conn
        self.sock = conn.sock
        self.protocol = conn.protocol
        self.metrics = metrics
        self.spawn = spawn

    def write(self, data: bytes) -> None:
        self.conn.write_frame(data)

    def write_now(self, data: bytes) -> bool:
        sock = self.sock
        if sock.get_write_buffer_size() or self.protocol.state is not _OPEN:
            return False
        try:  # the frame of the payload written last is most often this one: no call then
            sock.write(_last_frame if data is _last_payload else _frame(data))
        except Exception as exc:  # the socket died under us; its handler cleans up
            log.debug("write failed", extra={"error": str(exc)})
        return True

    def busy(self) -> bool:
        return self.conn.send_paused

    def buffered(self) -> int:
        return self.sock.get_write_buffer_size()

    def close(self, code: int, reason: str) -> None:
        self.metrics.closes[code] += 1
        conn = self.conn
        self.spawn(conn.close(code, reason))
        # A receiver that does not read never takes the close frame queued behind its
        # buffer: drop the connection (and the buffer) after a short grace.
        asyncio.get_running_loop().call_later(CLOSE_GRACE, _abort, conn)


def _abort(conn: RelayConnection) -> None:
    if conn.protocol.state is not _CLOSED and conn.sock is not None:
        conn.sock.abort()
