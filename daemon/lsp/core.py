"""One editor window's daemon: the relay client and what the editor is told of it.

``Daemon`` has no pygls in it: the server hands it typed requests and gives it a
``notify(method, params)`` callback for editor notifications. It owns the
``RelayClient`` (``daemon.session``) and implements its ``Editor`` interface: each
call becomes an ``ensemble/`` notification, with peers and threads placed in the
local files (``daemon.lsp.views``, ``daemon.lsp.board``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from daemon import trace
from daemon.config import Config
from daemon.lsp import views
from daemon.lsp.board import ThreadBoard
from daemon.lsp.local import LocalFiles
from daemon.protocol import (
    ChatParams,
    ConnectionParams,
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
from daemon.session.client import RelayClient
from daemon.session.traffic import Debouncer
from wire import ChatMessage, Mention, Thread

Notify = Callable[[str, Any], None]


class Daemon:
    """All collaboration state of one editor window, and its notifications."""

    def __init__(self, config: Config, files: LocalFiles, notify: Notify) -> None:
        self.config = config
        self.files = files
        self._notify = notify
        self.publish_peers = Debouncer(1.0 / config.cursor_rate, self._publish_peers)
        self.board = ThreadBoard(files, self.notify)
        self.on_peers_changed: Callable[[list[PeerView]], None] | None = None
        self.relay = RelayClient(config, files.roots, self)
        self.state = self.relay.state

    # ----- lifecycle ---------------------------------------------------------------

    def start(self) -> None:
        """Open the outbox and connect in the background (called after initialized)."""
        self.relay.start()

    async def close(self) -> None:
        """Stop everything; the outbox keeps what was not acked."""
        await self.relay.close()
        self.publish_peers.cancel()

    # ----- editor notifications (the session layer's ``Editor``) ------------------------

    def notify(self, method: str, params: Any) -> None:
        self._notify(method, params)

    def error(self, code: str, message: str, method: str | None = None,
              action_id: str | None = None) -> None:
        self.notify(Method.DID_ERROR,
                    ErrorParams(code=code, message=message, method=method, id=action_id))

    def connection_changed(self) -> None:
        self.notify(Method.DID_CHANGE_CONNECTION, self.connection_params())

    def session_changed(self, reason: str | None = None) -> None:
        self.notify(Method.DID_CHANGE_SESSION,
                    SessionParams(session=self.session_view(), reason=reason))

    def session_cleared(self) -> None:
        self.board.clear()

    def chat_received(self, messages: list[ChatMessage]) -> None:
        self.notify(Method.DID_RECEIVE_CHAT, ChatParams(messages=messages))

    def threads_changed(self, threads: list[Thread], removed: list[str] | None = None) -> None:
        self.board.publish(threads, removed)

    def mention_received(self, mention: Mention) -> None:
        uri = None
        m = self.state.mirror
        if mention.thread_id and m is not None:
            thread = m.threads.get(mention.thread_id)
            if thread is not None:
                uri = self.files.uri_of(thread.anchor.path)
        self.notify(Method.DID_RECEIVE_MENTION, MentionParams(mention=mention, uri=uri))

    def peers_changed(self) -> None:
        self.publish_peers()

    def outbox_changed(self, pending: int) -> None:
        self.notify(Method.DID_CHANGE_OUTBOX, OutboxParams(pending=pending))

    def following_changed(self, user_id: str | None) -> None:
        self.notify(Method.DID_CHANGE_FOLLOW, FollowStateParams(user_id=user_id))

    # ----- what the editor is shown ----------------------------------------------------

    def connection_params(self) -> ConnectionParams:
        s = self.state
        return ConnectionParams(
            state=s.conn_state,
            relay_url=s.relay_url,
            user=s.user,
            next_retry_at=s.next_retry_at,
            detail=s.detail,
        )

    def session_view(self) -> SessionView | None:
        m = self.state.mirror
        if m is None:
            return None
        return SessionView(
            session=m.info,
            you=m.you,
            participants=sorted(m.participants.values(), key=lambda p: p.joined_at),
            invite_base=self.state.home_url,
            repo_mismatch=self.state.repo_mismatch,
        )

    def peer_views(self) -> list[PeerView]:
        m = self.state.mirror
        return views.peer_views(m, self.files) if m is not None else []

    def _publish_peers(self) -> None:
        peers = self.peer_views()
        self.notify(Method.DID_CHANGE_PEERS, PeersParams(peers=peers))
        if trace.ENABLED:
            for peer in peers:
                if peer.selections:
                    trace.cursor("daemon-peers-out", peer.selections[0].active.line)
        if self.on_peers_changed is not None:
            self.on_peers_changed(peers)

    def local_thread(self, thread: Thread) -> LocalThread | None:
        return self.board.place(thread)

    def document_changed(self, uri: str, edits: list[Any]) -> None:
        """Local edits: threads of this file follow them; tell the editor what moved."""
        if self.state.mirror is not None:
            self.board.document_changed(uri, edits, self.state.mirror.threads.values())

    def document_opened(self, uri: str) -> None:
        """A document was opened: place its threads against the open text."""
        if self.state.mirror is not None:
            self.board.document_opened(uri, self.state.mirror.threads.values())
