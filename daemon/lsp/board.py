"""Comment threads placed in the local files, kept in step with local edits.

Each thread's placement (``daemon.text.anchors.Placement``) is found by its anchor
the first time it is shown, then follows the document's incremental edits;
opening a document places its threads again against the open text.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from typing import Any

from daemon.lsp import views
from daemon.lsp.local import LocalFiles
from daemon.protocol import ErrorParams, LocalThread, Method, ThreadsChangedParams
from daemon.text import anchors
from daemon.text.workspace import valid_path
from wire import Thread

log = logging.getLogger(__name__)


class ThreadBoard:
    """Placements of the session's threads and the ``didChangeThreads`` they produce."""

    def __init__(self, files: LocalFiles, notify: Callable[[str, Any], None]) -> None:
        self.files = files
        self._notify = notify
        self.placements: dict[str, anchors.Placement] = {}
        self.uris: dict[str, str] = {}  # thread id -> URI of the file it was placed in
        self.on_change: Callable[[set[str]], None] | None = None
        self.on_clear: Callable[[], None] | None = None
        self._reported: set[str] = set()  # bad threads already reported to the editor

    def clear(self) -> None:
        """No session any more (or another one): forget every placement."""
        self.placements.clear()
        self.uris.clear()
        if self.on_clear is not None:
            self.on_clear()

    def place(self, thread: Thread) -> LocalThread | None:
        """``thread`` in the local copy of its file (None outside the workspace)."""
        if not valid_path(thread.anchor.path):
            self._bad(thread, "its path is not a workspace-relative path")
            return None
        try:
            placed = views.place_thread(thread, self.files, self.placements.get(thread.id))
        except Exception as exc:  # one bad thread never fails the others
            self._bad(thread, f"{type(exc).__name__}: {exc}")
            return None
        if placed is None:
            return None
        self.placements[thread.id] = placed[1]
        self.uris[thread.id] = placed[0].uri
        return placed[0]

    def _bad(self, thread: Thread, why: str) -> None:
        """Leave a thread from the relay out, log it, and tell the editor once."""
        log.warning("leaving out thread %r: %s", thread.id, why)
        if thread.id in self._reported:
            return
        self._reported.add(thread.id)
        self._notify(Method.DID_ERROR, ErrorParams(
            code="bad_item", message=f"thread {thread.id!r} from the relay is left out: {why}",
            method=None))

    def publish(self, threads: Iterable[Thread], removed: list[str] | None = None) -> None:
        """Tell the editor about placed threads (upserts) and deleted ones (by id)."""
        placed = [lt for lt in (self.place(t) for t in threads) if lt is not None]
        gone = {uri for uri in (self.uris.pop(tid, None) for tid in removed or ()) if uri}
        for tid in removed or ():
            self.placements.pop(tid, None)
        if placed or removed:
            self._notify(Method.DID_CHANGE_THREADS,
                         ThreadsChangedParams(threads=placed, removed=removed or []))
            if self.on_change is not None:
                self.on_change({lt.uri for lt in placed} | gone)

    def document_changed(self, uri: str, edits: list[Any], threads: Iterable[Thread]) -> None:
        path = self.files.path_of(uri)
        if path is None:
            return
        lines = self.files.lines(uri)
        moved: list[Thread] = []
        for t in threads:
            if t.anchor.path != path:
                continue
            before = self.placements.get(t.id)
            if before is None or lines is None:
                self.placements.pop(t.id, None)
                moved.append(t)
                continue
            after = anchors.follow(before, edits, t.anchor, lines)
            self.placements[t.id] = after  # its characters may have moved within its lines
            if after != before:
                moved.append(t)
        if moved:
            self.publish(moved)

    def document_opened(self, uri: str, threads: Iterable[Thread]) -> None:
        path = self.files.path_of(uri)
        if path is None:
            return
        mine = [t for t in threads if t.anchor.path == path]
        for t in mine:
            self.placements.pop(t.id, None)
        if mine:
            self.publish(mine)
        elif self.on_change is not None:
            self.on_change({uri})
