"""Read-only requests: history, catch-up, viewers, event log, export."""

from __future__ import annotations

import json
import re
import time
from typing import TYPE_CHECKING

from relay.core import projects, wirejson
from wire import (
    ChatMessage,
    EventLogQuery,
    EventLogResult,
    ExportRequest,
    ExportResult,
    HistoryFetch,
    HistoryPage,
    SyncRequest,
    SyncResult,
    Thread,
    UserRef,
    ViewersQuery,
    ViewersResult,
)
from wire.schema import to_wire

if TYPE_CHECKING:
    from relay.core.client import Client
    from relay.core.handling import CoreView, Handler
    from relay.core.room import Room

MAX_SYNC = 10_000
MAX_LOG = 1000


async def history(core: CoreView, client: Client, msg: HistoryFetch) -> None:
    room = core.joined(client, msg.session_id, "history", msg)
    page = core.config.history_page
    limit = page if msg.limit is None else max(1, min(msg.limit, 4 * page))
    messages, more = await core.store.chat_page(room.id, client.user.id, msg.before_seq, limit)
    client.send(HistoryPage(session_id=room.id, messages=messages, has_more=more, rid=msg.rid))


async def sync(core: CoreView, client: Client, msg: SyncRequest) -> None:
    room = core.joined(client, msg.session_id, "sync", msg)
    events = await core.store.events_after(room.id, msg.after_seq, client.user.id, MAX_SYNC + 1)
    more = len(events) > MAX_SYNC
    client.send(SyncResult(session_id=room.id, events=events[:MAX_SYNC],
                           last_seq=room.record.last_seq, has_more=more, rid=msg.rid))


async def viewers(core: CoreView, client: Client, msg: ViewersQuery) -> None:
    room = core.joined(client, msg.session_id, "viewers", msg)
    users: list[UserRef] = []
    for uid, fields in (await core.bus.presence(room.id)).items():
        entry = wirejson.entry(fields)
        viewport = entry.get("viewport")
        if entry.get("focus") == msg.path or (viewport and viewport.get("path") == msg.path):
            users.append(room.member_ref(uid))
    client.send(ViewersResult(session_id=room.id, path=msg.path, users=users, rid=msg.rid))


async def event_log(core: CoreView, client: Client, msg: EventLogQuery) -> None:
    room = core.joined(client, msg.session_id, "event_log", msg)
    limit = MAX_LOG if msg.limit is None else max(1, min(msg.limit, MAX_LOG))
    entries = await core.store.log(room.id, limit)
    client.send(EventLogResult(session_id=room.id, entries=entries, rid=msg.rid))


async def export(core: CoreView, client: Client, msg: ExportRequest) -> None:
    room = core.joined(client, msg.session_id, "export", msg)
    uid = client.user.id
    chat: list[ChatMessage] = []
    before: int | None = None
    while True:
        page, more = await core.store.chat_page(room.id, uid, before, 500)
        chat[:0] = page
        if not more or not page:
            break
        before = page[0].seq
    pid = room.record.project_id
    threads = [t for t in await core.store.project_threads(pid) if t.session_id == room.id] \
        if await projects.has_access(core.store, pid, uid) else []
    if msg.format == "json":
        content = json.dumps({
            "session": to_wire(room.info()),
            "threads": to_wire(threads),
            "chat": to_wire(chat),
        }, indent=2, ensure_ascii=False)
    else:
        content = markdown(room, threads, chat)
    client.send(ExportResult(session_id=room.id, format=msg.format, content=content,
                             rid=msg.rid))


def _when(t: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(t))


_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]()<>#+!|~])")
_RULE_LINE = re.compile(r"^\s*([-=*_])(\s*\1)*\s*$")


def _md_text(text: str) -> str:
    """Text shown literally in Markdown (names, paths): every special character escaped,
    line breaks flattened."""
    return _MD_SPECIAL.sub(r"\\\1", " ".join(text.splitlines()))


def _fence(lines: list[str]) -> str:
    """A backtick fence longer than any backtick run in ``lines``, so no line closes it."""
    longest = max((len(m) for line in lines for m in re.findall(r"`+", line)), default=0)
    return "`" * max(3, longest + 1)


def _quoted(text: str) -> list[str]:
    """A comment or chat body as a block quote that cannot escape it: no heading (leading
    ``#``, setext underline or rule), no remote image (``![`` and HTML tags escaped)."""
    out: list[str] = []
    for line in text.splitlines() or [""]:
        line = line.replace("<", "&lt;").replace("![", "\\![")
        stripped = line.lstrip()
        if stripped.startswith("#") or _RULE_LINE.match(line):
            line = line[: len(line) - len(stripped)] + "\\" + stripped
        out.append(f"  > {line}".rstrip())
    return out


def markdown(room: Room, threads: list[Thread], chat: list[ChatMessage]) -> str:
    """The session as Markdown: code quoted in fences nothing can close, bodies quoted
    so that they cannot add headings or load remote images."""
    r = room.record
    out = [f"# {_md_text(r.name)}", ""]
    repo = r.repo.remote or r.repo.name or r.repo.root_commit or "unknown repository"
    out.append(f"Repository: {_md_text(repo)}  ")
    out.append(f"Host: {_md_text(r.host_name or r.host)}  ")
    out.append(f"Started: {_when(r.created_at)}" + (f"  \nEnded: {_when(r.ended_at)}"
                                                     if r.ended_at else ""))
    out += ["", "## Comment threads", ""]
    if not threads:
        out.append("_No comment threads._")
    for t in threads:
        a = t.anchor
        lines = f"{a.start_line + 1}" + (f"-{a.end_line + 1}" if a.end_line != a.start_line else "")
        state = "resolved" if t.resolved else "open"
        fence = _fence(a.text)
        out += [f"### {_md_text(a.path)}:{lines} ({state})", "", fence]
        out += a.text
        out += [fence, ""]
        for c in t.comments:
            edited = " (edited)" if c.edited_at else ""
            out.append(f"- **{_md_text(c.author.name)}** (@{_md_text(c.author.id)}, "
                       f"{_when(c.created_at)}){edited}:")
            out += ["", "  _deleted_"] if c.deleted else ["", *_quoted(c.text)]
            out.append("")
        out.append("")
    out += ["## Chat", ""]
    if not chat:
        out.append("_No messages._")
    for m in chat:
        to = f" → @{_md_text(m.to)}" if m.to else ""
        reply = " (reply)" if m.parent_id else ""
        out.append(f"- **{_md_text(m.author.name)}** (@{_md_text(m.author.id)}){to}{reply} "
                   f"({_when(m.created_at)}):")
        out += ["", "  _deleted_"] if m.deleted else ["", *_quoted(m.text)]
        out.append("")
    return "\n".join(out) + "\n"


HANDLERS: dict[str, Handler] = {
    "history": history,
    "sync": sync,
    "viewers": viewers,
    "event_log": event_log,
    "export": export,
}
