"""Comment anchors: pin a thread to lines, find them again in a changed file.

An :class:`~relay.protocol.Anchor` records the path, the anchored lines
(``start_line..end_line`` inclusive, their text) and up to three lines of
context above and below. The daemon uses it three ways (all pure functions):

``build(path, lines, start_line, end_line)``
    The anchor for a new thread, from the local document's lines.

``locate(anchor, lines)`` -> :class:`Placement`
    Where the thread belongs in a local text, which may differ from the
    author's (edits, another branch). In order:

    1. the recorded lines hold exactly the anchored text: same place;
    2. the anchored text elsewhere, exactly;
    3. the anchored text with whitespace normalized (reformatted code);
    4. fuzzy: windows of similar size that still share at least one exact
       (whitespace-normalized) line with the anchored text or its context,
       scored by ``difflib`` ratio, accepted only above a threshold and, for
       weak or short matches, only when the surrounding context agrees.

    Among several candidates the one whose context matches best wins, the one
    nearest the recorded line breaks ties. A short anchored text (a brace, a
    blank line) found away from its recorded line needs matching context.
    Nothing convincing: the placement is outdated (no range), never a guess.

``follow(placement, edits, anchor, lines)``
    Keeps a placement in step with local incremental edits (the
    :class:`~daemon.documents.LineEdit` list that ``DocumentStore.change``
    returns): edits above shift it, edits inside grow or shrink it, and an
    edit that replaces the whole anchored span (or the whole document) makes
    it look the thread up again by text. Threads thus follow typing before
    the file is saved.

``local_thread(thread, uri, placement, lines, encoding)`` builds the
``daemon.protocol.LocalThread`` sent to the editor.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from difflib import SequenceMatcher
from typing import Literal

from daemon.documents import LineEdit
from daemon.positions import Encoding, units
from daemon.protocol import LocalThread
from relay.protocol import Anchor, Position, Range, Thread

CONTEXT_LINES = 3
FUZZY_THRESHOLD = 0.6  # below this difflib ratio a window is never a candidate
STRONG_RATIO = 0.8  # a match this close needs only some context agreement
TRIVIAL_CHARS = 20  # anchored text with fewer alphanumerics is "short"

State = Literal["same", "moved", "outdated"]
How = Literal["exact", "normalized", "fuzzy", "tracked", "none"]


class AnchorError(ValueError):
    """an anchor that cannot be built from the given lines."""


@dataclass(frozen=True, slots=True)
class Placement:
    """Where a thread sits in a local text; lines are None when outdated."""

    start_line: int | None
    end_line: int | None
    state: State
    how: How = "none"

    @property
    def outdated(self) -> bool:
        return self.start_line is None

    @property
    def moved(self) -> bool:
        return self.state == "moved"


OUTDATED = Placement(None, None, "outdated", "none")


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


def _norm(line: str) -> str:
    return " ".join(line.split())


def _substance(text: Sequence[str]) -> int:
    return sum(ch.isalnum() for line in text for ch in line)


def _line_similarity(a: str, b: str) -> float:
    na, nb = _norm(a), _norm(b)
    if na == nb:
        return 1.0
    if not na or not nb:
        return 0.0
    ratio = SequenceMatcher(None, na, nb, autojunk=False).ratio()
    return ratio if ratio >= 0.6 else 0.0


def _context_score(anchor: Anchor, lines: Sequence[str], start: int, size: int) -> float | None:
    """Agreement of the anchor's context with the lines around a candidate, 0..1;
    None when the anchor carries no context."""
    pairs: list[tuple[str, str | None]] = []
    for k, text in enumerate(reversed(anchor.before), start=1):
        i = start - k
        pairs.append((text, lines[i] if i >= 0 else None))
    for k, text in enumerate(anchor.after):
        i = start + size + k
        pairs.append((text, lines[i] if i < len(lines) else None))
    if not pairs:
        return None
    total = sum(_line_similarity(a, b) if b is not None else 0.0 for a, b in pairs)
    return total / len(pairs)


def _pick(
    anchor: Anchor, lines: Sequence[str], starts: Sequence[int], size: int, short: bool
) -> int | None:
    """Best of several equally matching starts: context first, then nearness."""
    best: tuple[float, int, int] | None = None
    for start in starts:
        ctx = _context_score(anchor, lines, start, size)
        if start != anchor.start_line and short and ctx is not None and ctx < 0.5:
            continue
        key = (-(ctx if ctx is not None else 0.5), abs(start - anchor.start_line), start)
        if best is None or key < best:
            best = key
    return None if best is None else best[2]


@dataclass(frozen=True, slots=True)
class _Index:
    """Lookups over one text: where each line occurs, raw and whitespace-normalized."""

    key: tuple[str, ...]
    norm_lines: list[str]
    exact_at: dict[str, list[int]]
    norm_at: dict[str, list[int]]

    def hits(self, norm_line: str) -> list[int]:
        """Where a normalized line with some substance occurs (blank-ish lines: nowhere)."""
        if sum(ch.isalnum() for ch in norm_line) < 3:
            return []
        return self.norm_at.get(norm_line, [])


_last_index: _Index | None = None


def _index(lines: Sequence[str]) -> _Index:
    """The index of ``lines``; the last one is kept, so placing every thread of a
    file against the same text (after each keystroke, say) builds it once."""
    global _last_index
    key = tuple(lines)
    if _last_index is not None and _last_index.key == key:
        return _last_index
    norm_lines = [_norm(line) for line in key]
    exact_at: dict[str, list[int]] = {}
    norm_at: dict[str, list[int]] = {}
    for i, (raw, norm) in enumerate(zip(key, norm_lines, strict=True)):
        exact_at.setdefault(raw, []).append(i)
        norm_at.setdefault(norm, []).append(i)
    _last_index = _Index(key, norm_lines, exact_at, norm_at)
    return _last_index


def _placed(anchor: Anchor, start: int, size: int, how: How) -> Placement:
    state: State = "same" if start == anchor.start_line else "moved"
    return Placement(start, start + size - 1, state, how)


def locate(anchor: Anchor, lines: Sequence[str] | None) -> Placement:
    """Find ``anchor`` in ``lines`` (None: the file does not exist locally)."""
    if lines is None or not anchor.text:
        return OUTDATED
    text = [line.rstrip("\r\n") for line in anchor.text]
    size = len(text)
    short = _substance(text) < TRIVIAL_CHARS
    rec = anchor.start_line
    if rec >= 0 and rec + size <= len(lines) and list(lines[rec : rec + size]) == text:
        return Placement(rec, rec + size - 1, "same", "exact")

    index = _index(lines)
    norm_lines = index.norm_lines
    starts = [i for i in index.exact_at.get(text[0], ()) if list(lines[i : i + size]) == text]
    if starts:
        chosen = _pick(anchor, lines, starts, size, short)
        if chosen is not None:
            return _placed(anchor, chosen, size, "exact")

    normed = [_norm(line) for line in text]
    starts = [i for i in index.norm_at.get(normed[0], ()) if norm_lines[i : i + size] == normed]
    if starts:
        chosen = _pick(anchor, lines, starts, size, short)
        if chosen is not None:
            return _placed(anchor, chosen, size, "normalized")

    return _fuzzy(anchor, lines, index, normed, short)


def _fuzzy(
    anchor: Anchor,
    lines: Sequence[str],
    index: _Index,
    normed: Sequence[str],
    short: bool,
) -> Placement:
    target = "\n".join(normed)
    if not target.strip():
        return OUTDATED  # blank anchored text: only an exact match with context will do
    matcher = SequenceMatcher(None, autojunk=False)
    matcher.set_seq2(target)
    best: tuple[float, int, int, int] | None = None  # (-score, distance, start, window)
    for start, window in sorted(_candidates(anchor, index, normed)):
        matcher.set_seq1("\n".join(index.norm_lines[start : start + window]))
        if matcher.real_quick_ratio() < FUZZY_THRESHOLD:
            continue
        if matcher.quick_ratio() < FUZZY_THRESHOLD:
            continue
        ratio = matcher.ratio()
        if ratio < FUZZY_THRESHOLD:
            continue
        ctx = _context_score(anchor, lines, start, window)
        if not _convincing(ratio, ctx, short, _substance(normed)):
            continue
        score = 0.7 * ratio + 0.3 * (ctx if ctx is not None else 0.5)
        key = (-score, abs(start - anchor.start_line), start, window)
        if best is None or key < best:
            best = key
    if best is None:
        return OUTDATED
    _, _, start, window = best
    return _placed(anchor, start, window, "fuzzy")


def _candidates(anchor: Anchor, index: _Index, normed: Sequence[str]) -> set[tuple[int, int]]:
    """Windows worth a fuzzy comparison: those lined up (give or take a line) with
    a surviving anchored or context line that has some substance. A window with
    no surviving line at all is never a match: similar-looking code elsewhere
    (generated tables, repeated statements) must not attract a thread. This
    also keeps fuzzy search linear in the file size."""
    size = len(normed)
    windows = sorted({max(1, size - 1), size, size + 1})
    starts: set[int] = set()
    for k, line in enumerate(normed):
        for i in index.hits(line):
            starts.update((i - k - 1, i - k, i - k + 1))
    for j, line in enumerate(reversed([_norm(b) for b in anchor.before]), start=1):
        for i in index.hits(line):
            starts.update((i + j - 1, i + j, i + j + 1))
    for j, line in enumerate(_norm(a) for a in anchor.after):
        for i in index.hits(line):
            for window in windows:
                starts.add(i - j - window)
    return {
        (start, window)
        for start in starts
        for window in windows
        if start >= 0 and start + window <= len(index.norm_lines)
    }


def _convincing(ratio: float, ctx: float | None, short: bool, substance: int) -> bool:
    if short:
        return ctx is not None and ctx >= 0.67 and ratio >= STRONG_RATIO
    if ctx is None:
        return ratio >= 0.9 and substance >= 12
    if ratio >= STRONG_RATIO:
        return ctx >= 0.34 or (ratio >= 0.9 and substance >= 12)
    return ctx >= 0.67


def track(start: int, end: int, edit: LineEdit) -> tuple[int, int] | None:
    """Lines ``start..end`` after one edit; None when the edit replaced them all."""
    if edit.whole:
        return None
    sl, el, delta = edit.start_line, edit.end_line, edit.delta
    if el < start or (el == start and edit.ends_at_line_start):
        return start + delta, end + delta
    if sl > end or (sl == end and edit.starts_at_line_end):
        return start, end
    if (sl < start or (sl == start and edit.starts_at_line_start)) and el > end:
        return None
    new_start = min(start, sl)
    new_end = end + delta if el <= end else sl + edit.inserted_breaks
    return new_start, max(new_start, new_end)


def follow(
    placement: Placement, edits: Sequence[LineEdit], anchor: Anchor, lines: Sequence[str]
) -> Placement:
    """``placement`` after ``edits`` were applied, giving ``lines``.

    Tracked placements keep their state (an edit inside a thread does not
    make it moved); placements that lose their lines, and outdated ones, are
    looked up again by text.
    """
    if placement.start_line is None or placement.end_line is None:
        return locate(anchor, lines)
    span: tuple[int, int] | None = (placement.start_line, placement.end_line)
    for edit in edits:
        if span is None:
            break
        span = track(span[0], span[1], edit)
    if span is None or span[0] >= len(lines):
        return locate(anchor, lines)
    start, end = span[0], min(span[1], len(lines) - 1)
    if (start, end) == (placement.start_line, placement.end_line):
        return placement
    state: State = "same" if start == anchor.start_line else "moved"
    return replace(placement, start_line=start, end_line=end, state=state, how="tracked")


def local_range(lines: Sequence[str], start_line: int, end_line: int, encoding: Encoding) -> Range:
    """Whole-line range ``start_line..end_line`` in ``encoding`` units (end of the last line)."""
    last = lines[end_line] if 0 <= end_line < len(lines) else ""
    return Range(
        start=Position(line=start_line, character=0),
        end=Position(line=end_line, character=units(last, encoding)),
    )


def local_thread(
    thread: Thread,
    uri: str,
    placement: Placement,
    lines: Sequence[str] | None,
    encoding: Encoding,
) -> LocalThread:
    """The editor's view of ``thread`` placed at ``placement`` in ``lines``."""
    if placement.start_line is None or placement.end_line is None or lines is None:
        return LocalThread(thread=thread, uri=uri, range=None, outdated=True, moved=False)
    return LocalThread(
        thread=thread,
        uri=uri,
        range=local_range(lines, placement.start_line, placement.end_line, encoding),
        outdated=False,
        moved=placement.moved,
    )
