"""Chat, comments and ephemeral editor state: the durable actions go through the outbox.

The server checks params against ``daemon.protocol`` and turns
``DaemonError`` into LSP errors; these functions hold the behaviour.
"""

from __future__ import annotations

import json
import time
from typing import Any

from daemon import trace
from daemon.errors import DaemonError, InvalidParams
from daemon.lsp.core import Daemon
from daemon.protocol import (
    ChatHistoryParams,
    ChatHistoryResult,
    CreateThreadParams,
    CursorParams,
    EditParams,
    Empty,
    ExportParams,
    ExportResult,
    FocusParams,
    LocalThread,
    Method,
    Queued,
    ReactParams,
    ReplyParams,
    ResolveThreadParams,
    SendChatParams,
    TargetParams,
    ThreadIdParams,
    ThreadsParams,
    ThreadsResult,
    ViewportParams,
)
from daemon.session import permits
from daemon.text import anchors
from wire import (
    ChatDelete,
    ChatEdit,
    ChatSend,
    CommentDelete,
    CommentEdit,
    CommentReply,
    CursorUpdate,
    FocusUpdate,
    HistoryFetch,
    HistoryPage,
    ReactionToggle,
    ThreadCreate,
    ThreadDelete,
    ThreadResolve,
    ViewportUpdate,
)
from wire import ExportRequest as WireExport
from wire import ExportResult as WireExportResult


