"""What the daemon does with each frame the relay pushes: acks and refusals of outbox
entries, session events, presence, users joining and leaving, mentions, close codes.

``RelayFrames`` changes the ``RelayState`` through its methods and tells the ``Editor``.
"""

from __future__ import annotations

import asyncio
import logging

from daemon import trace
from daemon.session import permits
from daemon.session.editor import Editor
from daemon.session.link import RelayLink
from daemon.session.membership import Membership
from daemon.session.mirror import Change
from daemon.session.state import RelayState
from wire import (
    Ack,
    ChatDelete,
    ChatEdit,
    CloseCode,
    CommentDelete,
    CommentEdit,
    CommentReply,
    Error,
    ErrorCode,
    Event,
    MentionNotice,
    Message,
    PresenceUpdate,
    ReactionToggle,
    ThreadCreate,
    ThreadResolve,
    UserJoined,
    UserLeft,
)

log = logging.getLogger(__name__)

# Refusals worth retrying later; every other refusal of an outbox entry is final.
TRANSIENT_CODES = frozenset(
    {ErrorCode.RATE_LIMITED, ErrorCode.SHUTTING_DOWN, ErrorCode.STORAGE_BUSY,
     ErrorCode.INTERNAL}
)

RETRY_DEFAULT = 1.0  # seconds before a deferred action is sent again, unless the relay says
RETRY_MIN = 0.1
RETRY_MAX = 300.0


class RelayFrames:
    """Applies relay frames to the state and tells the editor."""

    def __init__(self, state: RelayState, editor: Editor, link: RelayLink,
                 membership: Membership) -> None:
        self.state = state
        self.editor = editor
        self.link = link
        self.membership = membership

    def on_message(self, msg: Message) -> None:
        state, editor = self.state, self.editor
        if isinstance(msg, Ack):
            self._acked(msg.id)
        elif isinstance(msg, Error):
            self._refused(msg)
        elif isinstance(msg, Event):
            change = state.apply_event(msg)
            if change is not None:
                self._apply_change(change)
                self.membership.save_seq()
        elif isinstance(msg, PresenceUpdate):
            if trace.ENABLED:
                for peer in msg.peers:
                    if peer.cursor is not None and peer.cursor.selections:
                        trace.cursor("daemon-peer-in", peer.cursor.selections[0].active.line)
            if state.merge_presence(msg):
                editor.peers_changed()
        elif isinstance(msg, UserJoined):
            if state.user_joined(msg.session_id, msg.participant):
                editor.session_changed()
                editor.peers_changed()
        elif isinstance(msg, UserLeft):
            self._user_left(msg)
        elif isinstance(msg, MentionNotice):
            editor.mention_received(msg.mention)
        else:
            log.debug("unhandled frame %s", msg.TYPE)

    def on_closed(self, code: int, reason: str) -> None:
        if code == CloseCode.REMOVED:
            self.membership.drop("removed")
        elif code == CloseCode.SESSION_ENDED:
            self.membership.drop("ended")

    def _apply_change(self, change: Change) -> None:
        editor = self.editor
        if change.chat:
            editor.chat_received(sorted(change.chat, key=lambda m: m.seq))
        if change.threads or change.removed_threads:
            editor.threads_changed(change.threads, change.removed_threads)
        if change.removed_me:
            self.membership.drop("removed")
            return
        if change.ended:
            self.membership.drop("ended")
            return
        if change.participants:
            editor.session_changed()
            editor.peers_changed()

    def _user_left(self, msg: UserLeft) -> None:
        m = self.state.mirror
        if m is None or msg.session_id != m.session_id:
            return
        if msg.user_id == m.me and msg.reason in ("removed", "ended"):
            self.membership.drop(msg.reason)
            return
        self.state.user_left(msg.user_id, removed=msg.reason == "removed")
        if self.state.following == msg.user_id:
            self.membership.follow(None)
        self.editor.session_changed()
        self.editor.peers_changed()

    def _acked(self, msg_id: str) -> None:
        box = self.link.outbox
        if box is not None and box.remove(msg_id) is not None:
            self.link.notify_outbox()

    def _refused(self, err: Error) -> None:
        link = self.link
        box = link.outbox
        entry = box.get(err.id) if (box is not None and err.id) else None
        if entry is None:
            self.editor.error(err.code, err.message)
            return
        if err.code in TRANSIENT_CODES:
            # the relay says when to try again (a spent write budget, a busy store)
            delay = min(max(err.retry_after or RETRY_DEFAULT, RETRY_MIN), RETRY_MAX)
            log.info("relay deferred %s (%s), retrying in %.1f s", entry.message.TYPE,
                     err.code, delay)
            link.spawn(self._retry(entry.id, delay))
            return
        assert box is not None
        box.remove(entry.id)
        link.notify_outbox()
        self.editor.error(err.code, f"the relay refused {entry.message.TYPE.replace('_', ' ')}: "
                          f"{err.message}", entry.method, entry.id)
        self._restore(entry.message)

    def _restore(self, msg: Message) -> None:
        """A refused action changed nothing: tell the editor the current state of what it
        aimed at, so an optimistic change shown there rolls back at once."""
        editor = self.editor
        m = self.state.mirror
        if m is None or getattr(msg, "session_id", None) != m.session_id:
            return
        if isinstance(msg, ThreadCreate):
            editor.threads_changed([], removed=[msg.id])
            return
        if isinstance(msg, ChatEdit | ChatDelete):
            target = msg.message_id
        elif isinstance(msg, ReactionToggle):
            target = msg.target_id
        elif isinstance(msg, CommentEdit | CommentDelete):
            target = msg.comment_id
        elif isinstance(msg, CommentReply | ThreadResolve):
            target = msg.thread_id
        else:
            return
        chat = m.chat.get(target)
        if chat is not None:
            editor.chat_received([chat])
            return
        thread = m.threads.get(target)
        found = permits.comment_of(m, target) if thread is None else None
        if found is not None:
            thread = found[0]
        if thread is not None:
            editor.threads_changed([thread])

    async def _retry(self, msg_id: str, delay: float) -> None:
        await asyncio.sleep(delay)
        box, conn = self.link.outbox, self.link.conn
        entry = box.get(msg_id) if box is not None else None
        if entry is not None and conn is not None:
            await conn.send(entry.message)
