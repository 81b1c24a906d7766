"""Session membership of one daemon: join, adopt, rejoin after a reconnect, leave.

``Membership`` changes the ``RelayState`` through its methods, keeps the outbox's
resume state (the session to rejoin, its last seq) and tells the ``Editor``.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Sequence
from pathlib import Path

from daemon.errors import DaemonError, Offline, RelayRefused
from daemon.session.editor import Editor
from daemon.session.identity import repo_identity, same_repository
from daemon.session.link import RelayLink
from daemon.session.mirror import SessionMirror
from daemon.session.presence import Presence
from daemon.session.state import RelayState
from wire import ErrorCode, RepoIdentity, SessionJoin, SessionState

log = logging.getLogger(__name__)

# After a move to the session's relay: how long "not in session" may mean that relay has
# not yet heard of a join another relay of the cluster admitted a moment ago.
MOVE_GRACE = 3.0
MOVE_RETRY = 0.1

STATE_SESSION = "session_id"
STATE_LAST_SEQ = "last_seq"

# Refusals of a rejoin that mean the session is gone for us: forget it.
GONE_CODES = (ErrorCode.SESSION_ENDED, ErrorCode.SESSION_NOT_FOUND, ErrorCode.REMOVED,
              ErrorCode.NOT_IN_SESSION, ErrorCode.FORBIDDEN)


class Membership:
    """The join/adopt/leave flow of the current session."""

    def __init__(self, state: RelayState, editor: Editor, link: RelayLink, presence: Presence,
                 roots: Sequence[str]) -> None:
        self.state = state
        self.editor = editor
        self.link = link
        self.presence = presence
        self.roots = roots
        self._joining: asyncio.Lock | None = None
        self._moved: str | None = None  # the session whose next rejoin follows a move

    def start(self) -> None:
        """Create the join lock on the running loop (called from ``RelayClient.start``)."""
        self._joining = asyncio.Lock()

    async def join(self, *, session_id: str | None = None, invite: str | None = None,
                   rejoin: bool = False) -> SessionMirror:
        state = self.state
        conn = self.link.require_online()
        assert self._joining is not None
        async with self._joining:
            last_seq: int | None = None
            if rejoin and session_id is not None:
                box = self.link.outbox
                if state.mirror is not None and state.mirror.session_id == session_id:
                    last_seq = state.mirror.last_seq
                elif box is not None:
                    stored = box.get_state(STATE_LAST_SEQ)
                    last_seq = int(stored) if stored else None
            reply = await conn.request(
                SessionJoin(session_id=session_id, invite=invite, last_seq=last_seq)
            )
            if not isinstance(reply, SessionState):
                raise DaemonError(f"unexpected answer {reply.TYPE} to session_join")
            return await self.adopt(reply, keep=rejoin)

    def moving(self, session_id: str) -> None:
        """The connection moves to ``session_id``'s relay: its next rejoin retries a
        refusal "not in session" for ``MOVE_GRACE`` seconds."""
        self._moved = session_id

    async def rejoin(self, session_id: str) -> None:
        """Back online: join the session we were in; forget it if it is gone for us."""
        moved, self._moved = self._moved == session_id, None
        deadline = time.monotonic() + MOVE_GRACE
        while True:
            try:
                await self.join(session_id=session_id, rejoin=True)
            except RelayRefused as exc:
                if moved and exc.code == ErrorCode.NOT_IN_SESSION \
                        and time.monotonic() < deadline:
                    log.info("the session's relay does not know the join yet; retrying")
                    await asyncio.sleep(MOVE_RETRY)
                    continue
                if exc.code in GONE_CODES:
                    self.drop(exc.code)
                else:
                    self.editor.error(exc.code, f"cannot rejoin the session: {exc.message}")
            except Offline:
                return
            except DaemonError as exc:
                log.warning("rejoin failed: %s", exc.code)
                self.editor.error(exc.code, f"cannot rejoin the session: {exc.message}")
            return

    async def adopt(self, frame: SessionState, *, keep: bool = False) -> SessionMirror:
        """Make ``frame`` the current session and tell the editor everything."""
        state, editor, link = self.state, self.editor, self.link
        mirror, change, replaced = state.adopt(frame, keep=keep)
        if replaced:
            editor.session_cleared()
        state.set_own_status(self.presence.status)  # the relay learns it from resend()
        await self._check_repo(frame)
        if link.outbox is not None:
            link.outbox.set_state(STATE_SESSION, state.want_session)
        self.save_seq()
        editor.session_changed()
        if change.chat:
            editor.chat_received(change.chat)
        editor.threads_changed(change.threads, change.removed_threads)
        for mention in frame.mentions:  # made while we were away; the relay sends each once
            editor.mention_received(mention)
        editor.peers_changed()
        self.presence.resend()
        if link.conn is not None:
            state.joined_on(link.conn, frame.session.session_id)
        link.spawn(link.flush())
        return mirror

    async def _check_repo(self, frame: SessionState) -> None:
        local = self.state.local_repo
        if local is None:
            local = await self.repo_identity()
            self.state.set_local_repo(local)
        self.state.set_repo_mismatch(not same_repository(frame.session.repo, local))

    async def repo_identity(self) -> RepoIdentity:
        """The local repository's identity (computed once, in a thread: it runs git)."""
        if not self.roots:
            return RepoIdentity()
        local = self.state.local_repo
        if local is None:
            local = await asyncio.to_thread(repo_identity, Path(self.roots[0]))
            self.state.set_local_repo(local)
        return local

    def save_seq(self) -> None:
        box, m = self.link.outbox, self.state.mirror
        if box is not None and m is not None:
            box.set_state(STATE_LAST_SEQ, str(m.last_seq))

    def drop(self, reason: str) -> None:
        """Forget the current session (left, ended, removed) and tell the editor."""
        if not self.state.drop():
            return
        self.editor.session_cleared()
        box = self.link.outbox
        if box is not None:
            box.set_state(STATE_SESSION, None)
            box.set_state(STATE_LAST_SEQ, None)
        if self.state.following is not None:
            self.follow(None)
        self.presence.cancel_pending()
        self.editor.session_changed(reason)
        self.editor.peers_changed()

    def follow(self, user_id: str | None) -> None:
        self.state.follow(user_id)
        self.editor.following_changed(user_id)

    def own_outbox(self, user_id: str) -> None:
        """Durable actions and resume state belong to the user who wrote them: another
        user signing in here neither sends them nor rejoins that user's session."""
        box = self.link.outbox
        if box is None or box.owner == user_id:
            return
        if box.owner is not None and self.state.mirror is not None:
            self.drop("signed_out")
        box.set_owner(user_id)
        self.state.want(box.get_state(STATE_SESSION))
        self.link.notify_outbox()
