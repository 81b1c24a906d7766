"""Session membership of one daemon: join, adopt, rejoin after a reconnect, leave.

``Membership`` works on the state ``Daemon`` holds (the mirror, the wanted session,
the outbox's resume state) and tells the editor through the daemon's notifications.
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any

from daemon.errors import DaemonError, NotInSession, NotSignedIn, Offline, RelayRefused
from daemon.protocol import ChatParams, Method
from daemon.session.mirror import Change, SessionMirror
from wire import ErrorCode, SessionJoin, SessionState

if TYPE_CHECKING:
    from daemon.lsp.core import Daemon
    from daemon.session.connection import RelayConnection

log = logging.getLogger(__name__)

STATE_SESSION = "session_id"
STATE_LAST_SEQ = "last_seq"

# Refusals of a rejoin that mean the session is gone for us: forget it.
GONE_CODES = (ErrorCode.SESSION_ENDED, ErrorCode.SESSION_NOT_FOUND, ErrorCode.REMOVED,
              ErrorCode.NOT_IN_SESSION, ErrorCode.FORBIDDEN)


class Membership:
    """The join/adopt/leave flow of the current session."""

    def __init__(self, daemon: Daemon) -> None:
        self.d = daemon
        self._joining: asyncio.Lock | None = None

    def start(self) -> None:
        """Create the join lock on the running loop (called from ``Daemon.start``)."""
        self._joining = asyncio.Lock()

    def require_online(self) -> RelayConnection:
        d = self.d
        if not d.token:
            raise NotSignedIn("sign in first")
        if d.conn is None or not d.conn.online:
            raise Offline("the relay is not reachable; try again when online")
        return d.conn

    def require_session(self) -> SessionMirror:
        d = self.d
        if not d.token:
            raise NotSignedIn("sign in first")
        if d.mirror is None:
            raise NotInSession("join or create a session first")
        return d.mirror

    async def join(self, *, session_id: str | None = None, invite: str | None = None,
                   rejoin: bool = False) -> SessionMirror:
        d = self.d
        conn = self.require_online()
        assert self._joining is not None
        async with self._joining:
            last_seq: int | None = None
            if rejoin and session_id is not None:
                if d.mirror is not None and d.mirror.session_id == session_id:
                    last_seq = d.mirror.last_seq
                elif d.outbox is not None:
                    stored = d.outbox.get_state(STATE_LAST_SEQ)
                    last_seq = int(stored) if stored else None
            reply = await conn.request(
                SessionJoin(session_id=session_id, invite=invite, last_seq=last_seq)
            )
            if not isinstance(reply, SessionState):
                raise DaemonError(f"unexpected answer {reply.TYPE} to session_join")
            return await self.adopt(reply, keep=rejoin)

    async def rejoin(self, session_id: str) -> None:
        """Back online: join the session we were in; forget it if it is gone for us."""
        try:
            await self.join(session_id=session_id, rejoin=True)
        except RelayRefused as exc:
            if exc.code in GONE_CODES:
                self.drop(exc.code)
            else:
                self.d.error(exc.code, f"cannot rejoin the session: {exc.message}")
        except Offline:
            return
        except DaemonError as exc:
            log.warning("rejoin failed: %s", exc.code)
            self.d.error(exc.code, f"cannot rejoin the session: {exc.message}")

    async def adopt(self, state: SessionState, *, keep: bool = False) -> SessionMirror:
        """Make ``state`` the current session and tell the editor everything."""
        d = self.d
        same = d.mirror is not None and d.mirror.session_id == state.session.session_id
        if same and keep:
            assert d.mirror is not None
            change = d.mirror.load(state)
        else:
            d.mirror = SessionMirror(state)
            d.board.clear()
            change = Change(chat=sorted(state.chat, key=lambda m: m.seq),
                            threads=list(d.mirror.threads.values()), participants=True)
        d.mirror.you.status = d.presence.status  # the relay learns it from resend()
        d.want_session = state.session.session_id
        await self._check_repo(state)
        if d.outbox is not None:
            d.outbox.set_state(STATE_SESSION, d.want_session)
        self.save_seq()
        d.notify_session()
        if change.chat:
            d.notify(Method.DID_RECEIVE_CHAT, ChatParams(messages=change.chat))
        d.notify_threads(change.threads, change.removed_threads)
        for mention in state.mentions:  # made while we were away; the relay sends each once
            d.notify_mention(mention)
        d.publish_peers()
        d.presence.resend()
        if d.conn is not None:
            d.joined = (d.conn, state.session.session_id)
        d.spawn(d.flush())
        return d.mirror

    async def _check_repo(self, state: SessionState) -> None:
        from daemon.session.identity import same_repository

        d = self.d
        if d.local_repo is None:
            d.local_repo = await self.repo_identity()
        d.repo_mismatch = not same_repository(state.session.repo, d.local_repo)

    async def repo_identity(self) -> Any:
        from daemon.session.identity import repo_identity
        from wire import RepoIdentity

        d = self.d
        if not d.files.roots:
            return RepoIdentity()
        if d.local_repo is None:
            d.local_repo = await asyncio.to_thread(repo_identity, Path(d.files.roots[0]))
        return d.local_repo

    def save_seq(self) -> None:
        d = self.d
        if d.outbox is not None and d.mirror is not None:
            d.outbox.set_state(STATE_LAST_SEQ, str(d.mirror.last_seq))

    def drop(self, reason: str) -> None:
        """Forget the current session (left, ended, removed) and tell the editor."""
        d = self.d
        if d.mirror is None and d.want_session is None:
            return
        d.mirror = None
        d.want_session = None
        d.joined = None
        d.board.clear()
        if d.outbox is not None:
            d.outbox.set_state(STATE_SESSION, None)
            d.outbox.set_state(STATE_LAST_SEQ, None)
        if d.following is not None:
            d.set_following(None)
        d.presence.cancel_pending()
        d.notify_session(reason)
        d.publish_peers()

    def own_outbox(self, user_id: str) -> None:
        """Durable actions and resume state belong to the user who wrote them: another
        user signing in here neither sends them nor rejoins that user's session."""
        d = self.d
        box = d.outbox
        if box is None or box.owner == user_id:
            return
        if box.owner is not None and d.mirror is not None:
            self.drop("signed_out")
        box.set_owner(user_id)
        d.want_session = box.get_state(STATE_SESSION)
        d.notify_outbox()
