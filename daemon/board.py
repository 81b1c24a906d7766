"""Comment threads placed in the local files, kept in step with local edits.

Each thread's placement (``daemon.anchors.Placement``) is found by its anchor
the first time it is shown, then follows the document's incremental edits;
opening a document places its threads again against the open text.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from daemon import anchors, views
from daemon.local import LocalFiles
from daemon.protocol import LocalThread, Method, ThreadsChangedParams
from relay.protocol import Thread


class ThreadBoard:
    """Placements of the session's threads and the ``didChangeThreads`` they produce."""

    def __init__(self, files: LocalFiles, notify: Callable[[str, Any], None]) -> None:
        self.files = files
        self._notify = notify
        self.placements: dict[str, anchors.Placement] = {}
        self.on_change: Callable[[set[str]], None] | None = None
        self.on_clear: Callable[[], None] | None = None

    def clear(self) -> None:
        """No session any more (or another one): forget every placement."""
        self.placements.clear()
        if self.on_clear is not None:
            self.on_clear()

    def place(self, thread: Thread) -> LocalThread | None:
        """``thread`` in the local copy of its file (None outside the workspace)."""
        placed = views.place_thread(thread, self.files, self.placements.get(thread.id))
        if placed is None:
            return None
        self.placements[thread.id] = placed[1]
        return placed[0]

    def publish(self, threads: Iterable[Thread], removed: list[str] | None = None) -> None:
        placed = [lt for lt in (self.place(t) for t in threads) if lt is not None]
        if placed or removed:
            self._notify(Method.DID_CHANGE_THREADS,
                         ThreadsChangedParams(threads=placed, removed=removed or []))
            if self.on_change is not None:
                self.on_change({lt.uri for lt in placed})

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
