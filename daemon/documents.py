"""Open documents and workspace paths.

:class:`DocumentStore` keeps the text of every document the editor has open,
fed by the LSP notifications (the server core calls it from its handlers)::

    store = DocumentStore(encoding=positions.negotiated(server))   # after initialize
    store.open(p.text_document.uri, p.text_document.text, p.text_document.version)
    edits = store.change(p.text_document.uri, p.text_document.version,
                         p.content_changes)          # -> list[LineEdit]
    store.close(p.text_document.uri)
    lines = store.lines(uri)        # open text, else read from disk, else None

``change`` accepts incremental and full changes; incremental ranges are in the
negotiated client encoding and are converted here, once. The returned
:class:`LineEdit` list feeds :func:`daemon.anchors.track` so comment anchors
follow typing before the file is saved.

:class:`Workspace` maps document URIs to workspace-relative POSIX paths (the
names used on the wire) against one or more roots, and back::

    ws = Workspace(init_options.workspace_roots or [f.uri for f in workspace_folders])
    ws.path_for(uri)   # "src/app.py", or None outside every root
    ws.uri_for(path)   # file URI under the root that has the file (else the first root)

:func:`content_hash` (sha1 of the text with line breaks normalized to ``\\n``)
identifies a file's content across machines, and :func:`line_matches` checks a
peer's recorded line against ours: a peer's cursor in a file whose hash or
line differs is shown as approximate.
"""

from __future__ import annotations

import hashlib
import os
import posixpath
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from urllib.parse import quote, unquote, urlsplit

from lsprotocol import types

from daemon.positions import WIRE, Encoding, PositionError, to_index

_BREAK = re.compile(r"\r\n|\r|\n")
MAX_DISK_BYTES = 8 * 1024 * 1024  # unopened files larger than this are not read


class DocumentError(LookupError):
    """a document operation that cannot apply (unknown document, bad range)."""


def split_lines(text: str) -> list[str]:
    """Split like LSP does (``\\n``, ``\\r\\n`` and ``\\r`` end a line); always >= 1 line."""
    return _BREAK.split(text)


def content_hash(text_or_lines: str | Sequence[str]) -> str:
    """sha1 (hex) of a text, line breaks normalized, so CRLF and LF checkouts agree."""
    lines = split_lines(text_or_lines) if isinstance(text_or_lines, str) else text_or_lines
    return hashlib.sha1("\n".join(lines).encode("utf-8", "surrogatepass")).hexdigest()


def line_matches(lines: Sequence[str], line: int, text: str) -> bool:
    """Whether our ``lines`` hold exactly ``text`` (a peer's recorded line) at ``line``."""
    return 0 <= line < len(lines) and lines[line] == text.rstrip("\r\n")


@dataclass(frozen=True, slots=True)
class LineEdit:
    """One applied change, in lines, for anchor tracking (see daemon.anchors.track).

    Old lines ``start_line..end_line`` were touched; the inserted text holds
    ``inserted_breaks`` line breaks, so lines below ``end_line`` moved by
    ``inserted_breaks - (end_line - start_line)``. ``whole`` marks a full
    replacement, after which anchors must be found again by their text.
    """

    start_line: int
    end_line: int
    inserted_breaks: int
    starts_at_line_end: bool = False  # the change began at the end of start_line
    starts_at_line_start: bool = False  # the change began at character 0 of start_line
    ends_at_line_start: bool = False  # the change ended at character 0 of end_line
    whole: bool = False

    @property
    def delta(self) -> int:
        return self.inserted_breaks - (self.end_line - self.start_line)


@dataclass(slots=True)
class Document:
    uri: str
    text: str
    version: int | None = None
    lines: list[str] = field(default_factory=list)
    _hash: str | None = None

    def __post_init__(self) -> None:
        self.lines = split_lines(self.text)

    @property
    def content_hash(self) -> str:
        if self._hash is None:
            self._hash = content_hash(self.lines)
        return self._hash

    def line(self, number: int) -> str | None:
        return self.lines[number] if 0 <= number < len(self.lines) else None

    def offset(self, line: int, character: int, encoding: Encoding) -> int:
        """Index in ``text`` of an LSP position; strict (raises PositionError)."""
        if line < 0 or character < 0:
            raise PositionError(f"negative position {line}:{character}")
        if line >= len(self.lines):
            if line == len(self.lines) and character == 0:
                return len(self.text)  # the position just past the last line
            raise PositionError(f"line {line} is past the last line ({len(self.lines) - 1})")
        start = 0
        for match, _ in zip(_BREAK.finditer(self.text), range(line), strict=False):
            start = match.end()
        return start + to_index(self.lines[line], character, encoding, clamp=False)

    def replace(self, text: str, version: int | None) -> None:
        self.text = text
        self.version = version
        self.lines = split_lines(text)
        self._hash = None


def canonical_uri(uri: str) -> str:
    """A stable key for a URI: file URIs re-encoded from their decoded path."""
    path = uri_to_path(uri)
    return path_to_uri(path) if path is not None else uri


def uri_to_path(uri: str) -> str | None:
    """The local filesystem path of a ``file:`` URI (normalized), else None."""
    parts = urlsplit(uri)
    if parts.scheme != "file":
        return None
    path = unquote(parts.path)
    if not path.startswith("/"):
        return None
    return posixpath.normpath(path)


