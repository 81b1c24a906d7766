"""The /auth endpoint: sign-up and sign-in return a JWT."""

from __future__ import annotations

import logging
import math
import time

from relay.core.ports import Store
from relay.core.records import UserRecord
from relay.errors import AuthError, DuplicateError
from relay.ws.auth import Auth, SignInThrottle, check_password, normalize_username
from wire import (
    MAX_DISPLAY_NAME,
    AuthOk,
    ErrorCode,
    ProtocolError,
    SignIn,
    SignUp,
    UserRef,
    name_problem,
)

log = logging.getLogger("relay.accounts")


class Accounts:
    def __init__(self, store: Store, auth: Auth, throttle: SignInThrottle | None = None) -> None:
        self.store = store
        self.auth = auth
        self.throttle = throttle or SignInThrottle()

    async def sign_up(self, msg: SignUp) -> AuthOk:
        try:
            uid = normalize_username(msg.username)
            check_password(msg.password)
        except AuthError as exc:
            raise ProtocolError(exc.code, str(exc), rid=msg.rid) from exc
        name = msg.display_name or uid
        problem = name_problem(name)
        if problem is None and len(name) > MAX_DISPLAY_NAME:
            problem = f"a display name is at most {MAX_DISPLAY_NAME} characters"
        if problem is not None:
            raise ProtocolError(ErrorCode.INVALID_VALUE, problem, rid=msg.rid)
        if await self.store.get_user(uid) is not None:
            raise ProtocolError(ErrorCode.USERNAME_TAKEN, "username is taken", rid=msg.rid)
        pw_hash = await self.auth.hash_password(msg.password)
        try:
            await self.store.create_user(UserRecord(id=uid, name=name, pw_hash=pw_hash,
                                                    created_at=time.time()))
        except DuplicateError as exc:
            raise ProtocolError(ErrorCode.USERNAME_TAKEN, "username is taken",
                                rid=msg.rid) from exc
        log.info("user signed up", extra={"user": uid})
        token, exp = self.auth.issue(uid)
        return AuthOk(token=token, user=UserRef(id=uid, name=name), expires_at=exp, rid=msg.rid)

    async def sign_in(self, msg: SignIn, address: str = "") -> AuthOk:
        """Check the password, within the throttle of the username and of the address
        (the same for existing and unknown usernames)."""
        uid = msg.username.strip().lower()
        throttle = self.throttle
        wait = throttle.wait(uid, address)
        if wait > 0:
            log.info("sign-in throttled", extra={"user": uid, "address": address})
            raise ProtocolError(ErrorCode.RATE_LIMITED,
                                f"too many failed sign-ins: try again in {math.ceil(wait)} s",
                                rid=msg.rid, retry_after=round(wait, 3))
        throttle.attempt(uid, address)  # counted as failed until it succeeds
        user = await self.store.get_user(uid)
        ok = await self.auth.verify_password(msg.password, user.pw_hash if user else None)
        if not ok or user is None:
            log.info("sign-in refused", extra={"user": uid})
            raise ProtocolError(ErrorCode.BAD_CREDENTIALS, "wrong username or password",
                                rid=msg.rid)
        throttle.succeeded(uid, address)
        token, exp = self.auth.issue(uid)
        return AuthOk(token=token, user=UserRef(id=uid, name=user.name), expires_at=exp,
                      rid=msg.rid)
