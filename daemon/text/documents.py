"""Open documents and workspace paths.

:class:`DocumentStore` keeps the text of every document the editor has open,
fed by the LSP notifications (the server core calls it from its handlers)::

    store = DocumentStore(encoding=lambda: positions.negotiated(server))
    store.open(p.text_document.uri, p.text_document.text, p.text_document.version)
    edits = store.change(p.text_document.uri, p.text_document.version,
                         p.content_changes)          # -> list[LineEdit]
    store.close(p.text_document.uri)
    lines = store.lines(uri)        # open text, else read from disk, else None

``change`` accepts incremental and full changes; incremental ranges are in the
negotiated client encoding and are converted here, once. The returned
:class:`LineEdit` list feeds :func:`daemon.text.anchors.track` so comment anchors
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
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

from daemon.text.positions import WIRE, Encoding, PositionError, to_index
from daemon.text.workspace import Workspace, canonical_uri, path_to_uri, uri_to_path

__all__ = ["ContentChange", "Document", "DocumentError", "DocumentStore", "LineEdit", "Workspace",
           "canonical_uri", "content_hash", "line_matches", "path_to_uri", "read_lines",
           "split_lines", "uri_to_path"]

_BREAK = re.compile(r"\r\n|\r|\n")
MAX_DISK_BYTES = 8 * 1024 * 1024  # unopened files larger than this are not read
BIG_DOCUMENT = 1024 * 1024  # characters: above this, hashing the text is not free
QUIET = 0.5  # seconds without an edit before a big document's hash is computed


class DocumentError(LookupError):
    """a document operation that cannot apply (unknown document, bad range)."""


class TextPosition(Protocol):
    """An LSP position (``lsprotocol.types.Position`` or ``wire.Position``)."""

    @property
    def line(self) -> int: ...

    @property
    def character(self) -> int: ...


class TextRange(Protocol):
    """An LSP range."""

    @property
    def start(self) -> TextPosition: ...

    @property
    def end(self) -> TextPosition: ...


class ContentChange(Protocol):
    """One ``didChange`` content change: incremental when it has a ``range``
    (``TextDocumentContentChangePartial``), else the whole new text."""

    @property
    def text(self) -> str: ...


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
    """One applied change, in lines and characters, for anchor tracking (see
    daemon.text.anchors.track).

    The old text from (``start_line``, ``start_char``) to (``end_line``,
    ``end_char``) (string indices) was replaced by a text holding
    ``inserted_breaks`` line breaks and ``inserted_tail`` characters after the
    last one (all its characters when it has none), so lines below ``end_line``
    moved by ``inserted_breaks - (end_line - start_line)``. ``whole`` marks a
    full replacement, after which anchors must be found again by their text.
    """

    start_line: int
    end_line: int
    inserted_breaks: int
    starts_at_line_end: bool = False  # the change began at the end of start_line
    start_char: int = 0
    end_char: int = 0
    inserted_tail: int = 0
    whole: bool = False

    @property
    def delta(self) -> int:
        return self.inserted_breaks - (self.end_line - self.start_line)

    @property
    def starts_at_line_start(self) -> bool:
        return self.start_char == 0

    @property
    def ends_at_line_start(self) -> bool:
        return self.end_char == 0


class Document:
    """One open document: its lines (the source of truth), version and hash.

    Edits splice ``lines`` in place of re-splitting the whole text, so typing in
    a large file costs in proportion to the edited lines. ``text`` joins the
    lines with the document's first line break (mixed breaks are normalized).
    """

    __slots__ = ("_hash", "_text", "edited_at", "eol", "lines", "size", "uri", "version")

    def __init__(self, uri: str, text: str, version: int | None = None) -> None:
        self.uri = uri
        self.version = version
        self.lines: list[str] = split_lines(text)
        match = _BREAK.search(text)
        self.eol = match.group(0) if match else "\n"
        self._text: str | None = None  # joined again on demand: the lines are the one copy
        self._hash: str | None = None
        self.size = len(text)  # characters, line breaks counted as one
        self.edited_at = 0.0  # time.monotonic() of the last edit

    def shared_hash(self) -> str | None:
        """The content hash for a cursor frame, when it is cheap: always for a small
        document, for a big one (over BIG_DOCUMENT characters) only once typing has
        paused for QUIET seconds; None while a big document is being edited (sha1 of
        10 MB is tens of milliseconds, too much for every keystroke). A peer then
        shows our caret by the line-count rule (docs/editor-protocol.md)."""
        if self._hash is not None or self.size <= BIG_DOCUMENT:
            return self.content_hash
        if time.monotonic() - self.edited_at >= QUIET:
            return self.content_hash
        return None

    @property
    def text(self) -> str:
        if self._text is None:
            self._text = self.eol.join(self.lines)
        return self._text

    @property
    def content_hash(self) -> str:
        if self._hash is None:
            self._hash = content_hash(self.lines)
        return self._hash

    def line(self, number: int) -> str | None:
        return self.lines[number] if 0 <= number < len(self.lines) else None

    def index(self, line: int, character: int, encoding: Encoding) -> tuple[int, int]:
        """(line, string index in that line) of an LSP position; strict.

        The position just past the last line (``len(lines)``, 0) means the end of
        the text. Anything else outside the text raises PositionError.
        """
        if line < 0 or character < 0:
            raise PositionError(f"negative position {line}:{character}")
        if line >= len(self.lines):
            if line == len(self.lines) and character == 0:
                return len(self.lines) - 1, len(self.lines[-1])
            raise PositionError(f"line {line} is past the last line ({len(self.lines) - 1})")
        return line, to_index(self.lines[line], character, encoding, clamp=False)

    def splice(self, start: tuple[int, int], end: tuple[int, int], new: str) -> None:
        """Replace the text between two (line, index) points."""
        (sl, si), (el, ei) = start, end
        removed = sum(len(line) for line in self.lines[sl : el + 1]) + (el - sl)
        added = split_lines(self.lines[sl][:si] + new + self.lines[el][ei:])
        self.lines[sl : el + 1] = added
        self.size += sum(len(line) for line in added) + len(added) - 1 - removed
        self._text = None
        self._hash = None
        self.edited_at = time.monotonic()

    def replace(self, text: str, version: int | None) -> None:
        self.version = version
        self.lines = split_lines(text)
        self._text = None
        self._hash = None
        self.size = len(text)
        self.edited_at = time.monotonic()


class DocumentStore:
    """Text of the open documents, keyed by canonical URI.

    ``encoding`` is the client's negotiated position encoding, or a zero-argument
    callable returning it (read at every change, so the store may be built
    before initialize has finished).
    """

    def __init__(self, encoding: Encoding | Callable[[], Encoding] = WIRE) -> None:
        self._encoding = encoding
        self._docs: dict[str, Document] = {}
        self._disk_hashes: dict[str, tuple[tuple[int, int], str]] = {}

    @property
    def encoding(self) -> Encoding:
        return self._encoding() if callable(self._encoding) else self._encoding

    @encoding.setter
    def encoding(self, value: Encoding | Callable[[], Encoding]) -> None:
        self._encoding = value

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
        changes: Sequence[ContentChange],
    ) -> list[LineEdit]:
        """Apply didChange content changes in order; return what moved, in lines.

        Raises DocumentError for an unknown document and PositionError for a
        range outside the text; the document is then left as it was.
        """
        doc = self.get(uri)
        if doc is None:
            raise DocumentError(f"document is not open: {uri}")
        edits: list[LineEdit] = []
        # one change (a keystroke) is checked before it splices: no copy of the lines;
        # several are applied in order, so the lines are saved to restore on a bad one
        saved = (list(doc.lines) if len(changes) > 1 else doc.lines, doc._text, doc._hash,
                 doc.version)
        try:
            for change in changes:
                rng: TextRange | None = getattr(change, "range", None)
                if rng is not None:
                    edits.append(self._apply(doc, rng, change.text))
                else:
                    doc.replace(change.text, version)
                    edits.append(LineEdit(0, 0, 0, whole=True))
        except PositionError:
            doc.lines, doc._text, doc._hash, doc.version = saved
            doc.size = sum(len(line) for line in doc.lines) + len(doc.lines) - 1
            raise
        doc.version = version
        return edits

    def _apply(self, doc: Document, rng: TextRange, new: str) -> LineEdit:
        start, end = rng.start, rng.end
        if (end.line, end.character) < (start.line, start.character):
            raise PositionError(f"range end {end.line}:{end.character} is before its start")
        begin = doc.index(start.line, start.character, self.encoding)
        stop = doc.index(end.line, end.character, self.encoding)
        inserted = split_lines(new)
        edit = LineEdit(
            start_line=begin[0],
            end_line=stop[0],
            inserted_breaks=len(inserted) - 1,
            starts_at_line_end=begin[1] == len(doc.lines[begin[0]]),
            start_char=begin[1],
            end_char=stop[1],
            inserted_tail=len(inserted[-1]),
        )
        doc.splice(begin, stop, new)
        return edit

    def hash_of(self, uri: str) -> str | None:
        """The content hash to share for ``uri``: an open document's (see
        Document.shared_hash), else the file on disk's (cached by size and mtime), else
        None."""
        doc = self.get(uri)
        if doc is not None:
            return doc.shared_hash()
        path = uri_to_path(uri)
        if path is None:
            return None
        try:
            st = os.stat(path)
        except (OSError, ValueError):
            return None
        key = (st.st_size, st.st_mtime_ns)
        cached = self._disk_hashes.get(path)
        if cached is not None and cached[0] == key:
            return cached[1]
        lines = read_lines(path)
        if lines is None:
            return None
        digest = content_hash(lines)
        if len(self._disk_hashes) > 256:
            self._disk_hashes.clear()
        self._disk_hashes[path] = (key, digest)
        return digest

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