class Actions:
    """Handlers of chat, comment and cursor methods bound to one ``Daemon``."""

    def __init__(self, daemon: Daemon) -> None:
        self.d = daemon
        self.relay = daemon.relay
        # the editor's last cursor, viewport and focus, kept to be sent again after a rejoin
        self._last: dict[str, CursorParams | ViewportParams | FocusParams] = {}
        daemon.relay.presence.replay = self.replay

    # ----- chat ---------------------------------------------------------------------

    def _check_text(self, text: str) -> None:
        if not text.strip():
            raise InvalidParams("text: must not be empty")
        conn = self.relay.conn
        limit = conn.welcome.limits.max_text_chars if conn and conn.welcome else None
        if limit is not None and len(text) > limit:
            raise DaemonError(f"text is {len(text)} characters, the limit is {limit}",
                              code="text_too_long")

    def _chat_author(self, message_id: str) -> str | None:
        m = self.d.state.mirror
        msg = m.chat.get(message_id) if m is not None else None
        return msg.author.id if msg is not None else None

    def _comment_author(self, comment_id: str) -> str | None:
        m = self.d.state.mirror
        found = permits.comment_of(m, comment_id) if m is not None else None
        return found[1].author.id if found is not None else None

    def _queue(self, msg: Any, method: str) -> Queued:
        return Queued(id=self.relay.queue(msg, method))

    async def send_chat(self, p: SendChatParams) -> Queued:
        m = self.relay.require_session()
        permits.check(m, "chat_send")
        self._check_text(p.text)
        msg = ChatSend(id=self.relay.new_id(), session_id=m.session_id, text=p.text,
                       parent_id=p.parent_id, to=p.to)
        return self._queue(msg, Method.SEND_CHAT)

    async def edit_chat(self, p: EditParams) -> Queued:
        m = self.relay.require_session()
        permits.check(m, "chat_edit", self._chat_author(p.target_id))
        self._check_text(p.text)
        msg = ChatEdit(id=self.relay.new_id(), session_id=m.session_id, message_id=p.target_id,
                       text=p.text)
        return self._queue(msg, Method.EDIT_CHAT)

    async def delete_chat(self, p: TargetParams) -> Queued:
        m = self.relay.require_session()
        permits.check(m, "chat_delete", self._chat_author(p.target_id))
        msg = ChatDelete(id=self.relay.new_id(), session_id=m.session_id, message_id=p.target_id)
        return self._queue(msg, Method.DELETE_CHAT)

    async def react(self, p: ReactParams) -> Queued:
        m = self.relay.require_session()
        permits.check(m, "reaction_toggle")
        if not p.emoji or len(p.emoji) > 32:
            raise InvalidParams("emoji: expected a short non-empty string")
        msg = ReactionToggle(id=self.relay.new_id(), session_id=m.session_id,
                             target_id=p.target_id, emoji=p.emoji)
        return self._queue(msg, Method.REACT)

    async def chat_history(self, p: ChatHistoryParams) -> ChatHistoryResult:
        m = self.relay.require_session()
        if p.limit is not None and p.limit <= 0:
            raise InvalidParams("limit: must be positive")
        reply = await self.relay.require_online().request(
            HistoryFetch(session_id=m.session_id, before_seq=p.before_seq, limit=p.limit))
        assert isinstance(reply, HistoryPage)
        return ChatHistoryResult(messages=reply.messages, has_more=reply.has_more)

    # ----- comments -----------------------------------------------------------------

    async def create_thread(self, p: CreateThreadParams) -> Queued:
        d = self.d
        m = self.relay.require_session()
        permits.check(m, "thread_create")
        self._check_text(p.text)
        path = d.files.require_path(p.uri)
        lines = d.files.lines(p.uri)
        if lines is None:
            raise DaemonError(f"cannot read {p.uri}", code="unknown_file")
        start, end = p.range.start.line, p.range.end.line
        if start < 0 or end < start or end >= len(lines):
            raise InvalidParams(f"range: lines {start}..{end} are not inside the file "
                                f"({len(lines)} lines)")
        try:
            anchor = anchors.build(path, lines, start, end)
        except anchors.AnchorError as exc:
            raise InvalidParams(f"range: {exc}") from exc
        msg = ThreadCreate(id=self.relay.new_id(), session_id=m.session_id, anchor=anchor,
                           text=p.text)
        return self._queue(msg, Method.CREATE_THREAD)

    async def reply(self, p: ReplyParams) -> Queued:
        m = self.relay.require_session()
        permits.check(m, "comment_reply")
        self._check_text(p.text)
        msg = CommentReply(id=self.relay.new_id(), session_id=m.session_id, thread_id=p.thread_id,
                           text=p.text)
        return self._queue(msg, Method.REPLY)

    async def edit_comment(self, p: EditParams) -> Queued:
        m = self.relay.require_session()
        permits.check(m, "comment_edit", self._comment_author(p.target_id))
        self._check_text(p.text)
        msg = CommentEdit(id=self.relay.new_id(), session_id=m.session_id, comment_id=p.target_id,
                          text=p.text)
        return self._queue(msg, Method.EDIT_COMMENT)

    async def delete_comment(self, p: TargetParams) -> Queued:
        m = self.relay.require_session()
        permits.check(m, "comment_delete", self._comment_author(p.target_id))
        msg = CommentDelete(id=self.relay.new_id(), session_id=m.session_id, comment_id=p.target_id)
        return self._queue(msg, Method.DELETE_COMMENT)

    async def resolve_thread(self, p: ResolveThreadParams) -> Queued:
        m = self.relay.require_session()
        permits.check(m, "thread_resolve")
        msg = ThreadResolve(id=self.relay.new_id(), session_id=m.session_id, thread_id=p.thread_id,
                            resolved=p.resolved)
        return self._queue(msg, Method.RESOLVE_THREAD)

    async def delete_thread(self, p: ThreadIdParams) -> Queued:
        """Host only: others are refused here with the relay's code (``forbidden``)."""
        m = self.relay.require_session()
        permits.check(m, "thread_delete")
        msg = ThreadDelete(id=self.relay.new_id(), session_id=m.session_id, thread_id=p.thread_id)
        return self._queue(msg, Method.DELETE_THREAD)

    async def threads(self, p: ThreadsParams) -> ThreadsResult:
        d = self.d
        m = self.relay.require_session()
        path = d.files.require_path(p.uri) if p.uri else None
        out: list[LocalThread] = []
        for t in m.threads.values():
            if path is not None and t.anchor.path != path:
                continue
            lt = d.local_thread(t)
            if lt is not None:
                out.append(lt)
        out.sort(key=lambda lt: (lt.uri, lt.thread.anchor.start_line, lt.thread.created_at))
        return ThreadsResult(threads=out)

    async def export(self, p: ExportParams) -> ExportResult:
        m = self.relay.require_session()
        reply = await self.relay.require_online().request(
            WireExport(session_id=m.session_id, format=p.format))
        assert isinstance(reply, WireExportResult)
        return ExportResult(format=reply.format, content=reply.content)

    # ----- ephemeral notifications --------------------------------------------------

    def cursor(self, p: CursorParams) -> None:
        if trace.ENABLED and p.selections:
            trace.cursor("daemon-in", p.selections[0].active.line)
        self.relay.presence.touch()
        self._last["cursor"] = p
        self._send_cursor(p)

    def _send_cursor(self, p: CursorParams) -> None:
        d = self.d
        m = d.state.mirror
        if m is None:
            return
        path = d.files.path_of(p.uri)
        if path is None:
            self.focus(FocusParams(uri=None))
            return
        sels = d.files.selections_to_wire(p.uri, p.selections)
        digest = d.files.store.hash_of(p.uri)
        msg = CursorUpdate(session_id=m.session_id, path=path, selections=sels,
                           sent_at=time.time(), content_hash=digest)
        fingerprint = json.dumps([path, [[s.anchor.line, s.anchor.character, s.active.line,
                                          s.active.character] for s in sels], digest])
        self.relay.presence.put("cursor", msg, fingerprint)

    def viewport(self, p: ViewportParams) -> None:
        self._last["viewport"] = p
        d = self.d
        m = d.state.mirror
        if m is None:
            return
        path = d.files.path_of(p.uri)
        if path is None:
            return
        ranges = d.files.ranges_to_wire(p.uri, p.ranges)
        fingerprint = json.dumps([path, [[r.start.line, r.start.character, r.end.line,
                                          r.end.character] for r in ranges]])
        self.relay.presence.put("viewport", ViewportUpdate(session_id=m.session_id, path=path,
                                                           ranges=ranges), fingerprint)

    def focus(self, p: FocusParams) -> None:
        self._last["focus"] = p
        d = self.d
        m = d.state.mirror
        if m is None:
            return
        path = d.files.path_of(p.uri) if p.uri else None
        self.relay.presence.put("focus", FocusUpdate(session_id=m.session_id, path=path), path)

    def replay(self) -> None:
        """Offer the last local focus, viewport and cursor again (after a (re)join), as
        the editor last reported them; this is not activity."""
        last = self._last
        focus, viewport, cursor = last.get("focus"), last.get("viewport"), last.get("cursor")
        if isinstance(focus, FocusParams):
            self.focus(focus)
        if isinstance(viewport, ViewportParams):
            self.viewport(viewport)
        if isinstance(cursor, CursorParams):
            self._send_cursor(cursor)

    def activity(self, p: Empty) -> None:
        self.relay.presence.touch()