def path_to_uri(path: str) -> str:
    """A ``file:`` URI for an absolute filesystem path."""
    return "file://" + quote(posixpath.normpath(os.path.abspath(path)), safe="/")


class Workspace:
    """Workspace roots; URIs <-> workspace-relative POSIX paths.

    ``roots`` are file URIs or absolute paths. A URI inside several nested
    roots maps against the innermost one. Paths that leave the root (``..``) or
    are absolute never map to a URI.
    """

    def __init__(self, roots: Iterable[str]) -> None:
        found: list[str] = []
        for root in roots:
            path = uri_to_path(root) if "://" in root else posixpath.normpath(root)
            if path is not None and path.startswith("/") and path not in found:
                found.append(path)
        self.roots: list[str] = found

    def path_for(self, uri: str) -> str | None:
        """Workspace-relative POSIX path of ``uri``; None when outside every root."""
        path = uri_to_path(uri)
        if path is None:
            return None
        best: str | None = None
        for root in self.roots:
            if path.startswith(root.rstrip("/") + "/") and (best is None or len(root) > len(best)):
                best = root
        if best is None:
            return None
        return posixpath.relpath(path, best)

    def uri_for(self, path: str) -> str | None:
        """File URI of a workspace-relative ``path`` under the first root holding it
        (the first root when none does); None for a path that escapes the roots."""
        if not self.roots or not path or path.startswith("/") or "\\" in path:
            return None
        norm = posixpath.normpath(path)
        if norm == "." or norm == ".." or norm.startswith("../"):
            return None
        for root in self.roots:
            candidate = posixpath.join(root, norm)
            if os.path.exists(candidate):
                return path_to_uri(candidate)
        return path_to_uri(posixpath.join(self.roots[0], norm))


class DocumentStore:
    """Text of the open documents, keyed by canonical URI."""

    def __init__(self, encoding: Encoding = WIRE) -> None:
        self.encoding: Encoding = encoding
        self._docs: dict[str, Document] = {}

    def __contains__(self, uri: str) -> bool:
        return canonical_uri(uri) in self._docs

    def __len__(self) -> int:
        return len(self._docs)

    def uris(self) -> list[str]:
        return [doc.uri for doc in self._docs.values()]

    def open(self, uri: str, text: str, version: int | None = None) -> Document:
        doc = Document(uri=uri, text=text, version=version)
        self._docs[canonical_uri(uri)] = doc
        return doc

    def close(self, uri: str) -> None:
        self._docs.pop(canonical_uri(uri), None)

    def get(self, uri: str) -> Document | None:
        return self._docs.get(canonical_uri(uri))

    def change(
        self,
        uri: str,
        version: int | None,
        changes: Sequence[types.TextDocumentContentChangeEvent],
    ) -> list[LineEdit]:
        """Apply didChange content changes in order; return what moved, in lines.

        Raises DocumentError for an unknown document and PositionError for a
        range outside the text; the document is then left as it was.
        """
        doc = self.get(uri)
        if doc is None:
            raise DocumentError(f"document is not open: {uri}")
        work = Document(uri=doc.uri, text=doc.text, version=doc.version)
        edits: list[LineEdit] = []
        for change in changes:
            if isinstance(change, types.TextDocumentContentChangePartial):
                edits.append(self._apply(work, change.range, change.text))
            else:
                work.replace(change.text, version)
                edits.append(LineEdit(0, 0, 0, whole=True))
        doc.replace(work.text, version)
        return edits

    def _apply(self, doc: Document, rng: types.Range, new: str) -> LineEdit:
        start, end = rng.start, rng.end
        if (end.line, end.character) < (start.line, start.character):
            raise PositionError(f"range end {end.line}:{end.character} is before its start")
        begin = doc.offset(start.line, start.character, self.encoding)
        stop = doc.offset(end.line, end.character, self.encoding)
        start_line_text = doc.line(start.line) or ""
        at_end = begin - (doc.offset(start.line, 0, self.encoding)) == len(start_line_text)
        edit = LineEdit(
            start_line=start.line,
            end_line=min(end.line, len(doc.lines) - 1),
            inserted_breaks=len(_BREAK.findall(new)),
            starts_at_line_end=at_end,
            starts_at_line_start=start.character == 0,
            ends_at_line_start=end.character == 0,
        )
        doc.replace(doc.text[:begin] + new + doc.text[stop:], doc.version)
        return edit

    def lines(self, uri: str) -> list[str] | None:
        """Lines of an open document, else of the file on disk, else None."""
        doc = self.get(uri)
        if doc is not None:
            return doc.lines
        path = uri_to_path(uri)
        if path is None:
            return None
        return read_lines(path)


def read_lines(path: str) -> list[str] | None:
    """Lines of a text file on disk (UTF-8, undecodable bytes replaced); None when
    missing, unreadable, a directory, or larger than MAX_DISK_BYTES."""
    try:
        if os.path.getsize(path) > MAX_DISK_BYTES:
            return None
        with open(path, "rb") as fh:
            data = fh.read()
    except OSError:
        return None
    return split_lines(data.decode("utf-8", "replace"))
