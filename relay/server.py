"""The asyncio WebSocket server: a thin layer between websockets and the core."""

from __future__ import annotations

import asyncio
import http
import json
import logging
import time
from collections.abc import Callable
from typing import Any

from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.datastructures import Headers
from websockets.exceptions import ConnectionClosed
from websockets.frames import Frame, Opcode
from websockets.http11 import Request, Response
from websockets.protocol import Event, Protocol, State
from websockets.streams import StreamReader

from relay import __version__, fastpath
from relay.accounts import Accounts
from relay.auth import Auth
from relay.config import Config
from relay.core.client import Client
from relay.core.service import Core
from relay.errors import AuthError
from relay.fanout import LocalFanout
from relay.metrics import Metrics
from relay.protocol import (
    AUTH_PATH,
    EPHEMERAL_TYPES,
    PROTOCOL_VERSION,
    SESSION_PATH,
    SUPPORTED_VERSIONS,
    CloseCode,
    Error,
    ErrorCode,
    Hello,
    Message,
    ProtocolError,
    Reconnect,
    SignIn,
    SignUp,
    UserRef,
    Welcome,
    decode_client,
    encode,
)
from relay.store.sqlite import SqliteStore

try:
    from websockets.speedups import apply_mask
except ImportError:  # pragma: no cover - websockets built without its C extension
    from websockets.utils import apply_mask

log = logging.getLogger("relay.server")

WRITE_LIMIT = 64 * 1024  # socket buffer above which a receiver counts as busy


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
    failing: asyncio.Task[None] | None = None

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

    def busy(self) -> bool:
        return self.conn.paused

    def buffered(self) -> int:
        transport = getattr(self.conn, "transport", None)
        return transport.get_write_buffer_size() if transport is not None else 0

    def close(self, code: int, reason: str) -> None:
        self.server.metrics.closes[code] += 1
        self.server.spawn(self.conn.close(code, reason))


