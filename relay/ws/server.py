"""The asyncio WebSocket server: a thin layer between websockets and the core."""

from __future__ import annotations

import asyncio
import http
import json
import logging
import sqlite3
import time
from typing import Any, Protocol

from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.http11 import Request, Response
from websockets.protocol import State

from relay import __version__
from relay.config import Config, origins
from relay.core.ports import Store
from relay.core.service import STORAGE_RETRY, Core
from relay.errors import AuthError, StoreBusy, StoreError
from relay.metrics import Metrics
from relay.ws import http as httpside
from relay.ws.accounts import Accounts
from relay.ws.auth import Auth, SignInThrottle
from relay.ws.connection import WRITE_LIMIT, RelayConnection
from relay.ws.handlers import Handlers
from wire import (
    AUTH_PATH,
    PROTOCOL_VERSION,
    SESSION_PATH,
    CloseCode,
    ErrorCode,
    Reconnect,
    UserRef,
    encode,
)

CLOSE_TIMEOUT = 10.0  # seconds a closing handshake may take before the socket is dropped

log = logging.getLogger("relay.server")
MAX_QUEUE = 16  # frames read ahead per connection (each up to max_frame_bytes)


class Probe(Protocol):
    """A store's write probe: why the store cannot be written now, or None. Raises
    StoreBusy while another process holds it longer than ``timeout`` seconds."""

    async def __call__(self, timeout: float = ...) -> str | None: ...


class RelayServer:
    """The WebSocket and HTTP side around a core and its store (relay/app.py builds it).
    ``store_name`` names the store in messages (no password)."""

    def __init__(self, config: Config, core: Core, store: Store, probe: Probe,
                 metrics: Metrics, store_name: str) -> None:
        self.config = config
        self.core = core
        self.store = store
        self.probe = probe
        self.metrics = metrics
        self.store_name = store_name
        self.bus = core.bus
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
        self.started = time.time()
        self.sessions_open = 0
        self.metrics.gauges.update({
            "connections": lambda: float(len(self.server.connections) if self.server else 0),
            "session_clients": lambda: float(len(self.core.clients)),
            "sessions_live": lambda: float(len(self.core.rooms)),
            "sessions_open": lambda: float(self.sessions_open),
            "users_online": lambda: float(self.core.users_online()),
        })
        self.handlers = Handlers(config, self.core, self.accounts, self.metrics, self.spawn)

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
            problem = await self.probe(timeout=self.config.storage_wait)
        except (sqlite3.Error, OSError) as exc:
            raise StoreError(f"cannot open the store {self.store_name}: {exc}") from exc
        if problem is not None:
            raise StoreError(f"{problem} ({self.store_name})")
        await self.bus.open()
        self.server = await serve(
            self.handlers.handle,
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
            problem = await self.probe()
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

    async def shutdown(self) -> None:
        """Tell every client to reconnect, then close with 1012 (service restart)."""
        self.core.shutting_down = True
        if self.server is None:
            return
        frame = encode(Reconnect(reason="relay restarting", retry_after=1.0)).encode()
        for conn in list(self.server.connections):
            if isinstance(conn, RelayConnection) and conn.state is State.OPEN:
                conn.write_frame(frame)
                self.metrics.messages_out["reconnect"] += 1
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

