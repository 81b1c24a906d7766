"""What the daemon does with each frame the relay pushes: acks and refusals of outbox
entries, session events, presence, users joining and leaving, mentions, close codes.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING

from daemon.protocol import ChatParams, Method
from daemon.session import permits
from daemon.session.mirror import Change
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

if TYPE_CHECKING:
    from daemon.lsp.core import Daemon

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
    """Applies relay frames to the daemon's state and tells the editor."""

    def __init__(self, daemon: Daemon) -> None:
        self.d = daemon

    def on_message(self, msg: Message) -> None:
        d = self.d
        if isinstance(msg, Ack):
            self._acked(msg.id)
        elif isinstance(msg, Error):
            self._refused(msg)
        elif isinstance(msg, Event):
            if d.mirror is not None and msg.session_id == d.mirror.session_id:
                self._apply_change(d.mirror.apply(msg))
                d.membership.save_seq()
        elif isinstance(msg, PresenceUpdate):
            if d.mirror is not None and msg.session_id == d.mirror.session_id:
                changed = [d.mirror.merge_presence(p) for p in msg.peers]
                if any(changed):
                    d.publish_peers()
        elif isinstance(msg, UserJoined):
            if d.mirror is not None and msg.session_id == d.mirror.session_id:
                d.mirror.set_online(msg.participant.user.id, msg.participant, True)
                d.notify_session()
                d.publish_peers()
        elif isinstance(msg, UserLeft):
            self._user_left(msg)
        elif isinstance(msg, MentionNotice):
            d.notify_mention(msg.mention)
        else:
            log.debug("unhandled frame %s", msg.TYPE)

    def on_closed(self, code: int, reason: str) -> None:
        if code == CloseCode.REMOVED:
            self.d.drop_session("removed")
        elif code == CloseCode.SESSION_ENDED:
            self.d.drop_session("ended")

    def _apply_change(self, change: Change) -> None:
        d = self.d
        if change.chat:
            d.notify(Method.DID_RECEIVE_CHAT,
                     ChatParams(messages=sorted(change.chat, key=lambda m: m.seq)))
        if change.threads or change.removed_threads:
            d.notify_threads(change.threads, change.removed_threads)
        if change.removed_me:
            d.drop_session("removed")
            return
        if change.ended:
            d.drop_session("ended")
            return
        if change.participants:
            d.notify_session()
            d.publish_peers()

    def _user_left(self, msg: UserLeft) -> None:
        d = self.d
        m = d.mirror
        if m is None or msg.session_id != m.session_id:
            return
        if msg.user_id == m.me and msg.reason in ("removed", "ended"):
            d.drop_session(msg.reason)
            return
        if msg.reason == "removed":
            m.participants.pop(msg.user_id, None)
            m.presence.pop(msg.user_id, None)
        else:
            m.set_online(msg.user_id, None, False)
        if d.following == msg.user_id:
            d.set_following(None)
        d.notify_session()
        d.publish_peers()

    def _acked(self, msg_id: str) -> None:
        d = self.d
        if d.outbox is not None and d.outbox.remove(msg_id) is not None:
            d.notify_outbox()

    def _refused(self, err: Error) -> None:
        d = self.d
        entry = d.outbox.get(err.id) if (d.outbox is not None and err.id) else None
        if entry is None:
            d.error(err.code, err.message)
            return
        if err.code in TRANSIENT_CODES:
            # the relay says when to try again (a spent write budget, a busy store)
            delay = min(max(err.retry_after or RETRY_DEFAULT, RETRY_MIN), RETRY_MAX)
            log.info("relay deferred %s (%s), retrying in %.1f s", entry.message.TYPE,
                     err.code, delay)
            d.spawn(self._retry(entry.id, delay))
            return
        assert d.outbox is not None
        d.outbox.remove(entry.id)
        d.notify_outbox()
        d.error(err.code, f"the relay refused {entry.message.TYPE.replace('_', ' ')}: "
                f"{err.message}", entry.method, entry.id)
        self._restore(entry.message)

    def _restore(self, msg: Message) -> None:
        """A refused action changed nothing: tell the editor the current state of what it
        aimed at, so an optimistic change shown there rolls back at once."""
        d = self.d
        m = d.mirror
        if m is None or getattr(msg, "session_id", None) != m.session_id:
            return
        if isinstance(msg, ThreadCreate):
            d.notify_threads([], removed=[msg.id])
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
            d.notify(Method.DID_RECEIVE_CHAT, ChatParams(messages=[chat]))
            return
        thread = m.threads.get(target)
        found = permits.comment_of(m, target) if thread is None else None
        if found is not None:
            thread = found[0]
        if thread is not None:
            d.notify_threads([thread])

    async def _retry(self, msg_id: str, delay: float) -> None:
        await asyncio.sleep(delay)
        d = self.d
        entry = d.outbox.get(msg_id) if d.outbox is not None else None
        if entry is not None and d.conn is not None:
            await d.conn.send(entry.message)