class RelayServer:
    def __init__(self, config: Config) -> None:
        self.config = config
        self.metrics = Metrics()
        self.store = SqliteStore(config.data_dir / "relay.sqlite3", config.sqlite_synchronous)
        self.fanout = LocalFanout(self.metrics)
        self.core = Core(config, self.store, self.fanout, self.metrics)
        self.auth = Auth(config.jwt_secret, config.token_ttl, config.bcrypt_rounds)
        self.accounts = Accounts(self.store, self.auth)
        self.server: Server | None = None
        self.tasks: set[asyncio.Task[Any]] = set()
        self.next_conn = 0
        self.started = time.time()
        self.sessions_open = 0
        self.metrics.gauges.update({
            "connections": lambda: float(len(self.server.connections) if self.server else 0),
            "session_clients": lambda: float(len(self.core.clients)),
            "sessions_live": lambda: float(len(self.core.rooms)),
            "sessions_open": lambda: float(self.sessions_open),
            "users_online": lambda: float(sum(len(r.live) for r in self.core.rooms.values())),
        })

    def spawn(self, coro: Any) -> None:
        task = asyncio.ensure_future(coro)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    @property
    def port(self) -> int:
        assert self.server is not None
        return int(self.server.sockets[0].getsockname()[1])

    async def start(self) -> None:
        await self.store.open()
        self.server = await serve(
            self.handler,
            self.config.host,
            self.config.port,
            process_request=self.process_request,
            compression=None,
            max_size=self.config.max_frame_bytes,
            max_queue=64,
            write_limit=WRITE_LIMIT,
            create_connection=RelayConnection,
            server_header=f"ensemble-relay/{__version__}",
        )
        self.spawn(self.ticker())

    async def ticker(self) -> None:
        period = max(0.05, min(1.0, self.config.presence_timeout / 4))
        next_count = 0.0
        while True:
            try:
                now = time.monotonic()
                self.core.expire(now)
                if now >= next_count:
                    self.sessions_open = await self.store.session_count()
                    next_count = now + 5.0
            except Exception:
                log.exception("periodic task failed")
            await asyncio.sleep(period)

    # -- HTTP side of the handshake

    async def process_request(self, conn: ServerConnection, request: Request) -> Response | None:
        path = request.path.split("?", 1)[0]
        if path == "/healthz":
            body = json.dumps({"status": "ok", "version": __version__,
                               "protocol": PROTOCOL_VERSION,
                               "uptime": round(time.time() - self.started, 1)})
            return _response(http.HTTPStatus.OK, body, "application/json")
        if path == "/metrics":
            return _response(http.HTTPStatus.OK, self.metrics.render(),
                             "text/plain; version=0.0.4; charset=utf-8")
        if path == AUTH_PATH:
            return None
        if path != SESSION_PATH:
            return _response(http.HTTPStatus.NOT_FOUND, "not found\n", "text/plain")
        header = request.headers.get("Authorization", "")
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            return _unauthorized("missing bearer token")
        try:
            uid = self.auth.verify(token.strip())
        except AuthError as exc:
            return _unauthorized(str(exc), exc.code)
        user = await self.store.get_user(uid)
        if user is None:
            return _unauthorized("unknown user")
        assert isinstance(conn, RelayConnection)
        conn.user = UserRef(id=user.id, name=user.name)
        return None

    # -- WebSocket side

    async def handler(self, conn: ServerConnection) -> None:
        assert isinstance(conn, RelayConnection)
        self.next_conn += 1
        conn_id = self.next_conn
        self.metrics.connections_total += 1
        path = conn.request.path.split("?", 1)[0] if conn.request else ""
        user = conn.user
        log.info("connection opened", extra={"conn": conn_id, "path": path,
                                             "user": user.id if user else "-"})
        try:
            if not await self.hello(conn, user):
                return
            if path == AUTH_PATH:
                await self.auth_loop(conn)
            elif user is not None:
                await self.session_loop(conn, conn_id, user)
        except ConnectionClosed:
            pass
        finally:
            log.info("connection closed", extra={"conn": conn_id, "code": conn.close_code})

    async def _refuse_and_close(self, conn: ServerConnection, code: str, text: str,
                                close_code: int, rid: str | None = None) -> None:
        self.metrics.errors[code] += 1
        self.metrics.closes[close_code] += 1
        await conn.send(encode(Error(code=code, message=text, rid=rid)))
        await conn.close(close_code, text[:100])

    async def hello(self, conn: ServerConnection, user: UserRef | None) -> bool:
        try:
            raw = await asyncio.wait_for(conn.recv(), self.config.hello_timeout)
        except TimeoutError:
            await self._refuse_and_close(conn, ErrorCode.HELLO_REQUIRED, "no hello received",
                                         CloseCode.HELLO_REQUIRED)
            return False
        try:
            msg = decode_client(raw)
        except ProtocolError as exc:
            await self._refuse_and_close(conn, ErrorCode.HELLO_REQUIRED,
                                         f"first frame must be hello ({exc.message})",
                                         CloseCode.HELLO_REQUIRED, exc.rid)
            return False
        if not isinstance(msg, Hello):
            await self._refuse_and_close(conn, ErrorCode.HELLO_REQUIRED,
                                         "first frame must be hello", CloseCode.HELLO_REQUIRED,
                                         getattr(msg, "rid", None))
            return False
        self.metrics.messages_in["hello"] += 1
        if msg.protocol not in SUPPORTED_VERSIONS:
            versions = ", ".join(str(v) for v in sorted(SUPPORTED_VERSIONS))
            await self._refuse_and_close(
                conn, ErrorCode.UNSUPPORTED_VERSION,
                f"protocol {msg.protocol} is not supported (supported: {versions})",
                CloseCode.UNSUPPORTED_VERSION, msg.rid)
            return False
        await conn.send(encode(Welcome(protocol=PROTOCOL_VERSION,
                                       server=f"ensemble-relay/{__version__}",
                                       limits=self.core.limits(), user=user, rid=msg.rid)))
        self.metrics.messages_out["welcome"] += 1
        return True

    async def auth_loop(self, conn: ServerConnection) -> None:
        tokens, last = 5.0, time.monotonic()
        async for raw in conn:
            now = time.monotonic()
            tokens = min(5.0, tokens + (now - last))
            last = now
            try:
                msg = decode_client(raw)
                self.metrics.messages_in[msg.TYPE] += 1
                if tokens < 1.0:
                    raise ProtocolError(ErrorCode.RATE_LIMITED, "too many attempts",
                                        rid=getattr(msg, "rid", None))
                tokens -= 1.0
                reply: Message
                if isinstance(msg, SignUp):
                    reply = await self.accounts.sign_up(msg)
                elif isinstance(msg, SignIn):
                    reply = await self.accounts.sign_in(msg)
                else:
                    raise ProtocolError(ErrorCode.UNAUTHORIZED,
                                        f"{msg.TYPE} needs a token: use {SESSION_PATH}",
                                        rid=getattr(msg, "rid", None))
            except ProtocolError as exc:
                self.metrics.errors[exc.code] += 1
                reply = Error(code=exc.code, message=exc.message, rid=exc.rid)
            self.metrics.messages_out[reply.TYPE] += 1
            await conn.send(encode(reply))

    async def session_loop(self, conn: RelayConnection, conn_id: int, user: UserRef) -> None:
        core = self.core
        client = core.connect(conn_id, user, WsTransport(conn, self))
        conn.client = client
        strikes_limit = self.config.rate_strikes

        def on_text(raw: str) -> bool:
            """Handle a cursor frame now when the loop below would handle it the same way."""
            fields = fastpath.cursor_fields(raw)
            if fields is None:
                return False
            now = time.monotonic()
            if client.tokens + (now - client.last_refill) * client.rate < 1.0:
                return False  # rate limited: the loop below refuses it (and may close)
            core.admit(client, now)
            core.cursor(client, fields)
            return True

        conn.on_text = on_text
        try:
            async for raw in conn:
                if not core.admit(client, time.monotonic()):
                    rid = _rid(raw)
                    core.refuse(client, ProtocolError(ErrorCode.RATE_LIMITED,
                                                      "slow down: rate limit exceeded", rid=rid))
                    if client.strikes >= strikes_limit:
                        log.warning("closing abusive connection", extra={"conn": conn_id,
                                                                         "user": user.id})
                        client.closed = True
                        self.metrics.closes[CloseCode.RATE_LIMITED] += 1
                        await conn.close(CloseCode.RATE_LIMITED, "rate limit exceeded")
                        break
                    continue
                try:
                    msg = fastpath.decode(raw)
                except ProtocolError as exc:
                    core.refuse(client, exc)
                    continue
                if msg.TYPE in EPHEMERAL_TYPES:
                    core.ephemeral(client, msg)
                elif isinstance(msg, Hello):
                    core.refuse(client, ProtocolError(ErrorCode.BAD_MESSAGE,
                                                      "hello was already received", rid=msg.rid))
                else:
                    await core.handle(client, msg)
        finally:
            conn.on_text = None
            conn.client = None
            await core.disconnect(client)

    async def shutdown(self) -> None:
        """Tell every client to reconnect, then close with 1012 (service restart)."""
        self.core.shutting_down = True
        if self.server is None:
            return
        frame = encode(Reconnect(reason="relay restarting", retry_after=1.0)).encode()
        for conn in list(self.server.connections):
            try:
                conn.protocol.send_text(frame)
                conn.send_data()
                self.metrics.messages_out["reconnect"] += 1
            except Exception:
                pass
        self.server.close(close_connections=True, code=CloseCode.SERVICE_RESTART,
                          reason="relay restarting")
        try:
            await asyncio.wait_for(self.server.wait_closed(), 10)
        except TimeoutError:
            log.warning("connections did not close in time")
        for task in list(self.tasks):
            task.cancel()
        await self.store.close()


def _rid(raw: str | bytes) -> str | None:
    try:
        data = json.loads(raw)
    except ValueError:
        return None
    rid = data.get("rid") if isinstance(data, dict) else None
    return rid if isinstance(rid, str) else None


def _response(status: http.HTTPStatus, body: str, content_type: str) -> Response:
    data = body.encode()
    headers = Headers([("Content-Type", content_type), ("Content-Length", str(len(data))),
                       ("Connection", "close")])
    return Response(status.value, status.phrase, headers, data)


def _unauthorized(reason: str, code: str = ErrorCode.UNAUTHORIZED) -> Response:
    body = json.dumps({"error": code, "message": reason})
    resp = _response(http.HTTPStatus.UNAUTHORIZED, body, "application/json")
    resp.headers["WWW-Authenticate"] = 'Bearer realm="ensemble"'
    return resp
