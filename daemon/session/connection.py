"""The daemon's link to the relay: one WebSocket, reconnected with backoff.

``RelayConnection.run`` keeps a connection to ``<relay>/ws`` open while a
token is known: it says hello, waits for ``welcome``, hands every frame to
the daemon, answers request/response pairs by ``rid``, and after a drop
waits a backoff with decorrelated jitter (each wait uniform between 0.5 s and
three times the previous one, capped at 5 s; reset after a successful
welcome), so a client is back within a few seconds of the relay. The floor and
the cap come from ``ENSEMBLE_RECONNECT_MIN`` and ``ENSEMBLE_RECONNECT_MAX``. ``retry_now``
ends the wait at once (the editor regained focus, or the user asked). A
``reconnect`` frame from a relay that is shutting down sets the next delay.
With several relay URLs each attempt takes the URL ``daemon.session.relays``
picks (the session's relay first, the next one after a failure); ``move``
reconnects to the first of the order. ``authenticate`` talks to ``<relay>/auth``
for sign-up and sign-in.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import os
import random
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from daemon.errors import AuthFailed, Offline, RelayRefused
from daemon.session.relays import Rotation, session_url
from wire import (
    AUTH_PATH,
    PRESENCE_FORM,
    PROTOCOL_VERSION,
    AuthOk,
    CloseCode,
    Error,
    ErrorCode,
    Hello,
    Message,
    ProtocolError,
    Reconnect,
    Welcome,
    decode_server,
    encode,
)

if TYPE_CHECKING:
    from websockets.asyncio.client import ClientConnection

log = logging.getLogger(__name__)

CLIENT_NAME = "ensemble-daemon/0.1"


def _seconds(name: str, default: float) -> float:
    """A positive number of seconds from the environment; a bad value is reported and
    the default used (the daemon must start whatever its environment holds)."""
    raw = os.environ.get(name)
    if raw is None:
        return default
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if not 0 < value < float("inf"):
        log.warning("%s=%r is not a positive number of seconds; using %g", name, raw, default)
        return default
    return value


BACKOFF_CAP = _seconds("ENSEMBLE_RECONNECT_MAX", 5.0)
BACKOFF_BASE = min(_seconds("ENSEMBLE_RECONNECT_MIN", 0.5), BACKOFF_CAP)
REQUEST_TIMEOUT = 15.0
OPEN_TIMEOUT = 10.0

# Error codes in reply to hello that mean the token will never work.
TOKEN_CODES = frozenset({ErrorCode.UNAUTHORIZED, ErrorCode.TOKEN_EXPIRED})


def backoff_delay(previous: float, cap: float = BACKOFF_CAP) -> float:
    """Decorrelated jitter: uniform in [base, 3 * previous], at most ``cap``.

    Waits tend to grow while the relay stays away (each is 1.5 times the previous one
    on average, but any one can fall back towards ``base``), spread clients apart, and
    never exceed ``cap``, so a client is back at most ``cap`` seconds after the relay.
    """
    base = min(BACKOFF_BASE, cap)
    return min(cap, random.uniform(base, max(base, previous * 3.0)))


class TokenRejected(Exception):
    """the relay does not accept the token."""


class _Bucket:
    """Token bucket that keeps us under the relay's frame rate limit."""

    def __init__(self, rate: float, burst: float) -> None:
        self.rate = rate
        self.burst = burst
        self.tokens = burst
        self.stamp = time.monotonic()

    async def take(self) -> None:
        while True:
            now = time.monotonic()
            self.tokens = min(self.burst, self.tokens + (now - self.stamp) * self.rate)
            self.stamp = now
            if self.tokens >= 1.0:
                self.tokens -= 1.0
                return
            await asyncio.sleep((1.0 - self.tokens) / self.rate)


StateCallback = Callable[[str, float | None, str | None], None]
# the relay URLs to try, best first, and the session the connection is for (or None)
Route = tuple[list[str], str | None]


