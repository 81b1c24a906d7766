"""Passwords (bcrypt) and tokens (JWT HS256)."""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Callable

import bcrypt
import jwt

from relay.errors import AuthError
from wire import ErrorCode

USERNAME_RE = re.compile(r"^[a-z0-9][a-z0-9_.-]{1,31}$")
MIN_PASSWORD = 8
MAX_PASSWORD_BYTES = 72  # bcrypt's limit
ISSUER = "ensemble-relay"


def normalize_username(raw: str) -> str:
    name = raw.strip().lower()
    if not USERNAME_RE.match(name):
        raise AuthError(
            ErrorCode.INVALID_USERNAME,
            "username must be 2-32 characters: letters, digits, '_', '.', '-'",
        )
    return name


def check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD:
        raise AuthError(ErrorCode.WEAK_PASSWORD,
                        f"password needs at least {MIN_PASSWORD} characters")
    if len(password.encode()) > MAX_PASSWORD_BYTES:
        raise AuthError(ErrorCode.INVALID_VALUE,
                        f"password is longer than {MAX_PASSWORD_BYTES} bytes")


class SignInThrottle:
    """Growing delays after failed sign-ins, per username and per client address.

    Each attempt counts as a failure until it succeeds (so parallel guesses count
    too). Past ``free`` failures of a key, the next attempt must wait 1 s, then 2, 4,
    ... up to ``max_delay``. A success clears the username's failures and takes its
    own attempt back from the address. Keys without a failure for FORGET seconds are
    forgotten; at most MAX_KEYS are kept (the oldest go first).
    """

    FORGET = 900.0
    MAX_KEYS = 100_000

    def __init__(self, free: int = 5, address_free: int = 20, max_delay: float = 300.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.free = free
        self.address_free = address_free
        self.max_delay = max_delay
        self.clock = clock
        self.keys: dict[str, tuple[int, float, float]] = {}  # key -> failures, until, last

    def wait(self, user: str, address: str) -> float:
        """Seconds before an attempt for ``user`` from ``address`` is accepted (0: now)."""
        now = self.clock()
        until = max(self.keys.get("u:" + user, (0, 0.0, 0.0))[1],
                    self.keys.get("a:" + address, (0, 0.0, 0.0))[1] if address else 0.0)
        return max(0.0, until - now)

    def attempt(self, user: str, address: str) -> None:
        now = self.clock()
        self._fail("u:" + user, self.free, now)
        if address:
            self._fail("a:" + address, self.address_free, now)
        if len(self.keys) > self.MAX_KEYS:
            self._prune(now)

    def succeeded(self, user: str, address: str) -> None:
        self.keys.pop("u:" + user, None)
        entry = self.keys.get("a:" + address) if address else None
        if entry is not None:
            count = entry[0] - 1
            until = entry[1] if count >= self.address_free else 0.0
            self.keys["a:" + address] = (count, until, entry[2])

    def _fail(self, key: str, free: int, now: float) -> None:
        count, until, last = self.keys.get(key, (0, 0.0, now))
        if now - last > self.FORGET:
            count = 0
        count += 1
        if count >= free:
            until = now + min(self.max_delay, 2.0 ** (count - free))
        self.keys[key] = (count, until, now)

    def _prune(self, now: float) -> None:
        for key, (_, until, last) in list(self.keys.items()):
            if now - last > self.FORGET and until <= now:
                del self.keys[key]
        excess = len(self.keys) - self.MAX_KEYS * 9 // 10
        if excess > 0:
            for key in sorted(self.keys, key=lambda k: self.keys[k][2])[:excess]:
                del self.keys[key]


class Auth:
    def __init__(self, secret: str, token_ttl: float, bcrypt_rounds: int) -> None:
        self._secret = secret
        self.token_ttl = token_ttl
        self.rounds = bcrypt_rounds
        # A hash to compare against when the user does not exist (same cost, same time).
        self._dummy = bcrypt.hashpw(b"not-a-password", bcrypt.gensalt(bcrypt_rounds))

    async def hash_password(self, password: str) -> str:
        salt = bcrypt.gensalt(self.rounds)
        hashed = await asyncio.to_thread(bcrypt.hashpw, password.encode(), salt)
        return hashed.decode()

    async def verify_password(self, password: str, hashed: str | None) -> bool:
        data = password.encode()
        if len(data) > MAX_PASSWORD_BYTES:
            return False
        target = hashed.encode() if hashed else self._dummy
        ok = await asyncio.to_thread(bcrypt.checkpw, data, target)
        return ok and hashed is not None

    def issue(self, user_id: str, now: float | None = None) -> tuple[str, float]:
        now = time.time() if now is None else now
        exp = now + self.token_ttl
        claims = {"sub": user_id, "iat": int(now), "exp": int(exp), "iss": ISSUER}
        return jwt.encode(claims, self._secret, algorithm="HS256"), float(int(exp))

    def verify(self, token: str) -> str:
        """Return the user id of a valid token; raise AuthError otherwise."""
        try:
            claims = jwt.decode(
                token,
                self._secret,
                algorithms=["HS256"],
                issuer=ISSUER,
                options={"require": ["sub", "exp", "iat"]},
            )
        except jwt.ExpiredSignatureError as exc:
            raise AuthError(ErrorCode.TOKEN_EXPIRED, "token expired") from exc
        except jwt.InvalidTokenError as exc:
            raise AuthError(ErrorCode.UNAUTHORIZED, "invalid token") from exc
        sub = claims.get("sub")
        if not isinstance(sub, str):
            raise AuthError(ErrorCode.UNAUTHORIZED, "invalid token")
        return sub
