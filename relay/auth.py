"""Passwords (bcrypt) and tokens (JWT HS256)."""

from __future__ import annotations

import asyncio
import re
import time

import bcrypt
import jwt

from relay.errors import AuthError
from relay.protocol import ErrorCode

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
