"""What runs on each WebSocket connection: hello, then the /auth loop or the session loop."""

from __future__ import annotations

import asyncio
import json
import logging
import time

from websockets.asyncio.server import ServerConnection
from websockets.exceptions import ConnectionClosed

from relay import __version__
from relay.config import Config
from relay.core.client import TokenBucket
from relay.core.service import STORAGE_RETRY, Core
from relay.errors import StoreBusy
from relay.metrics import Metrics
from relay.ws import fastpath
from relay.ws.accounts import Accounts
from relay.ws.connection import RelayConnection, Spawn, WsTransport
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
    SignIn,
    SignUp,
    UserRef,
    Welcome,
    decode_client,
    encode,
)

log = logging.getLogger("relay.server")
AUTH_ATTEMPTS = 5.0  # sign-up/sign-in attempts per /auth connection, refilling 1 a second


class Handlers:
    """The connection handler given to websockets' ``serve``; ``spawn`` runs a coroutine
    in the background (the server keeps its tasks and cancels them at shutdown)."""

    def __init__(self, config: Config, core: Core, accounts: Accounts, metrics: Metrics,
                 spawn: Spawn) -> None:
        self.config = config
        self.core = core
        self.accounts = accounts
        self.metrics = metrics
        self.spawn = spawn
        self.next_conn = 0

    async def handle(self, conn: ServerConnection) -> None:
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

    async def _refuse_binary(self, conn: RelayConnection) -> None:
        await self._refuse_and_close(conn, ErrorCode.BAD_MESSAGE,
                                     "binary frames are not accepted: send JSON text frames",
                                     CloseCode.UNSUPPORTED_DATA)

    async def _refuse_and_close(self, conn: RelayConnection, code: str, text: str,
                                close_code: int, rid: str | None = None) -> None:
        self.metrics.errors[code] += 1
        self.metrics.closes[close_code] += 1
        await conn.send(encode(Error(code=code, message=text, rid=rid)))
        await conn.close(close_code, text[:100])

    async def hello(self, conn: RelayConnection, user: UserRef | None) -> bool:
        try:
            raw = await asyncio.wait_for(conn.next_message(), self.config.hello_timeout)
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
            conn.presence_form = form
        await conn.send(encode(Welcome(protocol=PROTOCOL_VERSION,
                                       server=f"ensemble-relay/{__version__}",
                                       limits=self.core.limits(), user=user, presence=form,
                                       rid=msg.rid)))
        self.metrics.messages_out["welcome"] += 1
        return True

    async def auth_loop(self, conn: RelayConnection) -> None:
        attempts = TokenBucket(1.0, AUTH_ATTEMPTS, time.monotonic())
        address = str(conn.remote_address[0]) if conn.remote_address else ""
        async for raw in conn.messages():
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
        client = core.connect(conn_id, user, WsTransport(conn, self.metrics, self.spawn))
        client.presence_form = conn.presence_form
        conn.client = client
        strikes_limit = self.config.rate_strikes

        def rate_limited(raw: str) -> None:
            core.refuse(client, ProtocolError(ErrorCode.RATE_LIMITED,
                                              "slow down: rate limit exceeded", rid=_rid(raw)))
            if client.strikes >= strikes_limit:
                log.warning("closing abusive connection", extra={"conn": conn_id,
                                                                 "user": user.id})
                client.closed = True
                self.metrics.closes[CloseCode.RATE_LIMITED] += 1
                self.spawn(conn.close(CloseCode.RATE_LIMITED, "rate limit exceeded"))

        def on_text(raw: str) -> bool:
            """Handle a cursor frame now, as the loop below would (it is idle)."""
            if client.closed:
                return False
            fields = fastpath.cursor_fields(raw)
            if fields is None:
                return False
            if core.admit(client, time.monotonic()):
                core.cursor(client, fields)
            else:
                rate_limited(raw)
            return True

        conn.on_text = on_text
        try:
            async for raw in conn.messages():
                if client.closed:
                    continue  # closing: read what is queued so the close handshake ends
                if isinstance(raw, bytes):
                    client.closed = True
                    self.spawn(self._refuse_binary(conn))
                    continue
                if not core.admit(client, time.monotonic()):
                    rate_limited(raw)
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


def _rid(raw: str | bytes) -> str | None:
    try:
        data = json.loads(raw)
    except (ValueError, RecursionError):
        return None
    rid = data.get("rid") if isinstance(data, dict) else None
    return rid if isinstance(rid, str) else None
