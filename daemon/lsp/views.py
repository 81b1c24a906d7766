"""What the editor draws: peers and threads placed in the local files."""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Sequence

from daemon.lsp.local import LocalFiles
from daemon.protocol import LocalThread, PeerView
from daemon.session.mirror import SessionMirror
from daemon.text import anchors
from daemon.text.positions import Encoding
from daemon.text.workspace import valid_path
from wire import CursorState, Thread, ViewportState

log = logging.getLogger(__name__)

PALETTE_SIZE = 12


def color_of(user_id: str) -> int:
    """Stable palette index of a user: the same on every machine and every run."""
    digest = hashlib.sha1(user_id.encode("utf-8")).digest()
    return int.from_bytes(digest[:4], "big") % PALETTE_SIZE


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
            try:
                _place_peer(view, pres.cursor, pres.viewport, pres.focus, files)
            except Exception as exc:  # one peer's bad presence never hides the others
                log.warning("leaving out %s's position: %s: %s", user_id, type(exc).__name__,
                            exc)
                view.path = view.uri = view.focus_uri = None
                view.selections, view.visible = [], []
        out.append(view)
    out.sort(key=lambda v: (not v.online, v.user.name.lower(), v.user.id))
    return out


def _place_peer(view: PeerView, cursor: CursorState | None, viewport: ViewportState | None,
                focus: str | None, files: LocalFiles) -> None:
    path: str | None = None
    if cursor is not None:
        path = cursor.path
    elif viewport is not None:
        path = viewport.path
    if focus and valid_path(focus):
        view.focus_uri = files.uri_of(focus)
    if path is None or not valid_path(path):
        return
    uri = files.uri_of(path)
    view.path = path
    view.uri = uri
    if uri is None:
        return
    lines = files.lines(uri)
    approximate = lines is None
    if cursor is not None and cursor.path == path:
        peer_hash = cursor.content_hash
        if lines is not None:
            if peer_hash is not None:
                # None: a big document we are typing in, so it differs from theirs
                approximate = peer_hash != files.store.hash_of(uri)
            else:
                last = max((max(s.anchor.line, s.active.line) for s in cursor.selections),
                           default=0)
                approximate = last > len(lines)
        view.selections = files.selections_from_wire(uri, cursor.selections)
    if viewport is not None and viewport.path == path:
        view.visible = files.ranges_from_wire(uri, viewport.ranges)
    view.approximate = approximate


# ----- threads ---------------------------------------------------------------------


def place_thread(
    thread: Thread, files: LocalFiles, placement: anchors.Placement | None = None
) -> tuple[LocalThread, anchors.Placement] | None:
    """The thread in the local copy of its file (None when the file is outside our workspace).

    ``placement``: a placement already tracked through local edits; otherwise the
    anchor is looked up by its text.
    """
    uri = files.uri_of(thread.anchor.path)
    if uri is None:
        return None
    lines = files.lines(uri)
    if placement is None:
        placement = anchors.locate(thread.anchor, lines)
    return local_thread(thread, uri, placement, lines, files.encoding), placement


def local_thread(
    thread: Thread,
    uri: str,
    placement: anchors.Placement,
    lines: Sequence[str] | None,
    encoding: Encoding,
) -> LocalThread:
    """The editor's view of ``thread`` placed at ``placement`` in ``lines``."""
    if placement.start_line is None or placement.end_line is None or lines is None:
        return LocalThread(thread=thread, uri=uri, range=None, outdated=True, moved=False)
    return LocalThread(
        thread=thread,
        uri=uri,
        range=anchors.local_range(lines, placement.start_line, placement.end_line, encoding),
        outdated=False,
        moved=placement.moved,
    )
