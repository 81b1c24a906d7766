"""The relay side of one editor window: account, connection, session, outbox, presence.

``RelayClient`` has no LSP in it: the editor side hands it typed requests and an
``Editor`` (``daemon.session.editor``) to tell. It owns the ``RelayState`` and
coordinates; ``daemon.session.link`` holds the connection and the outbox,
``daemon.session.frames`` applies what the relay pushes and
``daemon.session.membership`` runs the join/adopt/leave flow of a session.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
from collections.abc import Sequence
from typing import cast

from daemon.config import Config
from daemon.session.connection import RelayConnection, Route
from daemon.session.editor import Editor
from daemon.session.frames import RelayFrames
from daemon.session.link import RelayLink, new_id
from daemon.session.membership import STATE_SESSION, Membership
from daemon.session.mirror import SessionMirror
from daemon.session.presence import Presence
from daemon.session.relays import relay_order
from daemon.session.state import ConnState, RelayState
from wire import AuthOk, Message, RepoIdentity, SessionState, Status, Welcome

log = logging.getLogger(__name__)

SETTLE_TIMEOUT = 10.0  # most seconds ``settle`` waits for the session on the new relay


class RelayClient:
    """Everything one daemon does with its relay."""

    def __init__(self, config: Config, roots: Sequence[str], editor: Editor) -> None:
        self.config = config
        self.editor = editor
        self.state = RelayState(config.relay_urls, config.token)
        self.link = RelayLink(self.state, editor)
        self.presence = Presence(config, lambda: self.link.conn, lambda: self.state.session_id)
        self.presence.on_status = self._own_status_changed
        self.membership = Membership(self.state, editor, self.link, self.presence, roots)
        self.frames = RelayFrames(self.state, editor, self.link, self.membership)

    @property
    def conn(self) -> RelayConnection | None:
        return self.link.conn

    # ----- lifecycle -------------------------------------------------------------------

    def outbox_name(self) -> str:
        key = self.config.relay_url + "|" + ",".join(self.config.workspace_roots)
        return "outbox-" + hashlib.sha1(key.encode()).hexdigest()[:12] + ".sqlite3"

    def start(self) -> None:
        """Open the outbox and connect in the background (called after initialized)."""
        self.membership.start()
        box = self.link.open_outbox(self.config.data_dir / self.outbox_name())
        self.state.want(box.get_state(STATE_SESSION))
        self.link.notify_outbox()
        self.presence.start()
        if self.state.token:
            self.connect()
        else:
            self.set_conn_state("signed_out", None, None)

    def connect(self) -> None:
        token = self.state.token
        assert token is not None
        self.link.attach(RelayConnection(
            self.route,
            token,
            on_message=self.frames.on_message,
            on_online=self._on_online,
            on_state=self.set_conn_state,
            on_closed=self.frames.on_closed,
            on_bad_items=lambda line: self.editor.error("bad_item", line),
        ))

    def route(self) -> Route:
        """The relays to try, best first, and the session the connection is for: in (or
        rejoining) a session, its rendezvous order; else the configured order."""
        session_id = self.state.want_session
        return relay_order(self.state.relay_urls, session_id), session_id

    async def settle(self) -> None:
        """Just joined or created a session on a relay that is not the session's first
        choice: reconnect to that one (the session is rejoined there) and wait until it
        is joined again, at most ``SETTLE_TIMEOUT``. Only here: a reconnect after a drop
        stays on whichever relay answers, so a relay coming back causes no move."""
        conn, session_id = self.link.conn, self.state.want_session
        if conn is None or not conn.online or session_id is None:
            return
        order, _ = self.route()
        if len(order) < 2 or conn.url == order[0]:
            return
        log.info("session %s prefers relay %s; moving from %s", session_id, order[0], conn.url)
        welcomes = conn.welcomes
        self.membership.moving(session_id)
        await conn.move()
        deadline = time.monotonic() + SETTLE_TIMEOUT
        while time.monotonic() < deadline:
            if self.state.want_session != session_id or self.link.conn is not conn:
                return
            if conn.welcomes > welcomes and self.state.joined == (conn, session_id):
                return
            await asyncio.sleep(0.02)

    async def disconnect(self) -> None:
        await self.link.detach()
        self.presence.stop_heartbeat()

    async def close(self) -> None:
        """Stop everything; the outbox keeps what was not acked."""
        await self.disconnect()
        await self.presence.close()
        self.link.close()

    def close_outbox(self) -> None:
        self.link.close_outbox()

    # ----- account and connection --------------------------------------------------------

    async def sign_in(self, relay_urls: list[str], relay_url: str, ok: AuthOk) -> None:
        """Signed up or in on ``relay_url`` (one of ``relay_urls``, the relays to use from
        now on): connect as that user."""
        await self.disconnect()
        if self.state.user is not None and self.state.user.id != ok.user.id:
            self.membership.drop("signed_out")
        self.membership.own_outbox(ok.user.id)
        self.state.signed_in(relay_urls, relay_url, ok.token, ok.user)
        self.connect()

    async def sign_out(self) -> None:
        self.membership.drop("signed_out")
        await self.disconnect()
        self.state.signed_out()
        self.set_conn_state("signed_out", None, None)

    def set_conn_state(self, state: str, retry_at: float | None, detail: str | None) -> None:
        assert state in ("signed_out", "connecting", "online", "offline")
        conn = self.link.conn
        refused = state == "signed_out" and conn is not None and bool(detail)
        if conn is not None and conn.url:
            self.state.at_relay(conn.url)
        self.state.set_connection(cast(ConnState, state), retry_at, detail,
                                  token_refused=refused)
        if state != "online":
            self.presence.stop_heartbeat()
            self.editor.connection_changed()
        # "online" is announced once, by _on_online, when the welcome's user is known

    async def _on_online(self, welcome: Welcome) -> None:
        self.state.welcomed(welcome.user)
        if welcome.user is not None:
            self.membership.own_outbox(welcome.user.id)
        self.editor.connection_changed()
        self.presence.start_heartbeat(welcome.limits.presence_timeout)
        if self.state.want_session is not None:
            await self.membership.rejoin(self.state.want_session)

    def _own_status_changed(self, status: Status) -> None:
        """Our status changed (manual or idle/away): the editor shows it on our own row."""
        if self.state.set_own_status(status):
            self.editor.session_changed()

    # ----- session -------------------------------------------------------------------

    def require_online(self) -> RelayConnection:
        return self.link.require_online()

    def require_session(self) -> SessionMirror:
        return self.state.require_session()

    async def join(self, *, session_id: str | None = None, invite: str | None = None,
                   rejoin: bool = False) -> SessionMirror:
        return await self.membership.join(session_id=session_id, invite=invite, rejoin=rejoin)

    async def adopt(self, frame: SessionState, *, keep: bool = False) -> SessionMirror:
        """Make ``frame`` the current session and tell the editor everything."""
        return await self.membership.adopt(frame, keep=keep)

    async def repo_identity(self) -> RepoIdentity:
        return await self.membership.repo_identity()

    def drop(self, reason: str) -> None:
        """Forget the current session (left, ended, removed) and tell the editor."""
        self.membership.drop(reason)

    def follow(self, user_id: str | None) -> None:
        self.membership.follow(user_id)

    # ----- durable actions ------------------------------------------------------------

    def new_id(self) -> str:
        return new_id()

    def queue(self, msg: Message, method: str) -> str:
        """Commit a durable action to the outbox, then send it when possible."""
        return self.link.queue(msg, method)

    def pending(self) -> int:
        return self.link.pending()

    async def drain(self, timeout: float = 5.0) -> None:
        await self.link.drain(timeout)
