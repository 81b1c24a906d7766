"""The local side of files for the core: one facade over the document store.

URIs <-> workspace paths come from ``daemon.text.documents.Workspace``, text from
``daemon.text.documents.DocumentStore`` (open documents, else disk), and position
units from ``daemon.text.positions`` (wire UTF-16 <-> the negotiated encoding).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence

from daemon.errors import InvalidParams, UnknownFile
from daemon.text import positions
from daemon.text.documents import DocumentStore
from daemon.text.ignore import IgnoreFilter
from daemon.text.positions import Encoding, PositionError
from daemon.text.workspace import Workspace
from wire import Position, Range, Selection

log = logging.getLogger(__name__)

MAX_POSITION = 2**31 - 1  # LSP's uinteger bound; a peer's position beyond it is dropped


class LocalFiles:
    """Maps editor URIs to workspace paths and reads their current text."""

    def __init__(self, roots: Sequence[str], encoding: Callable[[], Encoding],
                 ignore: Sequence[str] = ()) -> None:
        self.workspace = Workspace(roots, IgnoreFilter(ignore))
        self.store = DocumentStore()
        self._encoding = encoding

    @property
    def roots(self) -> list[str]:
        return self.workspace.roots

    @property
    def encoding(self) -> Encoding:
        return self._encoding()

    def path_of(self, uri: str) -> str | None:
        """Workspace-relative POSIX path of ``uri``, or None outside every root or ignored."""
        return self.workspace.path_for(uri)

    def require_path(self, uri: str) -> str:
        path = self.path_of(uri)
        if path is None:
            if self.workspace.reason(uri) == "ignored":
                raise UnknownFile(f"{uri} is ignored (a secret file, .gitignore or "
                                  "ensemble.ignore): it is never shared")
            raise UnknownFile(f"{uri} is not inside the workspace")
        return path

    def uri_of(self, path: str) -> str | None:
        return self.workspace.uri_for(path) if path else None

    def lines(self, uri: str) -> list[str] | None:
        return self.store.lines(uri)

    # ---- positions: editor units <-> wire UTF-16 -------------------------------------

    def _check(self, uri: str, points: list[Position]) -> list[str] | None:
        """Refuse positions that are not in the document: negative, a line past its last
        line, a character past its line's end or inside a character (half a surrogate
        pair in UTF-16). Checked against the open text, else the file on disk."""
        for p in points:
            if p.line < 0 or p.character < 0:
                raise InvalidParams(f"position {p.line}:{p.character} is negative")
        lines = self.lines(uri)
        if lines is None:
            return None
        enc = self.encoding
        for p in points:
            if p.line >= len(lines):
                raise InvalidParams(f"line {p.line} is past the end of {uri} "
                                    f"({len(lines)} lines)")
            try:
                positions.to_index(lines[p.line], p.character, enc, clamp=False)
            except PositionError as exc:
                raise InvalidParams(f"position {p.line}:{p.character} of {uri}: {exc}"
                                    ) from exc
        return lines

    def selections_to_wire(self, uri: str, sels: list[Selection]) -> list[Selection]:
        """Editor selections as wire selections; out-of-range positions are refused."""
        lines = self._check(uri, [p for s in sels for p in (s.anchor, s.active)])
        enc = self.encoding
        if enc == positions.WIRE or lines is None:
            return sels
        try:
            return [Selection(anchor=positions.to_wire(lines, s.anchor, enc),
                              active=positions.to_wire(lines, s.active, enc)) for s in sels]
        except PositionError as exc:
            raise InvalidParams(str(exc)) from exc

    def ranges_to_wire(self, uri: str, ranges: list[Range]) -> list[Range]:
        lines = self._check(uri, [p for r in ranges for p in (r.start, r.end)])
        enc = self.encoding
        if enc == positions.WIRE or lines is None:
            return ranges
        try:
            return [positions.convert_range(lines, r, enc, positions.WIRE) for r in ranges]
        except PositionError as exc:
            raise InvalidParams(str(exc)) from exc

    # ---- peers' positions: clamped into our text, never trusted ---------------------

    def _from_wire(self, lines: list[str] | None, pos: Position) -> Position | None:
        """A peer's wire position in editor units, clamped into ``lines`` (our text of the
        file); None when it is negative, or past LSP's bounds with no text to clamp into."""
        if pos.line < 0 or pos.character < 0:
            return None
        if lines is None:
            ok = pos.line <= MAX_POSITION and pos.character <= MAX_POSITION
            return pos if ok and self.encoding == positions.WIRE else None
        return positions.from_wire(lines, pos, self.encoding)

    def selections_from_wire(self, uri: str, sels: list[Selection]) -> list[Selection]:
        """A peer's selections in editor units, clamped into our text; those that are
        no position at all are dropped (and logged)."""
        lines = self.lines(uri)
        out: list[Selection] = []
        for s in sels:
            anchor, active = self._from_wire(lines, s.anchor), self._from_wire(lines, s.active)
            if anchor is None or active is None:
                log.warning("dropping a peer's selection outside any text in %s", uri)
                continue
            out.append(Selection(anchor=anchor, active=active))
        return out

    def ranges_from_wire(self, uri: str, ranges: list[Range]) -> list[Range]:
        lines = self.lines(uri)
        out: list[Range] = []
        for r in ranges:
            start, end = self._from_wire(lines, r.start), self._from_wire(lines, r.end)
            if start is None or end is None:
                log.warning("dropping a peer's range outside any text in %s", uri)
                continue
            out.append(Range(start=start, end=end))
        return out
