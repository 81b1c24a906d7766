"""The daemon's collaboration core: connection, session, outbox, presence.

``Daemon`` has no LSP in it: the server hands it typed requests and gives it
a ``notify(method, params)`` callback for editor notifications. It holds the state
and coordinates; ``daemon.session.frames`` applies what the relay pushes and
``daemon.session.membership`` runs the join/adopt/leave flow of a session.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import time
import uuid
from collections.abc import Callable
from typing import Any

from daemon.config import Config
from daemon.lsp import views
from daemon.lsp.board import ThreadBoard
from daemon.lsp.local import LocalFiles
from daemon.protocol import (
    ConnectionParams,
    ConnectionState,
    ErrorParams,
    FollowStateParams,
    LocalThread,
    MentionParams,
    Method,
    OutboxParams,
    PeersParams,
    PeerView,
    SessionParams,
    SessionView,
)
from daemon.session.connection import RelayConnection
from daemon.session.frames import RelayFrames
from daemon.session.membership import STATE_SESSION, Membership
from daemon.session.mirror import SessionMirror
from daemon.session.outbox import Outbox
from daemon.session.presence import Presence
from daemon.session.traffic import Debouncer
from wire import Mention, Message, SessionState, Status, Thread, UserRef, Welcome

log = logging.getLogger(__name__)

Notify = Callable[[str, Any], None]


class Daemon:
    """All collaboration state of one editor window."""

    def __init__(self, config: Config, files: LocalFiles, notify: Notify) -> None:
        self.config = config
        self.files = files
        self._notify = notify
        self.token = config.token
        self.user: UserRef | None = None
        self.conn: RelayConnection | None = None
        self._conn_task: asyncio.Task[None] | None = None
        self.conn_state: ConnectionState = "signed_out"
        self.next_retry_at: float | None = None
        self.detail: str | None = None
        self.mirror: SessionMirror | None = None
        self.want_session: str | None = None
        self.repo_mismatch = False
        self.following: str | None = None
        self.outbox: Outbox | None = None
        self.presence = Presence(config, lambda: self.conn,
                                 lambda: self.mirror.session_id if self.mirror else None)
        self.presence.on_status = self._own_status_changed
        self.publish_peers = Debouncer(1.0 / config.cursor_rate, self._publish_peers)
        self._tasks: set[asyncio.Task[Any]] = set()
        self.board = ThreadBoard(files, self.notify)
        # (connection, session id) once joined on that connection: durable actions
        # go out directly only then; before, the flush after the join sends them
        self.joined: tuple[RelayConnection, str] | None = None
        self.on_peers_changed: Callable[[list[PeerView]], None] | None = None
        self.local_repo: Any = None
        self.frames = RelayFrames(self)
        self.membership = Membership(self)

    # ----- lifecycle ---------------------------------------------------------------

    def outbox_name(self) -> str:
        key = self.config.relay_url + "|" + ",".join(self.config.workspace_roots)
        return "outbox-" + hashlib.sha1(key.encode()).hexdigest()[:12] + ".sqlite3"

    def start(self) -> None:
        """Open the outbox and connect in the background (called after initialized)."""
        self.membership.start()
        self.outbox = Outbox(self.config.data_dir / self.outbox_name())
        self.want_session = self.outbox.get_state(STATE_SESSION)
        self.notify_outbox()
        self.presence.start()
        if self.token:
            self.connect()
        else:
            self.set_conn_state("signed_out", None, None)

    def connect(self) -> None:
        assert self.token is not None
        self.conn = RelayConnection(
            self.config.relay_url,
            self.token,
            on_message=self.frames.on_message,
            on_online=self._on_online,
            on_state=self.set_conn_state,
            on_closed=self.frames.on_closed,
            on_bad_items=lambda line: self.error("bad_item", line),
        )
        self._conn_task = self.spawn(self.conn.run())

    async def disconnect(self) -> None:
        conn, task = self.conn, self._conn_task
        self.conn = None
        self._conn_task = None
        if conn is not None:
            await conn.stop()
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self.presence.stop_heartbeat()

    async def close(self) -> None:
        """Stop everything; the outbox keeps what was not acked."""
        await self.disconnect()
        await self.presence.close()
        self.publish_peers.cancel()
        for task in list(self._tasks):
            task.cancel()
        if self.outbox is not None:
            self.outbox.close()
            self.outbox = None

    def spawn(self, coro: Any) -> asyncio.Task[Any]:
        task: asyncio.Task[Any] = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._task_done)
        return task

    def _task_done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            exc = task.exception()
            log.error("background task failed: %r", exc, exc_info=exc)

    # ----- editor notifications -------------------------------------------------------

    def notify(self, method: str, params: Any) -> None:
        self._notify(method, params)

    def error(self, code: str, message: str, method: str | None = None,
              action_id: str | None = None) -> None:
        self.notify(Method.DID_ERROR,
                    ErrorParams(code=code, message=message, method=method, id=action_id))

    def connection_params(self) -> ConnectionParams:
        return ConnectionParams(
            state=self.conn_state,
            relay_url=self.config.relay_url,
            user=self.user,
            next_retry_at=self.next_retry_at,
            detail=self.detail,
        )

    def set_conn_state(self, state: str, retry_at: float | None, detail: str | None) -> None:
        assert state in ("signed_out", "connecting", "online", "offline")
        self.conn_state = state  # type: ignore[assignment]
        self.next_retry_at = retry_at
        self.detail = detail
        if state == "signed_out" and self.conn is not None and detail:
            self.token = None
        if state != "online":
            self.presence.stop_heartbeat()
            self.joined = None
            self.notify(Method.DID_CHANGE_CONNECTION, self.connection_params())
        # "online" is announced once, by _on_online, when the welcome's user is known

    def notify_outbox(self) -> None:
        pending = self.outbox.count() if self.outbox is not None else 0
        self.notify(Method.DID_CHANGE_OUTBOX, OutboxParams(pending=pending))

    def session_view(self) -> SessionView | None:
        m = self.mirror
        if m is None:
            return None
        return SessionView(
            session=m.info,
            you=m.you,
            participants=sorted(m.participants.values(), key=lambda p: p.joined_at),
            invite_base=self.config.relay_url,
            repo_mismatch=self.repo_mismatch,
        )

    def _own_status_changed(self, status: Status) -> None:
        """Our status changed (manual or idle/away): the editor shows it on our own row."""
        if self.mirror is not None and self.mirror.you.status != status:
            self.mirror.you.status = status
            self.notify_session()

    def notify_session(self, reason: str | None = None) -> None:
        self.notify(Method.DID_CHANGE_SESSION,
                    SessionParams(session=self.session_view(), reason=reason))

    def _publish_peers(self) -> None:
        peers = views.peer_views(self.mirror, self.files) if self.mirror else []
        self.notify(Method.DID_CHANGE_PEERS, PeersParams(peers=peers))
        if self.on_peers_changed is not None:
            self.on_peers_changed(peers)

    def local_thread(self, thread: Thread) -> LocalThread | None:
        return self.board.place(thread)

    def notify_threads(self, threads: list[Thread], removed: list[str] | None = None) -> None:
        self.board.publish(threads, removed)

    def document_changed(self, uri: str, edits: list[Any]) -> None:
        """Local edits: threads of this file follow them; tell the editor what moved."""
        if self.mirror is not None:
            self.board.document_changed(uri, edits, self.mirror.threads.values())

    def document_opened(self, uri: str) -> None:
        """A document was opened: place its threads against the open text."""
        if self.mirror is not None:
            self.board.document_opened(uri, self.mirror.threads.values())

    def notify_mention(self, mention: Mention) -> None:
        uri = None
        if mention.thread_id and self.mirror is not None:
            thread = self.mirror.threads.get(mention.thread_id)
            if thread is not None:
                uri = self.files.uri_of(thread.anchor.path)
        self.notify(Method.DID_RECEIVE_MENTION, MentionParams(mention=mention, uri=uri))

    # ----- relay connection ----------------------------------------------------------

    async def _on_online(self, welcome: Welcome) -> None:
        self.user = welcome.user
        if welcome.user is not None:
            self.own_outbox(welcome.user.id)
        self.notify(Method.DID_CHANGE_CONNECTION, self.connection_params())
        self.presence.start_heartbeat(welcome.limits.presence_timeout)
        if self.want_session is not None:
            await self.membership.rejoin(self.want_session)

    def own_outbox(self, user_id: str) -> None:
        """Durable actions and resume state belong to the user who wrote them."""
        self.membership.own_outbox(user_id)

    # ----- session (``daemon.session.membership``) ----------------------------------------------

    def require_online(self) -> RelayConnection:
        return self.membership.require_online()

    def require_session(self) -> SessionMirror:
        return self.membership.require_session()

    async def join(self, *, session_id: str | None = None, invite: str | None = None,
                   rejoin: bool = False) -> SessionMirror:
        return await self.membership.join(session_id=session_id, invite=invite, rejoin=rejoin)

    async def adopt(self, state: SessionState, *, keep: bool = False) -> SessionMirror:
        """Make ``state`` the current session and tell the editor everything."""
        return await self.membership.adopt(state, keep=keep)

    async def repo_identity(self) -> Any:
        return await self.membership.repo_identity()

    def drop_session(self, reason: str) -> None:
        """Forget the current session (left, ended, removed) and tell the editor."""
        self.membership.drop(reason)

    def set_following(self, user_id: str | None) -> None:
        self.following = user_id
        self.notify(Method.DID_CHANGE_FOLLOW, FollowStateParams(user_id=user_id))

    # ----- outbox ---------------------------------------------------------------------

    def new_id(self) -> str:
        return uuid.uuid4().hex

    def queue(self, msg: Message, method: str) -> str:
        """Commit a durable action to the outbox, then send it when possible."""
        assert self.outbox is not None
        entry = self.outbox.add(msg, method)
        self.notify_outbox()
        conn = self.conn
        if conn is not None and conn.online and self.joined == (conn, entry.session_id):
            self.spawn(conn.send(msg))
        return entry.id

    async def flush(self) -> None:
        """Send every pending action of the current session, oldest first."""
        conn, m = self.conn, self.mirror
        if conn is None or m is None or self.outbox is None:
            return
        for entry in self.outbox.pending(m.session_id):
            if not await conn.send(entry.message):
                return

    async def drain(self, timeout: float = 5.0) -> None:
        """Before leaving the current session: give its pending actions a chance to be acked.

        What is still pending after ``timeout`` stays in the outbox and goes out when the
        session is joined again.
        """
        m, box = self.mirror, self.outbox
        if m is None or box is None or not box.pending(m.session_id):
            return
        await self.flush()
        deadline = time.monotonic() + timeout
        while box.pending(m.session_id) and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
