"""Connection-level pieces of the relay: the websockets connection subclass with the
inbound framing fast path, and the transport that writes framed messages to it."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING

from websockets.asyncio.server import ServerConnection
from websockets.frames import Frame, Opcode
from websockets.protocol import Event, Protocol, State
from websockets.streams import StreamReader

from relay.core.client import Client
from wire import UserRef

if TYPE_CHECKING:
    from relay.ws.server import RelayServer

try:
    from websockets.speedups import apply_mask
except ImportError:  # pragma: no cover - websockets built without its C extension
    from websockets.utils import apply_mask

log = logging.getLogger("relay.server")

WRITE_LIMIT = 64 * 1024  # socket buffer above which a receiver counts as busy
CLOSE_GRACE = 2.0  # seconds a connection the relay closes has to finish the close handshake


class RelayConnection(ServerConnection):
    """A websockets connection that tells the core when its write buffer drained.

    While the session loop waits in recv() with no frame queued, a text frame is
    first offered to ``on_text``, which handles a cursor update on the spot (no
    frame queue, no task switch) or declines it. Frames arriving while anything is
    queued or being handled take the queue, so the order of handling never changes.
    """

    client: Client | None = None
    user: UserRef | None = None
    on_text: Callable[[str], bool] | None = None
    presence_form = 1  # presence encoding agreed at hello
    failing: asyncio.Task[None] | None = None
    on_lost: Callable[[], None] | None = None  # runs once when the TCP connection is gone

    def connection_lost(self, exc: Exception | None) -> None:
        super().connection_lost(exc)
        on_lost, self.on_lost = self.on_lost, None
        if on_lost is not None:
            on_lost()

    def data_received(self, data: bytes) -> None:
        """Handle complete small text frames here; the rest goes to websockets unchanged.

        Only while websockets' parser sits between frames with nothing buffered, and
        only frames it would turn into a final text frame the same way: FIN set, no
        RSV bits, opcode 1, masked, a length under 64 KiB and within max_size, valid
        UTF-8, all of it in this read. The first frame that is anything else (or that
        on_text declines) and every byte after it go to websockets, so its state
        machine, errors and close codes stay its own.
        """
        on_text = self.on_text
        if on_text is not None and self._between_frames() and self._recv_idle():
            done = self._fast_frames(data, on_text)
            if done:
                if done == len(data):
                    return
                data = data[done:]
        super().data_received(data)

    def _between_frames(self) -> bool:
        protocol = self.protocol
        if (protocol.state is not State.OPEN or protocol.current_size is not None
                or protocol.parser_exc is not None or protocol.reader.buffer):
            return False
        # The parser generator (the server's handshake parser delegating to
        # Protocol.parse) must be suspended in Protocol.parse's at_eof() wait at the
        # top of its frame loop: then no byte of a frame has been consumed.
        outer, inner = None, protocol.parser
        while (nested := getattr(inner, "gi_yieldfrom", None)) is not None:
            outer, inner = inner, nested
        return (getattr(inner, "gi_code", None) is _AT_EOF
                and getattr(outer, "gi_code", None) is _PARSE)

    def _fast_frames(self, data: bytes, on_text: Callable[[str], bool]) -> int:
        """Handle the leading frames of ``data`` that qualify; return the bytes used."""
        protocol = self.protocol
        limit, fragment = protocol.max_message_size, protocol.max_fragment_size
        if fragment is not None and (limit is None or fragment < limit):
            limit = fragment
        end = len(data)
        i = 0
        while i + 6 <= end:
            if data[i] != 0x81:
                break
            length = data[i + 1]
            if length < 0x80 + 126:
                if length < 0x80:
                    break  # unmasked: websockets fails the connection
                start = i + 6
                length -= 0x80
            elif length == 0x80 + 126:
                start = i + 8
                if start > end:
                    break
                length = (data[i + 2] << 8) | data[i + 3]
            else:
                break  # 64-bit length or unmasked
            stop = start + length
            if stop > end or (limit is not None and length > limit):
                break
            try:
                text = str(apply_mask(data[start:stop], data[start - 4:start]), "utf-8")
            except UnicodeDecodeError:
                break  # websockets closes with 1007
            try:
                if not on_text(text):
                    break
            except Exception:  # a bug: close as a failing handler would (1011)
                log.exception("cursor handling failed")
                self.failing = self.loop.create_task(self.close(1011, "internal error"))
            i = stop
        return i

    def process_event(self, event: Event) -> None:
        on_text = self.on_text
        if (on_text is not None and type(event) is Frame and event.opcode is Opcode.TEXT
                and event.fin and self._recv_idle()):
            try:
                text = str(event.data, "utf-8")
            except UnicodeDecodeError:
                pass  # the queue path fails the connection with 1007, as always
            else:
                try:
                    if on_text(text):
                        return
                except Exception:  # a bug: close as a failing handler would (1011)
                    log.exception("cursor handling failed")
                    self.failing = self.loop.create_task(self.close(1011, "internal error"))
                    return
        super().process_event(event)

    def _recv_idle(self) -> bool:
        """True while the handler waits for a new message and nothing is queued."""
        assembler = self.recv_messages
        frames = getattr(assembler, "frames", None)
        waiter = getattr(frames, "get_waiter", None)
        return (waiter is not None and not waiter.done() and not frames.queue  # type: ignore[union-attr]
                and not assembler.closed)

    def resume_writing(self) -> None:
        super().resume_writing()
        client = self.client
        if client is not None and client.pending:
            client.flush_presence()


_AT_EOF = StreamReader.at_eof.__code__
_PARSE = Protocol.parse.__code__

_last_payload: bytes = b""
_last_frame: bytes = b"\x81\x00"


def _frame(data: bytes) -> bytes:
    """An unmasked final text frame; the last one is reused for the same payload object.

    Server frames are never masked and the relay negotiates no extension, so the
    frame bytes depend only on the payload: a presence batch written to every
    receiver of a session is framed once, not once per receiver. Writing the frame
    straight to the transport is what protocol.send_text + send_data did.
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


class WsTransport:
    __slots__ = ("conn", "server")

    def __init__(self, conn: RelayConnection, server: RelayServer) -> None:
        self.conn = conn
        self.server = server

    def write(self, data: bytes) -> None:
        conn = self.conn
        if conn.protocol.state is not State.OPEN:
            return
        try:
            conn.transport.write(_frame(data))
        except Exception as exc:  # the socket died under us; its handler cleans up
            log.debug("write failed", extra={"error": str(exc)})

    def write_now(self, data: bytes) -> bool:
        conn = self.conn
        transport = conn.transport
        if transport.get_write_buffer_size() or conn.protocol.state is not State.OPEN:
            return False
        try:
            transport.write(_frame(data))
        except Exception as exc:  # the socket died under us; its handler cleans up
            log.debug("write failed", extra={"error": str(exc)})
        return True

    def busy(self) -> bool:
        return self.conn.paused

    def buffered(self) -> int:
        transport = getattr(self.conn, "transport", None)
        return transport.get_write_buffer_size() if transport is not None else 0

    def close(self, code: int, reason: str) -> None:
        self.server.metrics.closes[code] += 1
        conn = self.conn
        self.server.spawn(conn.close(code, reason))
        # A receiver that does not read never takes the close frame queued behind its
        # buffer: drop the connection (and the buffer) after a short grace.
        conn.loop.call_later(CLOSE_GRACE, _abort, conn)


def _abort(conn: RelayConnection) -> None:
    if conn.protocol.state is not State.CLOSED:
        conn.transport.abort()
