"""Durable actions: chat, reactions, comment threads. Each is stored, acked, broadcast."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from relay.core import projects
from relay.core.records import LogLine, Write, snapshot
from relay.core.room import Room
from wire import (
    Anchor,
    ChatDelete,
    ChatEdit,
    ChatMessage,
    ChatSend,
    Comment,
    CommentDelete,
    CommentEdit,
    CommentReply,
    ErrorCode,
    Event,
    EventKind,
    Mention,
    ProtocolError,
    ReactionToggle,
    Thread,
    ThreadCreate,
    ThreadDelete,
    ThreadResolve,
    path_problem,
    permissions,
)

if TYPE_CHECKING:
    from relay.core.client import Client
    from relay.core.handling import Build, CoreView, Handler

MENTION_RE = re.compile(r"(?<![\w@])@([a-z0-9][a-z0-9_.-]{1,31})", re.IGNORECASE)
MAX_EMOJI = 32
MAX_ANCHOR_LINES = 1000
MAX_CONTEXT_LINES = 10


def mentions_in(text: str, room: Room, author: str, audience: frozenset[str] | None) -> list[str]:
    """Members named with @username, without the author (and inside a DM's audience)."""
    found: list[str] = []
    for match in MENTION_RE.finditer(text):
        name = match.group(1).lower().rstrip(".")
        if name == author or name in found or room.role_of(name) is None:
            continue
        if audience is not None and name not in audience:
            continue
        found.append(name)
    return found


def _mention_rows(users: list[str], room: Room, client: Client, text: str, at: float,
                  **target: str) -> list[tuple[str, Mention]]:
    excerpt = text if len(text) <= 280 else text[:279] + "\u2026"
    return [
        (u, Mention(session_id=room.id, seq=0, by=client.user, text=excerpt, at=at, **target))
        for u in users
    ]


def _not_found(what: str, msg: Any) -> ProtocolError:
    return ProtocolError(ErrorCode.NOT_FOUND, f"no such {what}", rid=msg.rid, id=msg.id)


def _nonempty(core: CoreView, text: str, msg: Any) -> None:
    if not text.strip():
        raise ProtocolError(ErrorCode.INVALID_VALUE, "text is empty", rid=msg.rid, id=msg.id)
    core.check_text(text, msg)


def _audience(m: ChatMessage) -> frozenset[str] | None:
    return frozenset({m.author.id, m.to}) if m.to else None


async def _chat_target(core: CoreView, room: Room, message_id: str, msg: Any) -> ChatMessage:
    target = await core.store.chat(message_id)
    if target is None or target.session_id != room.id:
        raise _not_found("message", msg)
    return target


def _visible(m: ChatMessage, user_id: str) -> bool:
    return m.to is None or user_id in (m.author.id, m.to)


def _check_author(action: str, room: Room, uid: str, author: str, msg: Any) -> None:
    permissions.check_author(action, room.role_of(uid) or "viewer",  # type: ignore[arg-type]
                             author, uid, rid=msg.rid, id=msg.id)


async def _own_chat(core: CoreView, room: Room, action: str, uid: str,
                    msg: ChatEdit | ChatDelete) -> ChatMessage:
    """The live chat message ``msg`` names, once ``uid`` may see it and take ``action`` on it."""
    target = await _chat_target(core, room, msg.message_id, msg)
    if not _visible(target, uid) or target.deleted:
        raise _not_found("message", msg)
    _check_author(action, room, uid, target.author.id, msg)
    return target


def _set_text(target: ChatMessage | Comment, text: str, names: list[str], now: float) -> list[str]:
    """Replace the text and its mentions; return the members it newly mentions."""
    fresh = [n for n in names if n not in target.mentions]
    target.text = text
    target.mentions = names
    target.edited_at = now
    return fresh


def _blank(target: ChatMessage | Comment) -> None:
    """Mark deleted and drop the content: text, mentions and reactions."""
    target.text = ""
    target.deleted = True
    target.mentions = []
    target.reactions = {}


# -- chat (each action is a Build: Core.durable runs it, again after a conflict)


async def chat_send(core: CoreView, client: Client, room: Room, msg: ChatSend) -> Write:
    uid = client.user.id
    _nonempty(core, msg.text, msg)
    if msg.to is not None and (msg.to == uid or room.role_of(msg.to) is None):
        raise ProtocolError(ErrorCode.INVALID_VALUE,
                            "a direct message goes to another participant",
                            rid=msg.rid, id=msg.id)
    if msg.parent_id is not None:
        parent = await _chat_target(core, room, msg.parent_id, msg)
        if not _visible(parent, uid):
            raise _not_found("message", msg)
    now = core.clock()
    audience = frozenset({uid, msg.to}) if msg.to else None
    names = mentions_in(msg.text, room, uid, audience)
    cm = ChatMessage(id=msg.id, session_id=room.id, seq=0, author=client.user, text=msg.text,
                     created_at=now, parent_id=msg.parent_id, to=msg.to, mentions=names)
    return Write(session_id=room.id,
                 event=_event(room, msg, client, now, "chat_created", message=cm),
                 audience=audience, chats=[cm],
                 mentions=_mention_rows(names, room, client, msg.text, now, message_id=msg.id))


async def chat_edit(core: CoreView, client: Client, room: Room, msg: ChatEdit) -> Write:
    uid = client.user.id
    target = await _own_chat(core, room, "chat_edit", uid, msg)
    base = snapshot(target)
    _nonempty(core, msg.text, msg)
    now = core.clock()
    audience = _audience(target)
    names = mentions_in(msg.text, room, target.author.id, audience)
    fresh = _set_text(target, msg.text, names, now)
    return Write(session_id=room.id,
                 event=_event(room, msg, client, now, "chat_edited", message=target),
                 bases=[base], audience=audience, chats=[target],
                 mentions=_mention_rows(fresh, room, client, msg.text, now,
                                        message_id=target.id))


async def chat_delete(core: CoreView, client: Client, room: Room, msg: ChatDelete) -> Write:
    target = await _own_chat(core, room, "chat_delete", client.user.id, msg)
    base = snapshot(target)
    now = core.clock()
    _blank(target)
    return Write(session_id=room.id,
                 event=_event(room, msg, client, now, "chat_deleted", message=target),
                 bases=[base], audience=_audience(target), chats=[target])


def _toggle(reactions: dict[str, list[str]], emoji: str, uid: str) -> None:
    users = reactions.setdefault(emoji, [])
    if uid in users:
        users.remove(uid)
        if not users:
            del reactions[emoji]
    else:
        users.append(uid)


async def reaction_toggle(core: CoreView, client: Client, room: Room, msg: ReactionToggle) -> Write:
    uid = client.user.id
    emoji = msg.emoji
    if not emoji or len(emoji) > MAX_EMOJI or any(ch.isspace() for ch in emoji):
        raise ProtocolError(ErrorCode.INVALID_VALUE, "emoji must be 1-32 characters",
                            rid=msg.rid, id=msg.id)
    now = core.clock()
    target = await core.store.chat(msg.target_id)
    if target is not None and target.session_id == room.id:
        if not _visible(target, uid) or target.deleted:
            raise _not_found("message", msg)
        base = snapshot(target)
        _toggle(target.reactions, emoji, uid)
        return Write(session_id=room.id,
                     event=_event(room, msg, client, now, "chat_reaction", message=target),
                     bases=[base], audience=_audience(target), chats=[target])
    comment = await _comment(core, room, uid, msg.target_id, msg)
    base_comment = snapshot(comment)
    _toggle(comment.reactions, emoji, uid)
    return Write(session_id=room.id,
                 event=_event(room, msg, client, now, "comment_reaction", comment=comment),
                 bases=[base_comment], comments=[comment])


# -- comment threads


async def _thread(core: CoreView, room: Room, uid: str, thread_id: str, msg: Any) -> Thread:
    """A thread of the session's project, once ``uid`` is a member of that project.

    Anything else reads as not found: the ids of other projects' threads reveal nothing.
    """
    found = await core.store.thread(thread_id)
    pid = room.record.project_id
    if found is None or found[1] != pid or not await projects.has_access(core.store, pid, uid):
        raise _not_found("thread", msg)
    return found[0]


async def _comment(core: CoreView, room: Room, uid: str, comment_id: str, msg: Any) -> Comment:
    comment = await core.store.comment(comment_id)
    if comment is None or comment.deleted:
        raise _not_found("message or comment", msg)
    await _thread(core, room, uid, comment.thread_id, msg)
    return comment


def _check_anchor(core: CoreView, anchor: Anchor, msg: Any) -> None:
    bad = (
        path_problem(anchor.path) is not None
        or anchor.start_line < 0 or anchor.end_line < anchor.start_line
        or anchor.end_line - anchor.start_line >= MAX_ANCHOR_LINES
        or len(anchor.before) > MAX_CONTEXT_LINES or len(anchor.after) > MAX_CONTEXT_LINES
        or len(anchor.text) > MAX_ANCHOR_LINES
    )
    if bad:
        raise ProtocolError(ErrorCode.INVALID_VALUE, "invalid anchor", rid=msg.rid, id=msg.id)
    size = sum(len(x) for x in (*anchor.text, *anchor.before, *anchor.after))
    if size > 4 * core.config.max_text_chars:
        raise ProtocolError(ErrorCode.TEXT_TOO_LONG, "anchored text too long", rid=msg.rid,
                            id=msg.id)


async def thread_create(core: CoreView, client: Client, room: Room, msg: ThreadCreate) -> Write:
    uid = client.user.id
    _check_anchor(core, msg.anchor, msg)
    _nonempty(core, msg.text, msg)
    now = core.clock()
    names = mentions_in(msg.text, room, uid, None)
    first = Comment(id=msg.id, thread_id=msg.id, author=client.user, text=msg.text,
                    created_at=now, mentions=names)
    thread = Thread(id=msg.id, session_id=room.id, anchor=msg.anchor, author=client.user,
                    created_at=now, comments=[first])
    return Write(session_id=room.id,
                 event=_event(room, msg, client, now, "thread_created", thread=thread),
                 threads=[thread], thread_project_id=room.record.project_id,
                 thread_repo_key=room.record.repo_key, comments=[first],
                 mentions=_mention_rows(names, room, client, msg.text, now,
                                        thread_id=msg.id, comment_id=msg.id),
                 log=[LogLine(kind="thread_created", actor=uid, at=now, subject=msg.id,
                              detail=msg.anchor.path)])


async def comment_reply(core: CoreView, client: Client, room: Room, msg: CommentReply) -> Write:
    uid = client.user.id
    thread = await _thread(core, room, uid, msg.thread_id, msg)
    _nonempty(core, msg.text, msg)
    now = core.clock()
    names = mentions_in(msg.text, room, uid, None)
    c = Comment(id=msg.id, thread_id=thread.id, author=client.user, text=msg.text,
                created_at=now, mentions=names)
    return Write(session_id=room.id,
                 event=_event(room, msg, client, now, "comment_created", comment=c),
                 bases=[snapshot(thread)], comments=[c],
                 mentions=_mention_rows(names, room, client, msg.text, now,
                                        thread_id=thread.id, comment_id=msg.id),
                 log=[LogLine(kind="comment_created", actor=uid, at=now, subject=msg.id,
                              detail=thread.id)])


async def comment_edit(core: CoreView, client: Client, room: Room, msg: CommentEdit) -> Write:
    uid = client.user.id
    c = await _comment(core, room, uid, msg.comment_id, msg)
    base = snapshot(c)
    _check_author("comment_edit", room, uid, c.author.id, msg)
    _nonempty(core, msg.text, msg)
    now = core.clock()
    names = mentions_in(msg.text, room, c.author.id, None)
    fresh = _set_text(c, msg.text, names, now)
    return Write(session_id=room.id,
                 event=_event(room, msg, client, now, "comment_edited", comment=c),
                 bases=[base], comments=[c],
                 mentions=_mention_rows(fresh, room, client, msg.text, now,
                                        thread_id=c.thread_id, comment_id=c.id))


async def comment_delete(core: CoreView, client: Client, room: Room, msg: CommentDelete) -> Write:
    uid = client.user.id
    c = await _comment(core, room, uid, msg.comment_id, msg)
    base = snapshot(c)
    _check_author("comment_delete", room, uid, c.author.id, msg)
    now = core.clock()
    _blank(c)
    return Write(session_id=room.id,
                 event=_event(room, msg, client, now, "comment_deleted", comment=c),
                 bases=[base], comments=[c])


async def thread_resolve(core: CoreView, client: Client, room: Room, msg: ThreadResolve) -> Write:
    uid = client.user.id
    thread = await _thread(core, room, uid, msg.thread_id, msg)
    base = snapshot(thread)
    now = core.clock()
    thread.resolved = msg.resolved
    thread.resolved_by = uid if msg.resolved else None
    kind: EventKind = "thread_resolved" if msg.resolved else "thread_reopened"
    return Write(session_id=room.id, event=_event(room, msg, client, now, kind, thread=thread),
                 bases=[base], threads=[thread], thread_project_id=room.record.project_id,
                 thread_repo_key=room.record.repo_key,
                 log=[LogLine(kind=kind, actor=uid, at=now, subject=thread.id)])


async def thread_delete(core: CoreView, client: Client, room: Room, msg: ThreadDelete) -> Write:
    """The host deletes a whole thread; peers drop it on the ``thread_deleted`` event."""
    uid = client.user.id
    thread = await _thread(core, room, uid, msg.thread_id, msg)
    now = core.clock()
    gone = snapshot(thread)
    return Write(session_id=room.id,
                 event=_event(room, msg, client, now, "thread_deleted", thread=gone),
                 bases=[snapshot(thread)], deleted_threads=[thread.id],
                 log=[LogLine(kind="thread_deleted", actor=uid, at=now, subject=thread.id,
                              detail=thread.anchor.path)])


def _event(room: Room, msg: Any, client: Client, now: float, kind: EventKind,
           **what: Any) -> Event:
    """The event of a client's durable action (its seq is the store's to give)."""
    return Event(session_id=room.id, seq=0, id=msg.id, kind=kind, actor=client.user, at=now,
                 **what)


def _durable(build: Build) -> Handler:
    async def handle(core: CoreView, client: Client, msg: Any) -> None:
        await core.durable(client, msg, build)

    return handle


HANDLERS: dict[str, Handler] = {
    "chat_send": _durable(chat_send),
    "chat_edit": _durable(chat_edit),
    "chat_delete": _durable(chat_delete),
    "reaction_toggle": _durable(reaction_toggle),
    "thread_create": _durable(thread_create),
    "comment_reply": _durable(comment_reply),
    "comment_edit": _durable(comment_edit),
    "comment_delete": _durable(comment_delete),
    "thread_resolve": _durable(thread_resolve),
    "thread_delete": _durable(thread_delete),
}
