"""A lean WebSocket client for the load generator.

Hundreds of connections in one process receive around a hundred thousand peer
updates per second, so the per-frame cost on the client side decides whether
the generator or the relay is measured. This client is a plain socket with the
opening handshake written out (RFC 6455 section 4) and a minimal frame codec:
server frames are unmasked and never compressed (no extension is offered), so
reading one is a few byte operations and a slice. Client frames are masked
with a fresh random key, as the RFC requires, through the C helper of the
websockets package. There is no event loop object: the generator drives every
socket from one ``select.epoll`` (see cursor_load.py), which costs far less
per read than asyncio's transports.
"""

from __future__ import annotations

import base64
import errno
import hashlib
import os
import socket
import struct
import time
from collections.abc import Callable

try:
    from websockets.speedups import apply_mask  # type: ignore[attr-defined]
except ImportError:  # pragma: no cover - the pure-Python fallback of websockets
    from websockets.utils import apply_mask

_GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
_urandom = os.urandom
_pack_h = struct.Struct("!BBH").pack
_pack_q = struct.Struct("!BBQ").pack
_unpack_h = struct.Struct("!H").unpack_from
_unpack_q = struct.Struct("!Q").unpack_from

OP_CONT, OP_TEXT, OP_BINARY, OP_CLOSE, OP_PING, OP_PONG = 0x0, 0x1, 0x2, 0x8, 0x9, 0xA
RECV_SIZE = 64 * 1024  # 256 KiB buffers cost an mmap per read here


