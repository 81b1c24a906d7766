"""What the relay would refuse, known before anything is queued.

The relay's permission matrix (``wire.permissions``) decides who may do what;
the daemon checks a new durable action against the same matrix, the session's end
and the authorship it knows from its mirror, and refuses it with the relay's code.
Nothing refused here reaches the outbox or the wire. What the mirror does not know
(a message older than the loaded chat, a role changed a moment ago) is left to the
relay, whose refusal rolls the editor's optimistic change back (``daemon.session.frames``).
"""

from __future__ import annotations

from daemon.errors import Refused
from daemon.session.mirror import SessionMirror
from wire import Comment, ErrorCode, ProtocolError, Thread, permissions


def check(m: SessionMirror, action: str, author: str | None = None) -> None:
    """Raise ``Refused`` when the relay would refuse ``action`` by us in ``m``'s session
    (``author``: the author of the message or comment it changes, when known)."""
    role = m.you.role
    try:
        permissions.check(action, role)
        if m.info.ended_at is not None and action in permissions.WRITES:
            raise ProtocolError(ErrorCode.SESSION_ENDED, "the session has ended")
        if author is not None and action in permissions.AUTHOR_ONLY | permissions.AUTHOR_OR_HOST:
            permissions.check_author(action, role, author, m.me, rid=None, id=None)
    except ProtocolError as exc:
        raise Refused(exc.code, exc.message) from None


def comment_of(m: SessionMirror, comment_id: str) -> tuple[Thread, Comment] | None:
    """The thread and comment with ``comment_id`` (a thread's first comment has its id)."""
    thread = m.threads.get(comment_id)
    if thread is not None:
        for c in thread.comments:
            if c.id == comment_id:
                return thread, c
    for thread in m.threads.values():
        for c in thread.comments:
            if c.id == comment_id:
                return thread, c
    return None
