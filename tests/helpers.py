"""Async helpers to talk to a real relay: accounts and a small frame-level client."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import re
import urllib.request
import uuid
from collections.abc import Callable
from typing import Any, TypeVar

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from wire import (
    AUTH_PATH,
    PROTOCOL_VERSION,
    SESSION_PATH,
    Error,
    Hello,
    Message,
    RepoIdentity,
    SessionCreate,
    SessionJoin,
    SessionList,
    SessionListResult,
    SessionState,
    SignIn,
    SignUp,
    Welcome,
    decode_server,
    encode,
)

M = TypeVar("M", bound=Message)
TIMEOUT = 10.0
_names = itertools.count()


def unique_name(prefix: str = "user") -> str:
    return f"{prefix}{next(_names)}{uuid.uuid4().hex[:6]}"


def new_id() -> str:
    return uuid.uuid4().hex


def metric(http_url: str, name: str) -> float:
    """The value of an unlabelled metric on the relay's /metrics (blocking: call it in a
    thread from async code). A metric that is not there fails: a renamed metric must not read
    as zero."""
    with urllib.request.urlopen(http_url + "/metrics", timeout=10) as resp:
        text = resp.read().decode()
    m = re.search(rf"^{re.escape(name)} (\S+)$", text, re.M)
    assert m is not None, f"metric {name} missing from /metrics"
    return float(m.group(1))


class RelayRefused(Exception):
    """the relay answered a request with an error frame."""

    def __init__(self, error: Error) -> None:
        super().__init__(f"{error.code}: {error.message}")
        self.error = error
        self.code = error.code


async def _auth(url: str, msg: Message) -> tuple[str, Any]:
    async with connect(url.rstrip("/") + AUTH_PATH, compression=None) as ws:
        await ws.send(encode(Hello(protocol=PROTOCOL_VERSION, client="tests")))
        welcome = decode_server(await asyncio.wait_for(ws.recv(), TIMEOUT))
        assert isinstance(welcome, Welcome), welcome
        await ws.send(encode(msg))
        reply = decode_server(await asyncio.wait_for(ws.recv(), TIMEOUT))
    if isinstance(reply, Error):
        raise RelayRefused(reply)
    return reply.token, reply  # type: ignore[attr-defined]


async def sign_up(url: str, username: str, password: str = "correct horse",
                  display_name: str | None = None) -> str:
    """Create an account on the relay at ``url`` (ws://host:port); return its JWT."""
    token, _ = await _auth(url, SignUp(username=username, password=password,
                                       display_name=display_name, rid="signup"))
    return token


async def sign_in(url: str, username: str, password: str = "correct horse") -> str:
    token, _ = await _auth(url, SignIn(username=username, password=password, rid="signin"))
    return token


class WireClient:
    """One websocket to the relay's /ws endpoint, keeping every frame it receives.

    ``expect`` returns (and consumes) the first received frame of a type that
    matches a predicate, waiting up to a timeout; frames it skips stay available.
    """

    def __init__(self, ws: ClientConnection, user_id: str = "") -> None:
        self.ws = ws
        self.user_id = user_id
        self.welcome: Welcome | None = None
        self.frames: list[Message] = []
        self.raw: list[str] = []
        self._changed = asyncio.Event()
        self._rids = itertools.count(1)
        self._reader = asyncio.create_task(self._read())
        self.close_code: int | None = None
        self.close_reason: str | None = None

    @classmethod
    async def connect(cls, url: str, token: str, *, hello: bool = True,
                      protocol: int = PROTOCOL_VERSION, user_id: str = "",
                      presence: int | None = None) -> WireClient:
        ws = await connect(url.rstrip("/") + SESSION_PATH, compression=None,
                           additional_headers={"Authorization": f"Bearer {token}"},
                           open_timeout=TIMEOUT, max_size=None)
        client = cls(ws, user_id)
        if hello:
            if presence is None:
                await client.send(Hello(protocol=protocol, client="tests"))
            else:  # as the client writes it (a relay older than encodings ignores it)
                await client.send({"type": "hello", "protocol": protocol, "client": "tests",
                                   "presence": presence})
            if protocol == PROTOCOL_VERSION:
                client.welcome = await client.expect(Welcome)
                if client.welcome.user is not None:
                    client.user_id = client.welcome.user.id
        return client

    async def _read(self) -> None:
        try:
            async for raw in self.ws:
                text = raw if isinstance(raw, str) else raw.decode()
                self.raw.append(text)
                self.frames.append(decode_server(text))
                self._changed.set()
        except ConnectionClosed:
            pass
        finally:
            self.close_code = self.ws.close_code
            self.close_reason = self.ws.close_reason
            self._changed.set()

    # -- sending

    def rid(self) -> str:
        return f"r{next(self._rids)}"

    async def send(self, msg: Message | dict[str, Any] | str) -> None:
        if isinstance(msg, Message):
            await self.ws.send(encode(msg))
        elif isinstance(msg, dict):
            await self.ws.send(json.dumps(msg))
        else:
            await self.ws.send(msg)

    # -- receiving

    async def expect(self, kind: type[M], timeout: float = TIMEOUT,
                     predicate: Callable[[M], bool] | None = None) -> M:
        """Wait for (and consume) the first frame of ``kind`` matching ``predicate``."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            for i, frame in enumerate(self.frames):
                if isinstance(frame, kind) and (predicate is None or predicate(frame)):
                    del self.frames[i]
                    return frame
            name = getattr(kind, "TYPE", kind.__name__)
            if self._reader.done():
                raise AssertionError(
                    f"connection closed ({self.close_code} {self.close_reason}) while waiting "
                    f"for {name}; unconsumed: {[f.TYPE for f in self.frames]}")
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise AssertionError(
                    f"no {name} frame within {timeout}s; unconsumed: "
                    f"{[f.TYPE for f in self.frames]}")
            self._changed.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(), remaining)

    async def request(self, msg: Any, reply: type[M], timeout: float = TIMEOUT) -> M:
        """Send ``msg`` with a fresh rid; return the reply with that rid or raise RelayRefused."""
        if getattr(msg, "rid", None) is None:
            msg.rid = self.rid()
        rid = msg.rid
        await self.send(msg)
        answer = await self.expect(
            Message,  # type: ignore[type-abstract]
            timeout,
            lambda m: getattr(m, "rid", None) == rid and isinstance(m, reply | Error),
        )
        if isinstance(answer, Error):
            raise RelayRefused(answer)
        assert isinstance(answer, reply)
        return answer

    async def error(self, msg: Any, timeout: float = TIMEOUT) -> Error:
        """Send ``msg`` expecting a refusal; return the error frame (matched by rid)."""
        if isinstance(msg, Message) and getattr(msg, "rid", None) is None:
            msg.rid = self.rid()  # type: ignore[attr-defined]
        rid = msg.rid if isinstance(msg, Message) else msg.get("rid")  # type: ignore[attr-defined]
        await self.send(msg)
        return await self.expect(Error, timeout, lambda e: e.rid == rid)

    async def barrier(self) -> None:
        """Round-trip a request: every frame the relay queued for us before it has arrived."""
        await self.request(SessionList(), SessionListResult)

    def take(self, kind: type[M]) -> list[M]:
        """Consume and return every already-received frame of ``kind``."""
        found = [f for f in self.frames if isinstance(f, kind)]
        self.frames = [f for f in self.frames if not isinstance(f, kind)]
        return found  # type: ignore[return-value]

    async def wait_closed(self, timeout: float = TIMEOUT) -> int | None:
        await asyncio.wait_for(asyncio.shield(self._reader), timeout)
        return self.close_code

    async def close(self) -> None:
        await self.ws.close()
        await asyncio.gather(self._reader, return_exceptions=True)

    # -- session shortcuts

    async def create_session(self, name: str = "pairing", remote: str | None = None,
                             root_commit: str | None = None) -> SessionState:
        repo = RepoIdentity(remote=remote or f"github.com/acme/{uuid.uuid4().hex[:8]}",
                            root_commit=root_commit, name="app")
        return await self.request(SessionCreate(name=name, repo=repo), SessionState)

    async def join(self, session_id: str | None = None, invite: str | None = None,
                   last_seq: int | None = None) -> SessionState:
        return await self.request(
            SessionJoin(session_id=session_id, invite=invite, last_seq=last_seq), SessionState)


async def user(url: str, prefix: str = "user") -> tuple[str, str]:
    """Sign up a fresh user; return (user id, token)."""
    name = unique_name(prefix)
    return name, await sign_up(url, name)


async def connected(url: str, prefix: str = "user") -> WireClient:
    """A fresh user, connected and past the handshake."""
    name, token = await user(url, prefix)
    return await WireClient.connect(url, token, user_id=name)
