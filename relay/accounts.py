"""The /auth endpoint: sign-up and sign-in return a JWT."""

from __future__ import annotations

import logging
import time

from relay.auth import Auth, check_password, normalize_username
from relay.errors import AuthError, DuplicateError
from relay.protocol import AuthOk, ErrorCode, ProtocolError, SignIn, SignUp, UserRef
from relay.store.base import Store, UserRecord

log = logging.getLogger("relay.accounts")

MAX_DISPLAY_NAME = 64


class Accounts:
    def __init__(self, store: Store, auth: Auth) -> None:
        self.store = store
        self.auth = auth

    async def sign_up(self, msg: SignUp) -> AuthOk:
        try:
            uid = normalize_username(msg.username)
            check_password(msg.password)
        except AuthError as exc:
            raise ProtocolError(exc.code, str(exc), rid=msg.rid) from exc
        name = (msg.display_name or "").strip() or uid
        if len(name) > MAX_DISPLAY_NAME:
            raise ProtocolError(ErrorCode.INVALID_VALUE, "display name too long", rid=msg.rid)
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

    async def sign_in(self, msg: SignIn) -> AuthOk:
        uid = msg.username.strip().lower()
        user = await self.store.get_user(uid)
        ok = await self.auth.verify_password(msg.password, user.pw_hash if user else None)
        if not ok or user is None:
            log.info("sign-in refused", extra={"user": uid})
            raise ProtocolError(ErrorCode.BAD_CREDENTIALS, "wrong username or password",
                                rid=msg.rid)
        token, exp = self.auth.issue(uid)
        return AuthOk(token=token, user=UserRef(id=uid, name=user.name), expires_at=exp,
                      rid=msg.rid)