class WsError(Exception):
    """the relay refused the handshake or the connection broke."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


def encode_frame(payload: bytes, opcode: int = OP_TEXT) -> bytes:
    """One final, masked client frame."""
    n = len(payload)
    key = _urandom(4)
    if n < 126:
        head = bytes((0x80 | opcode, 0x80 | n))
    elif n < 65536:
        head = _pack_h(0x80 | opcode, 0x80 | 126, n)
    else:
        head = _pack_q(0x80 | opcode, 0x80 | 127, n)
    return head + key + apply_mask(payload, key)


class WsConn:
    """One client connection. ``on_message(payload, now)`` gets every text message.

    Blocking while set up (``open``, ``pump``), non-blocking under load, where
    the owner calls ``read(now)`` when epoll says the socket is readable and
    ``flush()`` when it is writable again.
    """

    def __init__(self, on_message: Callable[[bytes, float], None]) -> None:
        self.sock: socket.socket | None = None
        self.on_message = on_message
        self._buf = b""
        self._frag: list[bytes] = []
        self.out = b""  # bytes the kernel did not take yet (non-blocking mode)
        self.open = False
        self.close_code: int | None = None
        self.frames_in = 0
        self.want_write: Callable[[WsConn, bool], None] | None = None

    # -- opening -------------------------------------------------------------

    def connect(self, host: str, port: int, path: str, headers: dict[str, str],
                timeout: float = 30.0) -> None:
        sock = socket.create_connection((host, port), timeout=timeout)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.sock = sock
        key = base64.b64encode(_urandom(16))
        lines = [
            f"GET {path} HTTP/1.1",
            f"Host: {host}:{port}",
            "Upgrade: websocket",
            "Connection: Upgrade",
            f"Sec-WebSocket-Key: {key.decode()}",
            "Sec-WebSocket-Version: 13",
            "User-Agent: ensemble-cursor-load",
            *(f"{k}: {v}" for k, v in headers.items()),
        ]
        sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
        buf = b""
        while b"\r\n\r\n" not in buf:
            chunk = sock.recv(65536)
            if not chunk:
                raise WsError("connection closed during the handshake")
            buf += chunk
        head, _, rest = buf.partition(b"\r\n\r\n")
        status_line, _, fields = head.decode("latin-1").partition("\r\n")
        parts = status_line.split(" ", 2)
        status = int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else None
        got = {}
        for line in fields.split("\r\n"):
            k, _, v = line.partition(":")
            got[k.strip().lower()] = v.strip()
        want = base64.b64encode(hashlib.sha1(key + _GUID).digest()).decode()
        if status != 101:
            sock.close()
            raise WsError(f"handshake refused: {status_line}", status)
        if got.get("sec-websocket-accept") != want:
            sock.close()
            raise WsError("handshake answer has a wrong Sec-WebSocket-Accept")
        if got.get("sec-websocket-extensions"):
            sock.close()
            raise WsError("relay accepted an extension that was not offered")
        self.open = True
        self._buf = rest

    def pump(self, until: Callable[[], bool], timeout: float = 30.0) -> None:
        """Blocking: read and dispatch frames until ``until()`` holds."""
        assert self.sock is not None
        deadline = time.monotonic() + timeout
        if self._buf:
            data, self._buf = self._buf, b""
            self.feed(data, time.time())
        while not until():
            left = deadline - time.monotonic()
            if left <= 0:
                raise WsError("timed out waiting for the relay")
            self.sock.settimeout(left)
            try:
                data = self.sock.recv(RECV_SIZE)
            except TimeoutError:
                continue
            if not data:
                self.open = False
                raise WsError(f"relay closed the connection (code {self.close_code})")
            self.feed(data, time.time())

    def set_nonblocking(self) -> None:
        assert self.sock is not None
        self.sock.setblocking(False)

    # -- frames --------------------------------------------------------------

    def read(self, now: float) -> bool:
        """Non-blocking read after epoll said readable; False when the peer closed."""
        try:
            data = self.sock.recv(RECV_SIZE)  # type: ignore[union-attr]
        except (BlockingIOError, InterruptedError):
            return True
        except OSError:
            self.open = False
            return False
        if not data:
            self.open = False
            return False
        self.feed(data, now)
        return True

    def feed(self, data: bytes, now: float) -> None:
        buf = self._buf + data if self._buf else data
        end = len(buf)
        pos = 0
        on_message = self.on_message
        frames = 0
        while end - pos >= 2:
            b0 = buf[pos]
            n = buf[pos + 1] & 0x7F
            if n < 126:
                start = pos + 2
            elif n == 126:
                if end - pos < 4:
                    break
                n = _unpack_h(buf, pos + 2)[0]
                start = pos + 4
            else:
                if end - pos < 10:
                    break
                n = _unpack_q(buf, pos + 2)[0]
                start = pos + 10
            stop = start + n
            if stop > end:
                break
            frames += 1
            if b0 == 0x81:  # a final text frame: the common case
                on_message(buf[start:stop], now)
            else:
                self._control(b0, buf[start:stop], now)
            pos = stop
        self.frames_in += frames
        self._buf = buf[pos:] if pos < end else b""

    def _control(self, b0: int, payload: bytes, now: float) -> None:
        opcode = b0 & 0x0F
        if opcode == OP_PING:
            self.send_frame(encode_frame(payload, OP_PONG))
        elif opcode == OP_CLOSE:
            self.close_code = _unpack_h(payload)[0] if len(payload) >= 2 else 1005
            if self.open:
                self.open = False
                self.send_frame(encode_frame(payload[:2], OP_CLOSE))
        elif opcode in (OP_TEXT, OP_BINARY, OP_CONT):
            self._frag.append(payload)
            if b0 & 0x80:
                whole = b"".join(self._frag)
                self._frag.clear()
                self.on_message(whole, now)

    # -- sending -------------------------------------------------------------

    def send_text(self, payload: bytes) -> None:
        """Send one text message (UTF-8 JSON)."""
        self.send_frame(encode_frame(payload))

    def send_frame(self, frame: bytes) -> None:
        sock = self.sock
        if sock is None:
            return
        if self.out:
            self.out += frame
            return
        try:
            n = sock.send(frame)
        except (BlockingIOError, InterruptedError):
            n = 0
        except OSError:
            self.open = False
            return
        if n < len(frame):
            self.out = frame[n:]
            if self.want_write is not None:
                self.want_write(self, True)
            elif sock.gettimeout() != 0.0:  # blocking mode: finish now
                sock.sendall(self.out)
                self.out = b""

    def flush(self) -> None:
        """Write what is left after epoll said writable."""
        if not self.out or self.sock is None:
            return
        try:
            n = self.sock.send(self.out)
        except (BlockingIOError, InterruptedError):
            return
        except OSError as exc:
            if exc.errno != errno.EAGAIN:
                self.open = False
            return
        self.out = self.out[n:]
        if not self.out and self.want_write is not None:
            self.want_write(self, False)

    def close(self, code: int = 1000) -> None:
        if self.sock is None:
            return
        if self.open:
            self.open = False
            try:
                self.sock.setblocking(True)
                self.sock.settimeout(1.0)
                if self.out:
                    self.sock.sendall(self.out)
                self.sock.sendall(encode_frame(struct.pack("!H", code), OP_CLOSE))
            except OSError:
                pass
        self.sock.close()
        self.sock = None
