"""What the editor draws: peers and threads placed in the local files."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

from daemon.local import LocalFiles
from daemon.protocol import LocalThread, PeerView
from daemon.session import SessionMirror
from relay.protocol import Anchor, Position, Range, Thread

PALETTE_SIZE = 12


def color_of(user_id: str) -> int:
    """Stable palette index of a user: the same on every machine and every run."""
    digest = hashlib.sha1(user_id.encode("utf-8")).digest()
    return int.from_bytes(digest[:4], "big") % PALETTE_SIZE


def content_hash(lines: Sequence[str]) -> str:
    """Short hash of a file's text (line endings normalized)."""
    return hashlib.sha1("\n".join(lines).encode("utf-8")).hexdigest()[:16]


def peer_views(mirror: SessionMirror, files: LocalFiles) -> list[PeerView]:
    """One view per participant other than us, online ones first."""
    out: list[PeerView] = []
    for user_id, part in mirror.participants.items():
        if user_id == mirror.me:
            continue
        pres = mirror.presence.get(user_id)
        view = PeerView(
            user=part.user,
            role=part.role,
            online=part.online,
            status=(pres.status if pres and pres.status else part.status),
            color=color_of(user_id),
        )
        if pres is not None and part.online:
            _place_peer(view, pres.cursor, pres.viewport, pres.focus, files)
        out.append(view)
    out.sort(key=lambda v: (not v.online, v.user.name.lower(), v.user.id))
    return out


def _place_peer(view: PeerView, cursor: object, viewport: object, focus: str | None,
                files: LocalFiles) -> None:
    from relay.protocol import CursorState, ViewportState

    path: str | None = None
    if isinstance(cursor, CursorState):
        path = cursor.path
    elif isinstance(viewport, ViewportState):
        path = viewport.path
    if focus is not None:
        view.focus_uri = files.uri_of(focus)
    if path is None:
        return
    uri = files.uri_of(path)
    view.path = path
    view.uri = uri
    if uri is None:
        return
    lines = files.lines(uri)
    approximate = lines is None
    if isinstance(cursor, CursorState) and cursor.path == path:
        peer_hash = getattr(cursor, "content_hash", None)
        if lines is not None:
            if peer_hash is not None:
                approximate = peer_hash != content_hash(lines)
            else:
                last = max((max(s.anchor.line, s.active.line) for s in cursor.selections),
                           default=0)
                approximate = last > len(lines)
        view.selections = files.selections_from_wire(uri, cursor.selections)
    if isinstance(viewport, ViewportState) and viewport.path == path:
        view.visible = files.ranges_from_wire(uri, viewport.ranges)
    view.approximate = approximate


# ----- threads ---------------------------------------------------------------------


def locate(anchor: Anchor, lines: Sequence[str]) -> tuple[int, int] | None:
    """Find the anchored lines in ``lines``: at the recorded line, else the nearest match."""
    n = len(anchor.text)
    if n == 0:
        return None
    want = [t.rstrip() for t in anchor.text]
    stripped = [t.rstrip() for t in lines]

    def matches(start: int) -> bool:
        return start >= 0 and start + n <= len(stripped) and stripped[start:start + n] == want

    if matches(anchor.start_line):
        return anchor.start_line, anchor.start_line + n - 1
    hits = [i for i in range(len(stripped) - n + 1) if matches(i)]
    if not hits:
        return None
    if len(hits) > 1 and (anchor.before or anchor.after):
        def context(i: int) -> int:
            score = 0
            for k, text in enumerate(reversed(anchor.before)):
                j = i - 1 - k
                score += int(0 <= j < len(stripped) and stripped[j] == text.rstrip())
            for k, text in enumerate(anchor.after):
                j = i + n + k
                score += int(0 <= j < len(stripped) and stripped[j] == text.rstrip())
            return score
        best = max(context(i) for i in hits)
        hits = [i for i in hits if context(i) == best]
    start = min(hits, key=lambda i: abs(i - anchor.start_line))
    return start, start + n - 1


def place_thread(thread: Thread, files: LocalFiles) -> LocalThread | None:
    """The thread in the local copy of its file; None when the file is not in our workspace."""
    uri = files.uri_of(thread.anchor.path)
    if uri is None:
        return None
    lines = files.lines(uri)
    found = locate(thread.anchor, lines) if lines is not None else None
    if found is None:
        return LocalThread(thread=thread, uri=uri, range=None, outdated=True, moved=False)
    start, end = found
    end_char = len(lines[end]) if lines is not None else 0
    rng = Range(start=Position(line=start, character=0),
                end=Position(line=end, character=end_char))
    return LocalThread(thread=thread, uri=uri, range=rng, outdated=False,
                       moved=start != thread.anchor.start_line)


def make_anchor(path: str, lines: Sequence[str], start: int, end: int) -> Anchor:
    """An anchor for lines ``start..end`` (inclusive) with three lines of context."""
    return Anchor(
        path=path,
        start_line=start,
        end_line=end,
        text=list(lines[start:end + 1]),
        before=list(lines[max(0, start - 3):start]),
        after=list(lines[end + 1:end + 4]),
    )
