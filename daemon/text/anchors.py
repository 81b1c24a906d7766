"""Comment anchors: pin a thread to lines, find them again in a changed file.

An :class:`~wire.Anchor` records the path, the anchored lines
(``start_line..end_line`` inclusive, their text) and up to three lines of
context above and below. The daemon uses it three ways (all pure functions):

``build(path, lines, start_line, end_line)``
    The anchor for a new thread, from the local document's lines.

``locate(anchor, lines)`` -> :class:`Placement`
    Where the thread belongs in a local text, which may differ from the
    author's (edits, another branch): exact, moved, fuzzy with context
    evidence and a clear winner, else outdated. See daemon.text.anchor_locate.

``follow(placement, edits, anchor, lines)``
    Keeps a placement in step with local incremental edits (the
    :class:`~daemon.text.documents.LineEdit` list that ``DocumentStore.change``
    returns), character by character (``track``): the thread covers the
    anchored characters, from the first character of its first line to the
    end of its last line. Text inserted exactly at its start goes above it
    (Enter at column 0 of its first line moves it down), text inserted
    exactly at its end goes below it (Enter at the end of its last line leaves
    it alone), text inserted between its characters grows it, deletions
    shrink it. An edit that removes every anchored character (whatever it
    leaves of the lines around), one that leaves no letter or digit of an
    anchored text that had some, or a full-document replacement, makes it
    look the thread up again by text, which finds the code elsewhere or
    marks it outdated; a thread is never shrunk onto the lines around it.

``local_range(lines, start_line, end_line, encoding)``
    The whole-line range of a placement in the editor's encoding (the editor's
    ``LocalThread`` is built from it in ``daemon.lsp.views``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from daemon.text.anchor_locate import (
    CONTEXT_LINES,
    OUTDATED,
    How,
    Placement,
    Span,
    State,
    locate,
    substance,
)
from daemon.text.documents import LineEdit
from daemon.text.positions import Encoding, units
from wire import Anchor, Position, Range

__all__ = [
    "OUTDATED",
    "AnchorError",
    "How",
    "Placement",
    "Span",
    "State",
    "build",
    "follow",
    "local_range",
    "locate",
    "track",
]


class AnchorError(ValueError):
    """an anchor that cannot be built from the given lines."""


def build(
    path: str, lines: Sequence[str], start_line: int, end_line: int, context: int = CONTEXT_LINES
) -> Anchor:
    """The anchor of ``lines[start_line..end_line]`` (inclusive) with its context.

    ``end_line`` past the text is clamped to the last line; a negative line, a
    start past the text or an end before the start raise AnchorError.
    """
    if start_line < 0 or end_line < start_line:
        raise AnchorError(f"invalid anchor lines {start_line}..{end_line}")
    if start_line >= len(lines):
        raise AnchorError(f"anchor line {start_line} is past the last line ({len(lines) - 1})")
    end_line = min(end_line, len(lines) - 1)
    return Anchor(
        path=path,
        start_line=start_line,
        end_line=end_line,
        text=list(lines[start_line : end_line + 1]),
        before=list(lines[max(0, start_line - context) : start_line]),
        after=list(lines[end_line + 1 : end_line + 1 + context]),
    )


Point = tuple[int, int]


def _map(point: Point, edit: LineEdit, after: bool) -> Point:
    """Where ``point`` is after ``edit``. A point inside the replaced text, or at
    either of its ends, goes after the inserted text (``after``) or before it."""
    p = (edit.start_line, edit.start_char)
    q = (edit.end_line, edit.end_char)
    if point < p or (point == p and not after):
        return point
    inserted_end = (
        edit.start_line + edit.inserted_breaks,
        edit.inserted_tail if edit.inserted_breaks else edit.start_char + edit.inserted_tail,
    )
    if point <= q:
        return inserted_end if after else p
    if point[0] == q[0]:
        return inserted_end[0], inserted_end[1] + point[1] - q[1]
    return point[0] + edit.delta, point[1]


def track(span: Span, edit: LineEdit) -> Span | None:
    """The anchored characters ``span`` after one edit; None when the edit replaced
    them all (or the whole document).

    The start sticks to the first anchored character (insertions there go above
    the thread), the end to the last one (insertions there go below it); an
    empty span (a blank line) moves with insertions at its place.
    """
    if edit.whole:
        return None
    a = (span.start_line, span.start_char)
    b = (span.end_line, span.end_char)
    p = (edit.start_line, edit.start_char)
    q = (edit.end_line, edit.end_char)
    if p < q and p <= a and b <= q:
        return None
    start = _map(a, edit, after=True)
    end = _map(b, edit, after=a == b)
    return Span(start[0], start[1], end[0], end[1])


def _cuts(span: Span, edit: LineEdit) -> bool:
    """Whether ``edit`` deletes some of the anchored characters."""
    p = (edit.start_line, edit.start_char)
    q = (edit.end_line, edit.end_char)
    return p < q and p < (span.end_line, span.end_char) and q > (span.start_line, span.start_char)


def _has_substance(lines: Sequence[str], span: Span) -> bool:
    for n in range(span.start_line, span.end_line + 1):
        line = lines[n]
        lo = span.start_char if n == span.start_line else 0
        hi = span.end_char if n == span.end_line else len(line)
        if any(ch.isalnum() for ch in line[lo:hi]):
            return True
    return False


def _fits(lines: Sequence[str], span: Span) -> bool:
    return (
        0 <= span.start_line <= span.end_line < len(lines)
        and 0 <= span.start_char <= len(lines[span.start_line])
        and 0 <= span.end_char <= len(lines[span.end_line])
    )


def follow(
    placement: Placement, edits: Sequence[LineEdit], anchor: Anchor, lines: Sequence[str]
) -> Placement:
    """``placement`` after ``edits`` were applied, giving ``lines``.

    Tracked placements keep their state (an edit inside a thread does not
    make it moved); placements that lose their code, and outdated ones, are
    looked up again by text. A placement without a span (made by hand, not
    by ``locate``) is taken to cover whole lines of ``lines``.
    """
    start, end = placement.start_line, placement.end_line
    if start is None or end is None:
        return locate(anchor, lines)
    span: Span | None = placement.span
    if span is None:
        span = Span(start, 0, end, len(lines[end]) if end < len(lines) else 0)
    cut = False
    for edit in edits:
        cut = cut or _cuts(span, edit)
        span = track(span, edit)
        if span is None:
            return locate(anchor, lines)
    if not _fits(lines, span):
        return locate(anchor, lines)
    if cut and substance(anchor.text) and not _has_substance(lines, span):
        return locate(anchor, lines)
    if span == placement.span:
        return placement
    if (span.start_line, span.end_line) == (start, end):
        return replace(placement, span=span)
    state: State = "same" if span.start_line == anchor.start_line else "moved"
    return replace(
        placement,
        start_line=span.start_line,
        end_line=span.end_line,
        state=state,
        how="tracked",
        span=span,
    )


def local_range(lines: Sequence[str], start_line: int, end_line: int, encoding: Encoding) -> Range:
    """Whole-line range ``start_line..end_line`` in ``encoding`` units (end of the last line)."""
    last = lines[end_line] if 0 <= end_line < len(lines) else ""
    return Range(
        start=Position(line=start_line, character=0),
        end=Position(line=end_line, character=units(last, encoding)),
    )

