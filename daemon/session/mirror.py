"""Mirror of the current session: participants, presence, chat, threads.

Plain state with no I/O. ``load`` takes a ``session_state`` frame; ``apply``
takes a durable ``event`` and returns what changed so the daemon can tell the
editor; presence frames merge field by field (absent fields are unchanged).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from wire import (
    ChatMessage,
    Comment,
    Event,
    Mention,
    Participant,
    PeerPresence,
    SessionInfo,
    SessionState,
    Thread,
)

MAX_CHAT = 1000  # chat messages kept in memory; older pages come from chatHistory


@dataclass(slots=True)
class Change:
    """What one or more events changed."""

    chat: list[ChatMessage] = field(default_factory=list)
    threads: list[Thread] = field(default_factory=list)
    removed_threads: list[str] = field(default_factory=list)  # deleted: drop by id
    participants: bool = False
    ended: bool = False
    removed_me: bool = False


class SessionMirror:
    """Everything the daemon knows about the session it is in."""

    def __init__(self, state: SessionState) -> None:
        self.info: SessionInfo = state.session
        self.you: Participant = state.you
        self.participants: dict[str, Participant] = {}
        self.presence: dict[str, PeerPresence] = {}
        self.chat: dict[str, ChatMessage] = {}
        self.threads: dict[str, Thread] = {}
        self.mentions: list[Mention] = []
        self.last_seq = 0
        self.chat_has_more = False
        self.load(state)

    @property
    def session_id(self) -> str:
        return self.info.session_id

    @property
    def me(self) -> str:
        return self.you.user.id

    def load(self, state: SessionState) -> Change:
        """Take a full ``session_state`` (first join or rejoin with catch-up)."""
        self.info = state.session
        self.you = state.you
        self.participants = {p.user.id: p for p in state.participants}
        self.participants[self.you.user.id] = self.you
        self.presence = {p.user_id: p for p in state.presence if p.user_id != self.me}
        for msg in state.chat:
            self.chat[msg.id] = msg
        self.chat_has_more = state.chat_has_more
        before = set(self.threads)
        self.threads = {t.id: t for t in state.threads}
        self.mentions = list(state.mentions)
        self.last_seq = max(self.last_seq, state.last_seq)
        change = Change(chat=sorted(state.chat, key=lambda m: m.seq), participants=True)
        change.threads = list(state.threads)
        change.removed_threads = sorted(before - set(self.threads))  # deleted while away
        for ev in state.events:
            self.apply(ev, change)
        self._trim_chat()
        return change

    def apply(self, ev: Event, change: Change | None = None) -> Change:
        """Apply one durable event (idempotent: events carry whole current state)."""
        change = change or Change()
        self.last_seq = max(self.last_seq, ev.seq)
        if ev.message is not None:
            self.chat[ev.message.id] = ev.message
            change.chat = [m for m in change.chat if m.id != ev.message.id] + [ev.message]
            self._trim_chat()
        if ev.thread is not None and ev.kind == "thread_deleted":
            tid = ev.thread.id
            self.threads.pop(tid, None)
            change.threads = [t for t in change.threads if t.id != tid]
            if tid not in change.removed_threads:
                change.removed_threads.append(tid)
        elif ev.thread is not None:
            self.threads[ev.thread.id] = ev.thread
            _upsert_thread(change, ev.thread)
        if ev.comment is not None:
            thread = self.threads.get(ev.comment.thread_id)
            if thread is not None:
                _upsert_comment(thread, ev.comment)
                _upsert_thread(change, thread)
        if ev.participant is not None:
            p = ev.participant
            if ev.kind == "participant_removed":
                self.remove(p.user.id)
                if p.user.id == self.me:
                    change.removed_me = True
            else:
                self.participants[p.user.id] = p
                if p.user.id == self.me:
                    self.you = p
            change.participants = True
        if ev.kind == "session_ended":
            self.info.ended_at = ev.at
            change.ended = True
        return change

    def set_online(self, user_id: str, participant: Participant | None, online: bool) -> None:
        if participant is not None:
            self.participants[user_id] = participant
        p = self.participants.get(user_id)
        if p is not None:
            p.online = online
        if not online:
            self.presence.pop(user_id, None)

    def remove(self, user_id: str) -> None:
        """A participant is no longer in the session."""
        self.participants.pop(user_id, None)
        self.presence.pop(user_id, None)

    def merge_presence(self, peer: PeerPresence) -> bool:
        """Merge a peer's presence; True when something visible changed."""
        if peer.user_id == self.me:
            return False
        cur = self.presence.get(peer.user_id)
        if cur is None:
            self.presence[peer.user_id] = peer
        else:
            before = (cur.status, cur.cursor, cur.viewport, cur.focus)
            if peer.status is not None:
                cur.status = peer.status
            if peer.cursor is not None:
                cur.cursor = peer.cursor
            if peer.viewport is not None:
                cur.viewport = peer.viewport
            if peer.focus is not None:
                cur.focus = peer.focus
            cur.sent_at = peer.sent_at
            if before == (cur.status, cur.cursor, cur.viewport, cur.focus):
                return False
        if peer.status is not None and peer.user_id in self.participants:
            self.participants[peer.user_id].status = peer.status
        return True

    def chat_in_order(self) -> list[ChatMessage]:
        return sorted(self.chat.values(), key=lambda m: m.seq)

    def _trim_chat(self) -> None:
        if len(self.chat) > MAX_CHAT:
            for m in self.chat_in_order()[: len(self.chat) - MAX_CHAT]:
                del self.chat[m.id]
            self.chat_has_more = True


def _upsert_thread(change: Change, thread: Thread) -> None:
    change.threads = [t for t in change.threads if t.id != thread.id] + [thread]


def _upsert_comment(thread: Thread, comment: Comment) -> None:
    for i, c in enumerate(thread.comments):
        if c.id == comment.id:
            thread.comments[i] = comment
            return
    thread.comments.append(comment)
