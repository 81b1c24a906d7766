"""Every ``ensemble/`` method: typed params in, typed result out (account and sessions
here, chat, comments and ephemeral state in ``daemon.lsp.actions``).

The server checks params against ``daemon.protocol`` and turns
``DaemonError`` into LSP errors; these functions hold the behaviour.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import parse_qs, quote, urlparse

from daemon.errors import DaemonError, InvalidParams, Offline
from daemon.lsp.actions import Actions
from daemon.lsp.core import Daemon
from daemon.protocol import (
    CreateInviteParams,
    CreateSessionParams,
    Empty,
    FollowParams,
    InviteLink,
    JoinSessionParams,
    Method,
    RevokeInviteParams,
    SessionIdParams,
    SessionView,
    SetRoleParams,
    SetStatusParams,
    SignInParams,
    SignInResult,
    SignUpParams,
    StateResult,
    UriParams,
    UserIdParams,
    ViewersResult,
)
from daemon.session.connection import authenticate
from wire import (
    AuthOk,
    InviteCreate,
    InviteResult,
    InviteRevoke,
    ParticipantRemove,
    RoleSet,
    SessionCreate,
    SessionEnd,
    SessionInfo,
    SessionLeave,
    SessionList,
    SessionListResult,
    SessionState,
    SignIn,
    SignUp,
    ViewersQuery,
)
from wire import ViewersResult as WireViewers

JOIN_HOST = "ensemble.ensemble"

log = logging.getLogger(__name__)


class Handlers:
    """Request and notification handlers bound to one ``Daemon``."""

    def __init__(self, daemon: Daemon) -> None:
        self.d = daemon
        self.relay = daemon.relay
        self.actions = Actions(daemon)

    def requests(self) -> dict[str, Callable[[Any], Awaitable[Any]]]:
        return {
            Method.SIGN_UP: self.sign_up,
            Method.SIGN_IN: self.sign_in,
            Method.SIGN_OUT: self.sign_out,
            Method.STATE: self.state,
            Method.CREATE_SESSION: self.create_session,
            Method.LIST_SESSIONS: self.list_sessions,
            Method.JOIN_SESSION: self.join_session,
            Method.LEAVE_SESSION: self.leave_session,
            Method.END_SESSION: self.end_session,
            Method.CREATE_INVITE: self.create_invite,
            Method.REVOKE_INVITE: self.revoke_invite,
            Method.SET_ROLE: self.set_role,
            Method.REMOVE_PARTICIPANT: self.remove_participant,
            Method.SET_STATUS: self.set_status,
            Method.WHO_IS_VIEWING: self.who_is_viewing,
            Method.FOLLOW: self.follow,
            Method.SEND_CHAT: self.actions.send_chat,
            Method.EDIT_CHAT: self.actions.edit_chat,
            Method.DELETE_CHAT: self.actions.delete_chat,
            Method.REACT: self.actions.react,
            Method.CHAT_HISTORY: self.actions.chat_history,
            Method.CREATE_THREAD: self.actions.create_thread,
            Method.REPLY: self.actions.reply,
            Method.EDIT_COMMENT: self.actions.edit_comment,
            Method.DELETE_COMMENT: self.actions.delete_comment,
            Method.RESOLVE_THREAD: self.actions.resolve_thread,
            Method.DELETE_THREAD: self.actions.delete_thread,
            Method.THREADS: self.actions.threads,
            Method.EXPORT: self.actions.export,
        }

    def notifications(self) -> dict[str, Callable[[Any], None]]:
        return {
            Method.CURSOR: self.actions.cursor,
            Method.VIEWPORT: self.actions.viewport,
            Method.FOCUS: self.actions.focus,
            Method.ACTIVITY: self.actions.activity,
            Method.RECONNECT: self.reconnect,
        }

    def reconnect(self, p: Empty) -> None:
        """Offline: try the relay now instead of waiting out the backoff (the window
        regained focus, or the user ran Reconnect Now)."""
        conn = self.relay.conn
        if conn is not None:
            conn.retry_now()

    # ----- account -------------------------------------------------------------------

    async def _auth(self, msg: SignUp | SignIn, relay_url: str | None) -> SignInResult:
        """Sign up or in on the first relay that answers: ``relay_url`` first when given.
        A ``relay_url`` that is not one of the configured relays switches to it alone."""
        urls = self.d.state.relay_urls
        first = relay_url.rstrip("/") if relay_url else None
        if first is not None and first not in urls:
            urls = [first]
        tries = [first, *(u for u in urls if u != first)] if first else list(urls)
        failure: Offline | None = None
        for url in tries:
            try:
                ok: AuthOk = await authenticate(url, msg)
            except Offline as exc:
                log.info("sign-in: %s", exc.message)
                failure = exc
                continue
            await self.relay.sign_in(urls, url, ok)
            return SignInResult(token=ok.token, user=ok.user, expires_at=ok.expires_at)
        assert failure is not None
        raise failure

    async def sign_up(self, p: SignUpParams) -> SignInResult:
        name = p.display_name or self.d.config.display_name
        return await self._auth(
            SignUp(username=p.username, password=p.password, display_name=name), p.relay_url
        )

    async def sign_in(self, p: SignInParams) -> SignInResult:
        return await self._auth(SignIn(username=p.username, password=p.password), p.relay_url)

    async def sign_out(self, p: Empty) -> None:
        await self.relay.sign_out()

    async def state(self, p: Empty) -> StateResult:
        d = self.d
        return StateResult(
            connection=d.connection_params(),
            session=d.session_view(),
            peers=d.peer_views(),
            outbox=self.relay.pending(),
            following=d.state.following,
        )

    # ----- sessions ------------------------------------------------------------------

    async def create_session(self, p: CreateSessionParams) -> SessionView:
        d = self.d
        conn = self.relay.require_online()
        if not p.name.strip():
            raise InvalidParams("name: must not be empty")
        repo = await self.relay.repo_identity()
        reply = await conn.request(SessionCreate(name=p.name, repo=repo))
        if not isinstance(reply, SessionState):
            raise DaemonError(f"unexpected answer {reply.TYPE} to session_create")
        await self._leave_current(reply.session.session_id)
        await self.relay.adopt(reply)
        view = d.session_view()
        assert view is not None
        await self.relay.settle()
        return d.session_view() or view

    async def list_sessions(self, p: Empty) -> list[SessionInfo]:
        reply = await self.relay.require_online().request(SessionList())
        assert isinstance(reply, SessionListResult)
        return reply.sessions

    async def _leave_current(self, next_id: str | None) -> None:
        relay = self.relay
        m, conn = relay.state.mirror, relay.conn
        if m is not None and m.session_id != next_id and conn is not None:
            old = m.session_id
            with contextlib.suppress(DaemonError):
                await conn.request(SessionLeave(session_id=old))
            relay.drop("left")

    async def join_session(self, p: JoinSessionParams) -> SessionView:
        d = self.d
        session_id, invite = p.session_id, p.invite
        if p.link:
            invite = self._invite_from_link(p.link)
        if not session_id and not invite:
            raise InvalidParams("give a link, an invite token or a session id")
        self.relay.require_online()
        if session_id and d.state.session_id == session_id:
            view = d.session_view()
            assert view is not None
            return view
        old = d.state.session_id
        mirror = await self.relay.join(session_id=session_id, invite=invite)
        conn = self.relay.conn
        if old is not None and old != mirror.session_id and conn is not None:
            try:
                await conn.request(SessionLeave(session_id=old))
            except DaemonError as exc:
                log.info("could not leave the previous session: %s", exc.code)
        view = d.session_view()
        assert view is not None
        await self.relay.settle()
        return d.session_view() or view

    def _invite_from_link(self, link: str) -> str:
        link = link.strip()
        if "://" not in link:
            return link
        parts = urlparse(link)
        query = parse_qs(parts.query)
        invite = (query.get("invite") or [""])[0]
        if not invite:
            raise InvalidParams("link: no invite token in the link")
        relay = (query.get("relay") or [""])[0]
        urls = self.d.state.relay_urls
        if relay and relay.rstrip("/") not in urls:
            raise DaemonError(
                f"the invite is for relay {relay}, signed in to {', '.join(urls)}",
                code="relay_mismatch",
            )
        return invite

    def _session_id(self, p: SessionIdParams) -> str:
        if p.session_id:
            return p.session_id
        return self.relay.require_session().session_id

    async def leave_session(self, p: SessionIdParams) -> None:
        sid = self._session_id(p)
        await self._close_session(sid, SessionLeave(session_id=sid), "left")

    async def end_session(self, p: SessionIdParams) -> None:
        sid = self._session_id(p)
        await self._close_session(sid, SessionEnd(session_id=sid), "ended")

    async def _close_session(self, sid: str, request: SessionLeave | SessionEnd,
                             reason: str) -> None:
        """Leave or end ``sid``: pending actions of the current session go out first."""
        relay = self.relay
        conn = relay.require_online()
        if relay.state.session_id == sid:
            await relay.drain()
        await conn.request(request)
        if relay.state.session_id == sid:
            relay.drop(reason)

    async def create_invite(self, p: CreateInviteParams) -> InviteLink:
        d = self.d
        m = self.relay.require_session()
        if p.expires_in <= 0:
            raise InvalidParams("expires_in: must be positive")
        reply = await self.relay.require_online().request(
            InviteCreate(session_id=m.session_id, role=p.role, expires_in=p.expires_in)
        )
        assert isinstance(reply, InviteResult)
        inv = reply.invite
        link = (f"vscode://{JOIN_HOST}/join?relay={quote(d.state.home_url, safe='')}"
                f"&invite={quote(inv.token, safe='')}")
        return InviteLink(invite_id=inv.invite_id, role=inv.role, link=link, token=inv.token,
                          expires_at=inv.expires_at)

    async def revoke_invite(self, p: RevokeInviteParams) -> None:
        m = self.relay.require_session()
        await self.relay.require_online().request(
            InviteRevoke(session_id=m.session_id, invite_id=p.invite_id))

    async def set_role(self, p: SetRoleParams) -> None:
        m = self.relay.require_session()
        await self.relay.require_online().request(
            RoleSet(session_id=m.session_id, user_id=p.user_id, role=p.role))

    async def remove_participant(self, p: UserIdParams) -> None:
        m = self.relay.require_session()
        await self.relay.require_online().request(
            ParticipantRemove(session_id=m.session_id, user_id=p.user_id))

    async def set_status(self, p: SetStatusParams) -> None:
        self.relay.require_session()
        self.relay.presence.set_status(p.status, manual=True)

    async def who_is_viewing(self, p: UriParams) -> ViewersResult:
        d = self.d
        m = self.relay.require_session()
        path = d.files.require_path(p.uri)
        reply = await self.relay.require_online().request(
            ViewersQuery(session_id=m.session_id, path=path))
        assert isinstance(reply, WireViewers)
        return ViewersResult(uri=p.uri, users=reply.users)

    async def follow(self, p: FollowParams) -> None:
        d = self.d
        m = self.relay.require_session()
        if p.user_id is not None:
            if p.user_id == m.me:
                raise InvalidParams("user_id: cannot follow yourself")
            if p.user_id not in m.participants:
                raise DaemonError(f"{p.user_id} is not in the session", code="not_found")
        self.relay.follow(p.user_id)
        d.publish_peers()
