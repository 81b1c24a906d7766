"""The local side of files for the core: one facade over the document store.

URIs <-> workspace paths come from ``daemon.documents.Workspace``, text from
``daemon.documents.DocumentStore`` (open documents, else disk), and position
units from ``daemon.positions`` (wire UTF-16 <-> the negotiated encoding).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from daemon import positions
from daemon.documents import DocumentStore, Workspace
from daemon.errors import InvalidParams, UnknownFile
from daemon.positions import Encoding, PositionError
from relay.protocol import Position, Range, Selection


class LocalFiles:
    """Maps editor URIs to workspace paths and reads their current text."""

    def __init__(self, roots: Sequence[str], encoding: Callable[[], Encoding]) -> None:
        self.workspace = Workspace(roots)
        self.store = DocumentStore()
        self._encoding = encoding

    @property
    def roots(self) -> list[str]:
        return self.workspace.roots

    @property
    def encoding(self) -> Encoding:
        return self._encoding()

    def path_of(self, uri: str) -> str | None:
        """Workspace-relative POSIX path of ``uri``, or None outside every root."""
        return self.workspace.path_for(uri)

    def require_path(self, uri: str) -> str:
        path = self.path_of(uri)
        if path is None:
            raise UnknownFile(f"{uri} is not inside the workspace")
        return path

    def uri_of(self, path: str) -> str | None:
        return self.workspace.uri_for(path) if path else None

    def lines(self, uri: str) -> list[str] | None:
        return self.store.lines(uri)

    # ---- positions: editor units <-> wire UTF-16 -------------------------------------

    def _check(self, uri: str, points: list[Position]) -> list[str] | None:
        """Refuse negative positions and lines past the end of an open document."""
        for p in points:
            if p.line < 0 or p.character < 0:
                raise InvalidParams(f"position {p.line}:{p.character} is negative")
        doc = self.store.get(uri)
        if doc is not None:
            last = len(doc.lines)
            for p in points:
                if p.line > last:
                    raise InvalidParams(f"line {p.line} is past the end of {uri} "
                                        f"({last} lines)")
            return doc.lines
        return None

    def selections_to_wire(self, uri: str, sels: list[Selection]) -> list[Selection]:
        """Editor selections as wire selections; out-of-range positions are refused."""
        lines = self._check(uri, [p for s in sels for p in (s.anchor, s.active)])
        enc = self.encoding
        if enc == positions.WIRE:
            return sels
        lines = lines or self.lines(uri) or [""]
        try:
            return [Selection(anchor=positions.to_wire(lines, s.anchor, enc),
                              active=positions.to_wire(lines, s.active, enc)) for s in sels]
        except PositionError as exc:
            raise InvalidParams(str(exc)) from exc

    def ranges_to_wire(self, uri: str, ranges: list[Range]) -> list[Range]:
        lines = self._check(uri, [p for r in ranges for p in (r.start, r.end)])
        enc = self.encoding
        if enc == positions.WIRE:
            return ranges
        lines = lines or self.lines(uri) or [""]
        try:
            return [positions.convert_range(lines, r, enc, positions.WIRE) for r in ranges]
        except PositionError as exc:
            raise InvalidParams(str(exc)) from exc

    def selections_from_wire(self, uri: str, sels: list[Selection]) -> list[Selection]:
        enc = self.encoding
        if enc == positions.WIRE:
            return sels
        lines = self.lines(uri) or [""]
        out: list[Selection] = []
        for s in sels:
            try:
                out.append(Selection(anchor=positions.from_wire(lines, s.anchor, enc),
                                     active=positions.from_wire(lines, s.active, enc)))
            except PositionError:
                continue
        return out

    def ranges_from_wire(self, uri: str, ranges: list[Range]) -> list[Range]:
        enc = self.encoding
        if enc == positions.WIRE:
            return ranges
        lines = self.lines(uri) or [""]
        out: list[Range] = []
        for r in ranges:
            try:
                out.append(positions.convert_range(lines, r, positions.WIRE, enc))
            except PositionError:
                continue
        return out