class RelayConnection:
    """One logical connection to the relay, re-established after every drop."""

    def __init__(
        self,
        route: Callable[[], Route],
        token: str,
        *,
        on_message: Callable[[Message], None],
        on_online: Callable[[Welcome], Awaitable[None]],
        on_state: StateCallback,
        on_closed: Callable[[int, str], None],
        on_bad_items: Callable[[str], None] | None = None,
    ) -> None:
        self._route = route
        self.token = token
        self._on_message = on_message
        self._on_online = on_online
        self._on_state = on_state
        self._on_closed = on_closed
        self._on_bad_items = on_bad_items
        self._ws: ClientConnection | None = None
        self._online = False
        self._pending: dict[str, asyncio.Future[Message]] = {}
        self._rids = itertools.count(1)
        self._bucket = _Bucket(20.0, 20.0)
        self._wake = asyncio.Event()
        self._stopped = False
        self._moving = False
        self._rotation = Rotation()
        self.url = ""  # base URL of the relay of the current (or last) attempt
        self.welcomes = 0  # welcomes received so far (one per successful attempt)
        self.welcome: Welcome | None = None
        self.attempt = 0
        self.delay = BACKOFF_BASE  # the last backoff wait (decorrelated jitter grows from it)
        self.retry_after: float | None = None

    @property
    def online(self) -> bool:
        return self._online

    def retry_now(self) -> None:
        """End the current backoff wait and start over with short waits (the editor
        regained focus, or the user asked to reconnect). No effect while online."""
        if self._online:
            return
        self.delay = BACKOFF_BASE
        self._wake.set()

    async def run(self) -> None:
        """Connect, serve, reconnect, until ``stop`` or the token is rejected."""
        from websockets.exceptions import ConnectionClosed, InvalidStatus, WebSocketException

        while not self._stopped:
            # a retry_now() from here on (even during this attempt) skips the next wait
            self._wake.clear()
            order, session_id = self._route()
            self.url = self._rotation.pick(order)
            self._on_state("connecting", None, None)
            detail: str | None = None
            try:
                await self._serve_once(session_url(self.url, session_id))
            except TokenRejected as exc:
                self._on_state("signed_out", None, str(exc))
                return
            except ConnectionClosed as exc:
                code = exc.rcvd.code if exc.rcvd is not None else 1006
                reason = exc.rcvd.reason if exc.rcvd is not None else ""
                detail = f"connection closed ({code}{': ' + reason if reason else ''})"
                if code in (CloseCode.REMOVED, CloseCode.SESSION_ENDED):
                    self._on_closed(code, reason)
                if code == CloseCode.POLICY_VIOLATION and "token" in reason.lower():
                    self._on_state("signed_out", None, reason)
                    return
            except InvalidStatus as exc:
                status = exc.response.status_code
                if status in (401, 403):
                    self._on_state("signed_out", None, f"relay refused the token ({status})")
                    return
                detail = f"relay answered http {status}"
            except (OSError, WebSocketException, asyncio.TimeoutError, ProtocolError) as exc:
                detail = f"cannot reach relay: {exc}" if str(exc) else "cannot reach relay"
            finally:
                was_online = self._online
                self._drop()
            if self._stopped:
                return
            if self._moving:
                self._moving = False
                self._rotation.restart = True
                continue
            wait = self._rotation.ended(self._route()[0], was_online=was_online)
            if not wait and self.retry_after is None:
                log.info("relay %s: %s; trying the next relay", self.url, detail or "closed")
                continue
            await self._back_off(detail)

    async def _back_off(self, detail: str | None) -> None:
        """Wait the backoff (or the relay's ``retry_after``) before the next attempt."""
        if self.retry_after is not None:
            delay = self.retry_after + random.uniform(0.0, min(1.0, self.retry_after))
            self.retry_after = None
        else:
            delay = backoff_delay(self.delay)
            self.delay = delay
        self.attempt += 1
        log.info("relay offline, retrying in %.2f s", delay)
        self._on_state("offline", time.time() + delay, detail)
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(self._wake.wait(), delay)
        self._rotation.waited()

    async def _serve_once(self, url: str) -> None:
        from websockets.asyncio.client import connect

        log.debug("connecting to %s", url)
        async with connect(
            url,
            additional_headers={"Authorization": f"Bearer {self.token}"},
            open_timeout=OPEN_TIMEOUT,
            max_size=None,
            ping_interval=20,
            ping_timeout=20,
        ) as ws:
            self._ws = ws
            await ws.send(encode(Hello(protocol=PROTOCOL_VERSION, client=CLIENT_NAME,
                                       presence=PRESENCE_FORM)))
            first = decode_server(await asyncio.wait_for(ws.recv(), OPEN_TIMEOUT))
            if isinstance(first, Error):
                if first.code in TOKEN_CODES:
                    raise TokenRejected(f"relay refused the token: {first.message}")
                raise ProtocolError(first.code, first.message)
            if not isinstance(first, Welcome):
                raise ProtocolError(ErrorCode.BAD_MESSAGE, f"expected welcome, got {first.TYPE}")
            self.welcome = first
            limits = first.limits
            self._bucket = _Bucket(
                max(1.0, limits.rate_per_second * 0.8), max(1.0, limits.rate_burst * 0.5)
            )
            self._online = True
            self.welcomes += 1
            self._rotation.welcomed()
            self.attempt = 0
            self.delay = BACKOFF_BASE
            log.info("relay %s online as %s", self.url, first.user.id if first.user else "?")
            self._on_state("online", None, None)
            ready = asyncio.ensure_future(self._on_online(first))
            try:
                async for raw in ws:
                    self._dispatch(raw)
            finally:
                if not ready.done():
                    ready.cancel()

    def _dispatch(self, raw: str | bytes) -> None:
        from daemon.session import wirecheck

        try:
            msg, skipped = wirecheck.decode(raw)
        except ProtocolError as exc:
            log.warning("ignoring bad frame from relay: %s: %s", exc.code, exc)
            fut = self._pending.pop(exc.rid, None) if exc.rid else None
            if fut is not None and not fut.done():
                fut.set_exception(RelayRefused("bad_message", f"bad answer from the relay: {exc}"))
            elif self._on_bad_items is not None:
                self._on_bad_items(f"left out a bad frame from the relay: {exc}")
            return
        if skipped:
            line = wirecheck.summary(msg.TYPE, skipped)
            log.warning("%s", line)
            if self._on_bad_items is not None:
                self._on_bad_items(line)
        if isinstance(msg, Reconnect):
            self.retry_after = max(0.0, msg.retry_after)
            log.info("relay asks to reconnect in %.1f s (%s)", msg.retry_after, msg.reason)
            return
        rid = getattr(msg, "rid", None)
        if rid is not None:
            fut = self._pending.pop(rid, None)
            if fut is not None and not fut.done():
                fut.set_result(msg)
                return
        try:
            self._on_message(msg)
        except Exception:
            log.exception("error while handling %s", msg.TYPE)

    def _drop(self) -> None:
        self._online = False
        self._ws = None
        for fut in self._pending.values():
            if not fut.done():
                fut.set_exception(Offline("connection to the relay was lost"))
        self._pending.clear()

    async def send(self, msg: Message, *, paced: bool = True) -> bool:
        """Send a frame when online; False when it could not go out."""
        ws = self._ws
        if ws is None or not self._online:
            return False
        if paced:
            await self._bucket.take()
        if self._ws is not ws:
            return False
        try:
            await ws.send(encode(msg))
        except Exception as exc:
            log.debug("send failed: %s", exc)
            return False
        return True

    async def request(self, msg: Any, timeout: float = REQUEST_TIMEOUT) -> Message:
        """Send ``msg`` with a fresh ``rid`` and return the reply; raise on ``error``."""
        if not self._online:
            raise Offline("the relay is not reachable; try again when online")
        rid = f"r{next(self._rids)}"
        msg.rid = rid
        fut: asyncio.Future[Message] = asyncio.get_running_loop().create_future()
        self._pending[rid] = fut
        try:
            if not await self.send(msg):
                raise Offline("the relay is not reachable; try again when online")
            reply = await asyncio.wait_for(fut, timeout)
        except asyncio.TimeoutError as exc:
            raise Offline(f"the relay did not answer {msg.TYPE} in time") from exc
        finally:
            self._pending.pop(rid, None)
        if isinstance(reply, Error):
            raise RelayRefused(reply.code, reply.message)
        return reply

    async def move(self) -> None:
        """Close the connection and connect again at once, to the first URL of the order
        (the current session's relay); it is tried the usual way, the others after it."""
        ws = self._ws
        if ws is None or not self._online:
            return
        self._moving = True
        with contextlib.suppress(Exception):
            await asyncio.wait_for(ws.close(1000, "moving to the session's relay"), 2.0)

    async def stop(self) -> None:
        self._stopped = True
        self._wake.set()
        ws = self._ws
        if ws is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(ws.close(), 2.0)


