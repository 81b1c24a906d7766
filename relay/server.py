"""The asyncio WebSocket server: a thin layer between websockets and the core."""

from __future__ import annotations

import asyncio
import http
import json
import logging
import sqlite3
import time
from typing import Any

from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response

from relay import __version__, fastpath, httpside
from relay.accounts import Accounts
from relay.adapters.local_bus import LocalBus
from relay.adapters.sqlite_store import SqliteStore
from relay.auth import Auth, SignInThrottle
from relay.config import Config, origins
from relay.connection import WRITE_LIMIT, RelayConnection, WsTransport
from relay.core.client import TokenBucket
from relay.core.service import STORAGE_RETRY, Core
from relay.errors import AuthError, StoreBusy, StoreError
from relay.metrics import Metrics
from wire import (
    AUTH_PATH,
    EPHEMERAL_TYPES,
    PRESENCE_FORMS,
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

CLOSE_TIMEOUT = 10.0  # seconds a closing handshake may take before the socket is dropped

log = logging.getLogger("relay.server")
MAX_QUEUE = 16  # frames read ahead per connection (each up to max_frame_bytes)
AUTH_ATTEMPTS = 5.0  # sign-up/sign-in attempts per /auth connection, refilling 1 a second


class RelayServer:
    def __init__(self, config: Config) -> None:
        self.config = config
        self.metrics = Metrics()
        self.store = SqliteStore(config.data_dir / "relay.sqlite3", config.sqlite_synchronous,
                                 config.storage_wait)
        self.bus = LocalBus()
        self.core = Core(config, self.store, self.bus, self.metrics)
        self.auth = Auth(config.jwt_secret, config.token_ttl, config.bcrypt_rounds)
        self.accounts = Accounts(self.store, self.auth, SignInThrottle(
            config.signin_free_failures, config.signin_address_failures, config.signin_max_delay))
        self.origins = origins(config)
        self.user_conns: dict[str, int] = {}  # /ws connections per user, handshakes included
        self.storage_problem: str | None = None  # why the last write probe failed
        self.storage_busy = False  # the last probe found the database locked elsewhere
        self.metrics_listener: httpside.MetricsListener | None = None
        self.metrics_port = 0
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
            "users_online": lambda: float(self.core.users_online()),
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
        """Open the store (raise StoreError when it cannot be opened or written), listen."""
        try:
            await self.store.open()
            problem = await self.store.probe(timeout=self.config.storage_wait)
        except (sqlite3.Error, OSError) as exc:
            raise StoreError(f"cannot open the database in {self.config.data_dir}: {exc}") from exc
        if problem is not None:
            raise StoreError(f"{problem} ({self.config.data_dir})")
        await self.bus.open()
        self.server = await serve(
            self.handler,
            self.config.host,
            self.config.port,
            process_request=self.process_request,
            compression=None,
            max_size=self.config.max_frame_bytes,
            max_queue=MAX_QUEUE,
            write_limit=WRITE_LIMIT,
            create_connection=RelayConnection,
            server_header=f"ensemble-relay/{__version__}",
            close_timeout=CLOSE_TIMEOUT,
        )
        if self.config.metrics_host:
            self.metrics_listener = httpside.MetricsListener(self.metrics.render,
                                                             self.config.metrics_token)
            self.metrics_port = await self.metrics_listener.start(self.config.metrics_host,
                                                                  self.config.metrics_port)
        self.spawn(self.ticker())

    async def ticker(self) -> None:
        period = max(0.05, min(1.0, self.config.presence_timeout / 4))
        next_count = next_probe = 0.0
        while True:
            try:
                now = time.monotonic()
                await self.core.expire(now)
                self.limit_buffers()
                if now >= next_probe:
                    next_probe = now + self.config.storage_probe_interval
                    await self.probe_storage()
                if now >= next_count:
                    self.sessions_open = await self.store.session_count()
                    next_count = now + 5.0
            except StoreBusy:
                pass  # reported by probe_storage; counted again on the next tick
            except Exception:
                log.exception("periodic task failed")
            await asyncio.sleep(period)

    async def probe_storage(self) -> None:
        try:
            problem = await self.store.probe()
            busy = False
        except StoreBusy:
            problem, busy = None, True
        if problem != self.storage_problem:
            if problem is None:
                log.info("storage writable again")
            else:
                log.error("storage cannot be written", extra={"reason": problem})
        self.storage_problem, self.storage_busy = problem, busy

    def limit_buffers(self) -> None:
        """Keep all send buffers together under max_total_buffer_bytes: disconnect the
        receivers furthest behind (1008) until the rest fit."""
        clients = [(c.transport.buffered(), c) for c in self.core.clients if not c.closed]
        total = sum(n for n, _ in clients)
        if total <= self.config.max_total_buffer_bytes:
            return
        clients.sort(key=lambda item: item[0], reverse=True)
        for n, client in clients:
            if total <= self.config.max_total_buffer_bytes or n <= WRITE_LIMIT:
                break
            log.warning("send buffers over budget: dropping a slow receiver",
                        extra={"conn": client.conn_id, "buffered": n, "total": total})
            self.metrics.slow_disconnects += 1
            client.close(CloseCode.POLICY_VIOLATION, "receiver too slow (relay send budget)")
            total -= n

    # -- HTTP side of the handshake

    def healthz(self) -> Response:
        """200 while the store can be written (``storage``: ok, or busy while another
        process holds the database); 503 with the reason when it cannot."""
        body: dict[str, object] = {"status": "ok", "version": __version__,
                                   "protocol": PROTOCOL_VERSION,
                                   "uptime": round(time.time() - self.started, 1),
                                   "storage": "busy" if self.storage_busy else "ok"}
        status = http.HTTPStatus.OK
        if self.storage_problem is not None:
            body.update(status="unavailable", storage="unwritable", reason=self.storage_problem)
            status = http.HTTPStatus.SERVICE_UNAVAILABLE
        return httpside.response(status, json.dumps(body), "application/json")

    async def process_request(self, conn: ServerConnection, request: Request) -> Response | None:
        path = request.path.split("?", 1)[0]
        if path == "/healthz":
            return self.healthz()
        if path == "/metrics" and not self.config.metrics_host:
            return httpside.metrics_response(self.metrics.render, self.config.metrics_token,
                                             request.headers)
        if path not in (AUTH_PATH, SESSION_PATH):
            return httpside.response(http.HTTPStatus.NOT_FOUND, "not found\n", "text/plain")
        refused = httpside.check_origin(request.headers, self.origins)
        if refused is not None:
            self.metrics.errors[ErrorCode.FORBIDDEN_ORIGIN] += 1
            return refused
        if path == AUTH_PATH:
            return None
        header = request.headers.get("Authorization", "")
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            return httpside.unauthorized("missing bearer token")
        try:
            uid = self.auth.verify(token.strip())
        except AuthError as exc:
            return httpside.unauthorized(str(exc), exc.code)
        assert isinstance(conn, RelayConnection)
        cap = self.config.max_connections_per_user
        if self.user_conns.get(uid, 0) >= cap:
            self.metrics.errors[ErrorCode.TOO_MANY_CONNECTIONS] += 1
            return httpside.refusal(http.HTTPStatus.TOO_MANY_REQUESTS,
                                    ErrorCode.TOO_MANY_CONNECTIONS,
                                    f"at most {cap} connections per user",
                                    (("Retry-After", "5"),))
        self.user_conns[uid] = self.user_conns.get(uid, 0) + 1
        conn.on_lost = lambda: self._release(uid)
        try:
            user = await self.store.get_user(uid)
        except StoreBusy:
            return httpside.refusal(http.HTTPStatus.SERVICE_UNAVAILABLE,
                                    ErrorCode.STORAGE_BUSY, "the database is busy",
                                    (("Retry-After", str(int(STORAGE_RETRY))),))
        if user is None:
            return httpside.unauthorized("unknown user")
        conn.user = UserRef(id=user.id, name=user.name)
        return None

    def _release(self, uid: str) -> None:
        left = self.user_conns.get(uid, 0) - 1
        if left > 0:
            self.user_conns[uid] = left
        else:
            self.user_conns.pop(uid, None)

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

    async def _refuse_binary(self, conn: ServerConnection) -> None:
        await self._refuse_and_close(conn, ErrorCode.BAD_MESSAGE,
                                     "binary frames are not accepted: send JSON text frames",
                                     CloseCode.UNSUPPORTED_DATA)

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
        if isinstance(raw, bytes):
            await self._refuse_binary(conn)
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
        form = None
        if msg.presence is not None:  # the newest encoding the client reads, up to ours
            form = max(1, min(msg.presence, max(PRESENCE_FORMS)))
            if isinstance(conn, RelayConnection):
                conn.presence_form = form
        await conn.send(encode(Welcome(protocol=PROTOCOL_VERSION,
                                       server=f"ensemble-relay/{__version__}",
                                       limits=self.core.limits(), user=user, presence=form,
                                       rid=msg.rid)))
        self.metrics.messages_out["welcome"] += 1
        return True

    async def auth_loop(self, conn: ServerConnection) -> None:
        attempts = TokenBucket(1.0, AUTH_ATTEMPTS, time.monotonic())
        address = str(conn.remote_address[0]) if conn.remote_address else ""
        async for raw in conn:
            if isinstance(raw, bytes):
                await self._refuse_binary(conn)
                return
            try:
                msg = decode_client(raw)
                self.metrics.messages_in[msg.TYPE] += 1
                if not attempts.take(time.monotonic()):
                    raise ProtocolError(ErrorCode.RATE_LIMITED, "too many attempts",
                                        rid=getattr(msg, "rid", None), retry_after=1.0)
                reply: Message
                if isinstance(msg, SignUp):
                    reply = await self.accounts.sign_up(msg)
                elif isinstance(msg, SignIn):
                    reply = await self.accounts.sign_in(msg, address)
                else:
                    raise ProtocolError(ErrorCode.UNAUTHORIZED,
                                        f"{msg.TYPE} needs a token: use {SESSION_PATH}",
                                        rid=getattr(msg, "rid", None))
            except StoreBusy:
                self.metrics.errors[ErrorCode.STORAGE_BUSY] += 1
                reply = Error(code=ErrorCode.STORAGE_BUSY, message="the database is busy",
                              rid=_rid(raw), retry_after=STORAGE_RETRY)
            except ProtocolError as exc:
                self.metrics.errors[exc.code] += 1
                reply = Error(code=exc.code, message=exc.message, rid=exc.rid,
                              retry_after=exc.retry_after)
            self.metrics.messages_out[reply.TYPE] += 1
            await conn.send(encode(reply))

    async def session_loop(self, conn: RelayConnection, conn_id: int, user: UserRef) -> None:
        core = self.core
        client = core.connect(conn_id, user, WsTransport(conn, self))
        client.presence_form = conn.presence_form
        conn.client = client
        strikes_limit = self.config.rate_strikes

        def on_text(raw: str) -> bool:
            """Handle a cursor frame now when the loop below would handle it the same way."""
            fields = fastpath.cursor_fields(raw)
            if fields is None:
                return False
            now = time.monotonic()
            if client.bucket.peek(now) < 1.0:
                return False  # rate limited: the loop below refuses it (and may close)
            core.admit(client, now)
            core.cursor(client, fields)
            return True

        conn.on_text = on_text
        try:
            async for raw in conn:
                if client.closed:
                    continue  # closing: read what is queued so the close handshake ends
                if isinstance(raw, bytes):
                    client.closed = True
                    self.spawn(self._refuse_binary(conn))
                    continue
                if not core.admit(client, time.monotonic()):
                    rid = _rid(raw)
                    core.refuse(client, ProtocolError(ErrorCode.RATE_LIMITED,
                                                      "slow down: rate limit exceeded", rid=rid))
                    if client.strikes >= strikes_limit:
                        log.warning("closing abusive connection", extra={"conn": conn_id,
                                                                         "user": user.id})
                        client.closed = True
                        self.metrics.closes[CloseCode.RATE_LIMITED] += 1
                        self.spawn(conn.close(CloseCode.RATE_LIMITED, "rate limit exceeded"))
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
        if self.metrics_listener is not None:
            await self.metrics_listener.close()
        await self.bus.close()
        await self.store.close()


def _rid(raw: str | bytes) -> str | None:
    try:
        data = json.loads(raw)
    except (ValueError, RecursionError):
        return None
    rid = data.get("rid") if isinstance(data, dict) else None
    return rid if isinstance(rid, str) else None
