"""The local side of files: URIs <-> workspace paths, file text, position units.

Wire positions are UTF-16; the editor speaks the encoding negotiated at
initialize (``utf-16``, ``utf-8`` or ``utf-32``). Text comes from the open
document when the editor has it open, else from disk.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from pathlib import Path, PurePosixPath
from urllib.parse import quote, unquote, urlparse

from daemon.errors import InvalidParams, UnknownFile
from relay.protocol import Position, Range, Selection

MAX_FILE_BYTES = 8 * 1024 * 1024


def uri_to_fs(uri: str) -> Path | None:
    parts = urlparse(uri)
    if parts.scheme != "file":
        return None
    return Path(unquote(parts.path))


def fs_to_uri(path: Path) -> str:
    return "file://" + quote(path.as_posix(), safe="/:")


def _units(ch: str, encoding: str) -> int:
    cp = ord(ch)
    if encoding == "utf-8":
        return 1 if cp < 0x80 else 2 if cp < 0x800 else 3 if cp < 0x10000 else 4
    if encoding == "utf-32":
        return 1
    return 2 if cp >= 0x10000 else 1


def convert_column(line: str, column: int, src: str, dst: str) -> int:
    """Column ``column`` in ``src`` units of ``line`` as ``dst`` units (clamped to the end)."""
    if src == dst:
        return column
    seen = 0
    out = 0
    for ch in line:
        if seen >= column:
            break
        seen += _units(ch, src)
        out += _units(ch, dst)
    return out


class LocalFiles:
    """Maps editor URIs to workspace paths and reads their current text."""

    def __init__(
        self,
        roots: Sequence[str],
        open_text: Callable[[str], str | None],
        encoding: Callable[[], str],
    ) -> None:
        self.roots: list[Path] = [p for p in (uri_to_fs(r) for r in roots) if p is not None]
        self._open_text = open_text
        self._encoding = encoding

    @property
    def encoding(self) -> str:
        return self._encoding()

    def path_of(self, uri: str) -> str | None:
        """Workspace-relative POSIX path of ``uri``, or None outside every root."""
        fs = uri_to_fs(uri)
        if fs is None:
            return None
        fs = Path(os.path.normpath(fs))
        for root in self.roots:
            try:
                rel = fs.relative_to(Path(os.path.normpath(root)))
            except ValueError:
                continue
            text = rel.as_posix()
            if text in ("", "."):
                return None
            return text
        return None

    def require_path(self, uri: str) -> str:
        path = self.path_of(uri)
        if path is None:
            raise UnknownFile(f"{uri} is not inside the workspace")
        return path

    def uri_of(self, path: str) -> str | None:
        """Local URI of a workspace path (the root that has the file, else the first)."""
        rel = PurePosixPath(path)
        if rel.is_absolute() or ".." in rel.parts or not self.roots:
            return None
        for root in self.roots:
            candidate = root.joinpath(*rel.parts)
            if candidate.exists():
                return fs_to_uri(candidate)
        return fs_to_uri(self.roots[0].joinpath(*rel.parts))

    def lines(self, uri: str) -> list[str] | None:
        """The document's lines without line endings, or None when unreadable."""
        text = self._open_text(uri)
        if text is None:
            fs = uri_to_fs(uri)
            if fs is None:
                return None
            try:
                if fs.stat().st_size > MAX_FILE_BYTES:
                    return None
                text = fs.read_text(encoding="utf-8", errors="replace")
            except OSError:
                return None
        return text.splitlines()

    # ---- positions -----------------------------------------------------------------

    def _convert(self, lines: list[str] | None, pos: Position, src: str, dst: str) -> Position:
        if pos.line < 0 or pos.character < 0:
            raise InvalidParams(f"position {pos.line}:{pos.character} is negative")
        if src == dst or lines is None or pos.line >= len(lines):
            return Position(line=pos.line, character=pos.character)
        return Position(line=pos.line, character=convert_column(lines[pos.line], pos.character,
                                                                 src, dst))

    def selections_to_wire(self, uri: str, sels: list[Selection]) -> list[Selection]:
        lines = None if self.encoding == "utf-16" else self.lines(uri)
        enc = self.encoding
        return [
            Selection(
                anchor=self._convert(lines, s.anchor, enc, "utf-16"),
                active=self._convert(lines, s.active, enc, "utf-16"),
            )
            for s in sels
        ]

    def ranges_to_wire(self, uri: str, ranges: list[Range]) -> list[Range]:
        lines = None if self.encoding == "utf-16" else self.lines(uri)
        enc = self.encoding
        return [
            Range(
                start=self._convert(lines, r.start, enc, "utf-16"),
                end=self._convert(lines, r.end, enc, "utf-16"),
            )
            for r in ranges
        ]

    def selections_from_wire(self, uri: str, sels: list[Selection]) -> list[Selection]:
        enc = self.encoding
        if enc == "utf-16":
            return sels
        lines = self.lines(uri)
        return [
            Selection(
                anchor=self._convert(lines, s.anchor, "utf-16", enc),
                active=self._convert(lines, s.active, "utf-16", enc),
            )
            for s in sels
        ]

    def ranges_from_wire(self, uri: str, ranges: list[Range]) -> list[Range]:
        enc = self.encoding
        if enc == "utf-16":
            return ranges
        lines = self.lines(uri)
        return [
            Range(
                start=self._convert(lines, r.start, "utf-16", enc),
                end=self._convert(lines, r.end, "utf-16", enc),
            )
            for r in ranges
        ]