async def authenticate(relay_url: str, msg: Any, timeout: float = REQUEST_TIMEOUT) -> AuthOk:
    """Sign up or sign in on the relay's auth endpoint; return ``auth_ok``."""
    from websockets.asyncio.client import connect
    from websockets.exceptions import InvalidStatus, WebSocketException

    msg.rid = "auth"
    try:
        async with asyncio.timeout(timeout):
            async with connect(relay_url + AUTH_PATH, open_timeout=OPEN_TIMEOUT) as ws:
                await ws.send(encode(Hello(protocol=PROTOCOL_VERSION, client=CLIENT_NAME)))
                welcome = decode_server(await ws.recv())
                if isinstance(welcome, Error):
                    raise RelayRefused(welcome.code, welcome.message)
                await ws.send(encode(msg))
                while True:
                    reply = decode_server(await ws.recv())
                    if isinstance(reply, Error):
                        raise RelayRefused(reply.code, reply.message)
                    if isinstance(reply, AuthOk):
                        return reply
    except InvalidStatus as exc:
        raise AuthFailed(f"relay answered http {exc.response.status_code}") from exc
    except (OSError, WebSocketException, TimeoutError) as exc:
        raise Offline(f"cannot reach relay at {relay_url}: {exc or 'timeout'}") from exc
    except ProtocolError as exc:
        raise AuthFailed(f"bad answer from relay: {exc.message}") from exc
