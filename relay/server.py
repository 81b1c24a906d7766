"""The asyncio WebSocket server: a thin layer between websockets and the core."""

from __future__ import annotations

import asyncio
import http
import json
import logging
import time
from typing import Any

from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.datastructures import Headers
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response

from relay import __version__, fastpath
from relay.accounts import Accounts
from relay.auth import Auth
from relay.config import Config
from relay.connection import WRITE_LIMIT, RelayConnection, WsTransport
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

CLOSE_TIMEOUT = 10.0  # seconds a closing handshake may take before the socket is dropped

log = logging.getLogger("relay.server")


class RelayServer:
    def __init__(self, config: Config) -> None:
        self.config = config
        self.metrics = Metrics()
        self.store = SqliteStore(config.data_dir / "relay.sqlite3", config.sqlite_synchronous)
        self.fanout = LocalFanout(self.metrics, config.presence_batch_ms / 1000)
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
            close_timeout=CLOSE_TIMEOUT,
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
            # Longer than the close timeout, after which websockets aborts a connection and
            # its handler returns: the store closes only after every handler's own writes
            # (the leave records), never under them.
            await asyncio.wait_for(self.server.wait_closed(), CLOSE_TIMEOUT + 5)
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
