"""The daemon's collaboration core: connection, session, outbox, presence.

``Daemon`` has no LSP in it: the server hands it typed requests and gives it
a ``notify(method, params)`` callback for editor notifications.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from daemon import views
from daemon.board import ThreadBoard
from daemon.config import Config
from daemon.connection import RelayConnection
from daemon.errors import DaemonError, NotInSession, NotSignedIn, Offline, RelayRefused
from daemon.local import LocalFiles
from daemon.outbox import Outbox
from daemon.presence import Presence
from daemon.protocol import (
    ChatParams,
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
from daemon.session import Change, SessionMirror
from daemon.traffic import Debouncer
from relay.protocol import (
    Ack,
    CloseCode,
    Error,
    ErrorCode,
    Event,
    Mention,
    MentionNotice,
    Message,
    PresenceUpdate,
    SessionJoin,
    SessionState,
    Status,
    Thread,
    UserJoined,
    UserLeft,
    UserRef,
    Welcome,
)

log = logging.getLogger(__name__)

Notify = Callable[[str, Any], None]

# Refusals worth retrying later; every other refusal of an outbox entry is final.
TRANSIENT_CODES = frozenset(
    {ErrorCode.RATE_LIMITED, ErrorCode.SHUTTING_DOWN, ErrorCode.INTERNAL}
)
STATE_SESSION = "session_id"
STATE_LAST_SEQ = "last_seq"


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
        self._joining: asyncio.Lock | None = None
        self.board = ThreadBoard(files, self.notify)
        # (connection, session id) once joined on that connection: durable actions
        # go out directly only then; before, the flush after the join sends them
        self.joined: tuple[RelayConnection, str] | None = None
        self.on_peers_changed: Callable[[list[PeerView]], None] | None = None
        self.local_repo: Any = None

    # ----- lifecycle ---------------------------------------------------------------

    def outbox_name(self) -> str:
        key = self.config.relay_url + "|" + ",".join(self.config.workspace_roots)
        return "outbox-" + hashlib.sha1(key.encode()).hexdigest()[:12] + ".sqlite3"

    def start(self) -> None:
        """Open the outbox and connect in the background (called after initialized)."""
        self._joining = asyncio.Lock()
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
            on_message=self._on_message,
            on_online=self._on_online,
            on_state=self.set_conn_state,
            on_closed=self._on_closed,
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

    def error(self, code: str, message: str, method: str | None = None) -> None:
        self.notify(Method.DID_ERROR, ErrorParams(code=code, message=message, method=method))

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

    def _apply_change(self, change: Change) -> None:
        if change.chat:
            self.notify(Method.DID_RECEIVE_CHAT,
                        ChatParams(messages=sorted(change.chat, key=lambda m: m.seq)))
        if change.threads:
            self.notify_threads(change.threads)
        if change.removed_me:
            self.drop_session("removed")
            return
        if change.ended:
            self.drop_session("ended")
            return
        if change.participants:
            self.notify_session()
            self.publish_peers()

    # ----- relay events ---------------------------------------------------------------

    def _on_message(self, msg: Message) -> None:
        if isinstance(msg, Ack):
            self._acked(msg.id)
        elif isinstance(msg, Error):
            self._refused(msg)
        elif isinstance(msg, Event):
            if self.mirror is not None and msg.session_id == self.mirror.session_id:
                self._apply_change(self.mirror.apply(msg))
                self._save_seq()
        elif isinstance(msg, PresenceUpdate):
            if self.mirror is not None and msg.session_id == self.mirror.session_id:
                changed = [self.mirror.merge_presence(p) for p in msg.peers]
                if any(changed):
                    self.publish_peers()
        elif isinstance(msg, UserJoined):
            if self.mirror is not None and msg.session_id == self.mirror.session_id:
                self.mirror.set_online(msg.participant.user.id, msg.participant, True)
                self.notify_session()
                self.publish_peers()
        elif isinstance(msg, UserLeft):
            self._user_left(msg)
        elif isinstance(msg, MentionNotice):
            self._notify_mention(msg.mention)
        else:
            log.debug("unhandled frame %s", msg.TYPE)

    def _notify_mention(self, mention: Mention) -> None:
        uri = None
        if mention.thread_id and self.mirror is not None:
            thread = self.mirror.threads.get(mention.thread_id)
            if thread is not None:
                uri = self.files.uri_of(thread.anchor.path)
        self.notify(Method.DID_RECEIVE_MENTION, MentionParams(mention=mention, uri=uri))

    def _user_left(self, msg: UserLeft) -> None:
        m = self.mirror
        if m is None or msg.session_id != m.session_id:
            return
        if msg.user_id == m.me and msg.reason in ("removed", "ended"):
            self.drop_session(msg.reason)
            return
        if msg.reason == "removed":
            m.participants.pop(msg.user_id, None)
            m.presence.pop(msg.user_id, None)
        else:
            m.set_online(msg.user_id, None, False)
        if self.following == msg.user_id:
            self.set_following(None)
        self.notify_session()
        self.publish_peers()

    def _acked(self, msg_id: str) -> None:
        if self.outbox is not None and self.outbox.remove(msg_id) is not None:
            self.notify_outbox()

    def _refused(self, err: Error) -> None:
        entry = self.outbox.get(err.id) if (self.outbox is not None and err.id) else None
        if entry is None:
            self.error(err.code, err.message)
            return
        if err.code in TRANSIENT_CODES:
            log.info("relay deferred %s (%s), retrying", entry.message.TYPE, err.code)
            self.spawn(self._retry(entry.id, 1.0))
            return
        assert self.outbox is not None
        self.outbox.remove(entry.id)
        self.notify_outbox()
        self.error(err.code, f"{entry.message.TYPE} {entry.id} refused: {err.message}",
                   entry.method)

    async def _retry(self, msg_id: str, delay: float) -> None:
        await asyncio.sleep(delay)
        entry = self.outbox.get(msg_id) if self.outbox is not None else None
        if entry is not None and self.conn is not None:
            await self.conn.send(entry.message)

    def _on_closed(self, code: int, reason: str) -> None:
        if code == CloseCode.REMOVED:
            self.drop_session("removed")
        elif code == CloseCode.SESSION_ENDED:
            self.drop_session("ended")

    async def _on_online(self, welcome: Welcome) -> None:
        self.user = welcome.user
        if welcome.user is not None:
            self.own_outbox(welcome.user.id)
        self.notify(Method.DID_CHANGE_CONNECTION, self.connection_params())
        self.presence.start_heartbeat(welcome.limits.presence_timeout)
        if self.want_session is not None:
            try:
                await self.join(session_id=self.want_session, rejoin=True)
            except RelayRefused as exc:
                if exc.code in (ErrorCode.SESSION_ENDED, ErrorCode.SESSION_NOT_FOUND,
                                ErrorCode.REMOVED, ErrorCode.NOT_IN_SESSION,
                                ErrorCode.FORBIDDEN):
                    self.drop_session(exc.code)
                else:
                    self.error(exc.code, f"cannot rejoin the session: {exc.message}")
            except Offline:
                return
            except DaemonError as exc:
                log.warning("rejoin failed: %s", exc.code)
                self.error(exc.code, f"cannot rejoin the session: {exc.message}")

    def own_outbox(self, user_id: str) -> None:
        """Durable actions and resume state belong to the user who wrote them: another
        user signing in here neither sends them nor rejoins that user's session."""
        box = self.outbox
        if box is None or box.owner == user_id:
            return
        if box.owner is not None and self.mirror is not None:
            self.drop_session("signed_out")
        box.set_owner(user_id)
        self.want_session = box.get_state(STATE_SESSION)
        self.notify_outbox()

    # ----- session --------------------------------------------------------------------

    def require_online(self) -> RelayConnection:
        if not self.token:
            raise NotSignedIn("sign in first")
        if self.conn is None or not self.conn.online:
            raise Offline("the relay is not reachable; try again when online")
        return self.conn

    def require_session(self) -> SessionMirror:
        if not self.token:
            raise NotSignedIn("sign in first")
        if self.mirror is None:
            raise NotInSession("join or create a session first")
        return self.mirror

    async def join(self, *, session_id: str | None = None, invite: str | None = None,
                   rejoin: bool = False) -> SessionMirror:
        conn = self.require_online()
        assert self._joining is not None
        async with self._joining:
            last_seq: int | None = None
            if rejoin and session_id is not None:
                if self.mirror is not None and self.mirror.session_id == session_id:
                    last_seq = self.mirror.last_seq
                elif self.outbox is not None:
                    stored = self.outbox.get_state(STATE_LAST_SEQ)
                    last_seq = int(stored) if stored else None
            reply = await conn.request(
                SessionJoin(session_id=session_id, invite=invite, last_seq=last_seq)
            )
            if not isinstance(reply, SessionState):
                raise DaemonError(f"unexpected answer {reply.TYPE} to session_join")
            return await self.adopt(reply, keep=rejoin)

    async def adopt(self, state: SessionState, *, keep: bool = False) -> SessionMirror:
        """Make ``state`` the current session and tell the editor everything."""
        same = self.mirror is not None and self.mirror.session_id == state.session.session_id
        if same and keep:
            assert self.mirror is not None
            change = self.mirror.load(state)
        else:
            self.mirror = SessionMirror(state)
            self.board.clear()
            change = Change(chat=sorted(state.chat, key=lambda m: m.seq),
                            threads=list(self.mirror.threads.values()), participants=True)
        self.mirror.you.status = self.presence.status  # the relay learns it from resend()
        self.want_session = state.session.session_id
        await self._check_repo(state)
        if self.outbox is not None:
            self.outbox.set_state(STATE_SESSION, self.want_session)
        self._save_seq()
        self.notify_session()
        if change.chat:
            self.notify(Method.DID_RECEIVE_CHAT, ChatParams(messages=change.chat))
        self.notify_threads(change.threads)
        for mention in state.mentions:  # made while we were away; the relay sends each once
            self._notify_mention(mention)
        self.publish_peers()
        self.presence.resend()
        if self.conn is not None:
            self.joined = (self.conn, state.session.session_id)
        self.spawn(self.flush())
        return self.mirror

    async def _check_repo(self, state: SessionState) -> None:
        from daemon.identity import same_repository

        if self.local_repo is None:
            self.local_repo = await self.repo_identity()
        self.repo_mismatch = not same_repository(state.session.repo, self.local_repo)

    async def repo_identity(self) -> Any:
        from daemon.identity import repo_identity
        from relay.protocol import RepoIdentity

        if not self.files.roots:
            return RepoIdentity()
        if self.local_repo is None:
            self.local_repo = await asyncio.to_thread(repo_identity, Path(self.files.roots[0]))
        return self.local_repo

    def _save_seq(self) -> None:
        if self.outbox is not None and self.mirror is not None:
            self.outbox.set_state(STATE_LAST_SEQ, str(self.mirror.last_seq))

    def drop_session(self, reason: str) -> None:
        """Forget the current session (left, ended, removed) and tell the editor."""
        if self.mirror is None and self.want_session is None:
            return
        self.mirror = None
        self.want_session = None
        self.joined = None
        self.board.clear()
        if self.outbox is not None:
            self.outbox.set_state(STATE_SESSION, None)
            self.outbox.set_state(STATE_LAST_SEQ, None)
        if self.following is not None:
            self.set_following(None)
        self.presence.cancel_pending()
        self.notify_session(reason)
        self.publish_peers()

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
