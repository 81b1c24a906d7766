"""Finding an anchored text again in a changed file (``locate``); see daemon.text.anchors.

``locate(anchor, lines)`` -> :class:`Placement`, in order:

1. the recorded lines hold exactly the anchored text: same place;
2. the anchored text elsewhere, exactly;
3. the anchored text with whitespace normalized (reformatted code);
4. fuzzy: windows of similar size that still share at least one exact
   (whitespace-normalized) line with the anchored text or its context, scored
   by ``difflib`` ratio. A window is a candidate only with *context evidence*:
   two thirds of the anchor's context lines with some substance sit at their
   place next to it, one of them a line that occurs once in the file (or all of
   them are there; for a short anchored text all of them must be), and no
   context line that occurs once in the file sits elsewhere. A window
   must not take in a line that looks more like a context line than like an
   anchored line, nor begin or end on a line without code where the anchored
   text has code there. Short or weak matches also need agreeing context, the
   best candidate must beat the best one elsewhere (and any exact copy) by a
   clear margin, and none is taken when the context closed up elsewhere (the
   code was deleted there).

Among several exact candidates the one whose context matches best wins, the
one nearest the recorded line breaks ties. A short anchored text (a brace, a
blank line) found away from its recorded line needs matching context. Nothing
convincing: the placement is outdated (no range), never a guess.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from difflib import SequenceMatcher
from typing import Literal

from wire import Anchor

CONTEXT_LINES = 3
FUZZY_THRESHOLD = 0.6  # below this difflib ratio a window is never a candidate
STRONG_RATIO = 0.8  # a match this close needs only some context agreement
TRIVIAL_CHARS = 20  # anchored text with fewer alphanumerics is "short"
UNIQUE_MARGIN = 0.05  # a fuzzy winner must beat the best match elsewhere by this much

State = Literal["same", "moved", "outdated"]
How = Literal["exact", "normalized", "fuzzy", "tracked", "none"]


@dataclass(frozen=True, slots=True)
class Span:
    """The anchored characters: from (start_line, start_char) up to, not including,
    (end_line, end_char); string indices into the local lines."""

    start_line: int
    start_char: int
    end_line: int
    end_char: int


@dataclass(frozen=True, slots=True)
class Placement:
    """Where a thread sits in a local text; lines are None when outdated.

    ``span`` (not compared) is the anchored characters that incremental tracking
    follows; None means whole lines ``start_line..end_line`` of the text the
    placement was made for.
    """

    start_line: int | None
    end_line: int | None
    state: State
    how: How = "none"
    span: Span | None = field(default=None, compare=False)

    @property
    def outdated(self) -> bool:
        return self.start_line is None

    @property
    def moved(self) -> bool:
        return self.state == "moved"


OUTDATED = Placement(None, None, "outdated", "none")


def _norm(line: str) -> str:
    return " ".join(line.split())


def substance(text: Sequence[str]) -> int:
    """Letters and digits in ``text`` (what makes a line more than layout)."""
    return sum(ch.isalnum() for line in text for ch in line)


def _line_similarity(a: str, b: str) -> float:
    na, nb = _norm(a), _norm(b)
    if na == nb:
        return 1.0
    if not na or not nb:
        return 0.0
    ratio = SequenceMatcher(None, na, nb, autojunk=False).ratio()
    return ratio if ratio >= 0.6 else 0.0


def _context_pairs(anchor: Anchor, start: int, size: int) -> list[tuple[str, int]]:
    """Each context line of the anchor with the index where it belongs around a window
    (possibly outside the text)."""
    pairs = [(text, start - k) for k, text in enumerate(reversed(anchor.before), start=1)]
    pairs += [(text, start + size + k) for k, text in enumerate(anchor.after)]
    return pairs


def _context_score(anchor: Anchor, lines: Sequence[str], start: int, size: int) -> float | None:
    """Agreement of the anchor's context with the lines around a candidate, 0..1;
    None when the anchor carries no context."""
    pairs = _context_pairs(anchor, start, size)
    if not pairs:
        return None
    total = sum(_line_similarity(a, lines[i]) if 0 <= i < len(lines) else 0.0 for a, i in pairs)
    return total / len(pairs)


def _pick(
    anchor: Anchor, index: _Index, starts: Sequence[int], size: int, short: bool
) -> int | None:
    """Best of several equally matching starts: context first, then nearness. A short
    text away from its recorded line needs agreeing context and context evidence."""
    lines = index.key
    best: tuple[float, int, int] | None = None
    for start in starts:
        ctx = _context_score(anchor, lines, start, size)
        if (
            start != anchor.start_line
            and short
            and ctx is not None
            and (ctx < 0.5 or not _evidence(anchor, index, start, size, short))
        ):
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
        if not _substantive(norm_line):
            return []
        return self.norm_at.get(norm_line, [])


def _substantive(norm_line: str) -> bool:
    return sum(ch.isalnum() for ch in norm_line) >= 3


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


def _placed(anchor: Anchor, lines: Sequence[str], start: int, size: int, how: How) -> Placement:
    state: State = "same" if start == anchor.start_line else "moved"
    end = start + size - 1
    return Placement(start, end, state, how, Span(start, 0, end, len(lines[end])))


def locate(anchor: Anchor, lines: Sequence[str] | None) -> Placement:
    """Find ``anchor`` in ``lines`` (None: the file does not exist locally)."""
    if lines is None or not anchor.text:
        return OUTDATED
    text = [line.rstrip("\r\n") for line in anchor.text]
    size = len(text)
    short = substance(text) < TRIVIAL_CHARS
    rec = anchor.start_line
    if rec >= 0 and rec + size <= len(lines) and list(lines[rec : rec + size]) == text:
        return _placed(anchor, lines, rec, size, "exact")

    index = _index(lines)
    norm_lines = index.norm_lines
    starts = [i for i in index.exact_at.get(text[0], ()) if list(lines[i : i + size]) == text]
    if starts:
        chosen = _pick(anchor, index, starts, size, short)
        if chosen is not None:
            return _placed(anchor, lines, chosen, size, "exact")

    normed = [_norm(line) for line in text]
    starts = [i for i in index.norm_at.get(normed[0], ()) if norm_lines[i : i + size] == normed]
    if starts:
        chosen = _pick(anchor, index, starts, size, short)
        if chosen is not None:
            return _placed(anchor, lines, chosen, size, "normalized")

    return _fuzzy(anchor, lines, index, normed, short, starts)


def _fuzzy(
    anchor: Anchor,
    lines: Sequence[str],
    index: _Index,
    normed: Sequence[str],
    short: bool,
    copies: Sequence[int],
) -> Placement:
    """The fuzzy step; ``copies``: where the anchored text occurs (whitespace-normalized)
    without convincing context. Those still compete: a window that only looks like the
    anchored text must fit the context clearly better than an exact copy does."""
    target = "\n".join(normed)
    if not target.strip():
        return OUTDATED  # blank anchored text: only an exact match with context will do
    matcher = SequenceMatcher(None, autojunk=False)
    matcher.set_seq2(target)
    weight = substance(normed)
    size = len(normed)
    scored: list[tuple[float, int, int]] = []  # (score, start, window)
    rivals = [(_score(1.0, _context_score(anchor, lines, c, size)), c, size) for c in copies]
    for start, window in sorted(_candidates(anchor, index, normed)):
        shrunk = window < size  # a line of the anchored text is gone: a stricter test
        if not _evidence(anchor, index, start, window, short or shrunk):
            continue
        matcher.set_seq1("\n".join(index.norm_lines[start : start + window]))
        if matcher.real_quick_ratio() < FUZZY_THRESHOLD:
            continue
        if matcher.quick_ratio() < FUZZY_THRESHOLD:
            continue
        ratio = matcher.ratio()
        if ratio < FUZZY_THRESHOLD:
            continue
        ctx = _context_score(anchor, lines, start, window)
        if not _convincing(ratio, ctx, short, weight):
            continue
        if _holds_context(anchor, normed, index.norm_lines[start : start + window], shrunk):
            continue
        scored.append((_score(ratio, ctx), start, window))
    if not scored:
        return OUTDATED
    best = min(scored, key=lambda c: (-c[0], abs(c[1] - anchor.start_line), c[1], c[2]))
    score, start, window = best
    if _closed_over(anchor, index, start, window):
        return OUTDATED  # the context closed up where the code was: it was deleted there
    elsewhere = [s for s, b, w in scored + rivals if b + w <= start or b >= start + window]
    if elsewhere and max(elsewhere) > score - UNIQUE_MARGIN:
        return OUTDATED  # two places look alike: no clear winner
    return _placed(anchor, lines, start, window, "fuzzy")


def _closed_over(anchor: Anchor, index: _Index, start: int, window: int) -> bool:
    """Whether the anchor's context lines before and after sit together somewhere away
    from the window, with at most one line between them: the anchored code was deleted
    there, and the window is other code that looks alike."""
    before = [_norm(t) for t in anchor.before]
    after = [_norm(t) for t in anchor.after]
    if not any(_substantive(t) for t in [*before, *after]):
        return False
    norm = index.norm_lines
    for end in range(len(before), len(norm) + 1):  # end: first line after `before`
        if norm[end - len(before) : end] != before or (not before and end != 0):
            continue
        for gap in (0, 1):
            top = end + gap  # first line of `after`
            if norm[top : top + len(after)] != after or (not after and top != len(norm)):
                continue
            if top + len(after) <= start or end - len(before) >= start + window:
                return True
    return False


def _score(ratio: float, ctx: float | None) -> float:
    return 0.7 * ratio + 0.3 * (ctx if ctx is not None else 0.5)


def _evidence(anchor: Anchor, index: _Index, start: int, window: int, short: bool) -> bool:
    """Whether the text around a window says the anchored code was there.

    Two thirds of the anchor's context lines with some substance sit at their place
    next to the window, one of them a line that occurs only once in the file (or all
    of them are there; for a short anchored text all of them must be), and no context
    line that occurs once in the file sits anywhere else (more than a line away from
    its place): the anchored code's own surroundings are then elsewhere, and this
    window is other code that looks alike. An anchor without such context lines (a
    whole small file, a block between blank lines) has nothing to contradict a match.
    """
    norm = index.norm_lines
    pairs = [(_norm(text), i) for text, i in _context_pairs(anchor, start, window)]
    substantive = [(text, i) for text, i in pairs if _substantive(text)]
    if not substantive:
        return True
    found = [text for text, i in substantive if 0 <= i < len(norm) and norm[i] == text]
    if 3 * len(found) < 2 * len(substantive) or (short and len(found) < len(substantive)):
        return False
    for text, i in substantive:
        at = index.norm_at.get(text, [])
        if len(at) == 1 and abs(at[0] - i) > 1:
            return False
    return len(found) == len(substantive) or any(len(index.norm_at[t]) == 1 for t in found)


def _holds_context(
    anchor: Anchor, normed: Sequence[str], window: Sequence[str], shrunk: bool
) -> bool:
    """Whether a window takes in a line that looks more like one of the anchor's context
    lines than like any anchored line (or, for a window shorter than the anchored
    text, as much): the window then covers the code around the thread, not the
    thread's own code."""
    context = [c for c in (_norm(t) for t in [*anchor.before, *anchor.after]) if _substantive(c)]
    for line in window:
        if not _substantive(line):
            continue
        near_ctx = max((_line_similarity(line, c) for c in context), default=0.0)
        near_text = max(_line_similarity(line, t) for t in normed)
        if near_ctx > 0 and (near_ctx > near_text or (shrunk and near_ctx == near_text)):
            return True
    return False


def _candidates(anchor: Anchor, index: _Index, normed: Sequence[str]) -> set[tuple[int, int]]:
    """Windows worth a fuzzy comparison: those lined up (give or take a line) with
    a surviving anchored or context line that has some substance. A window with
    no surviving line at all is never a match: similar-looking code elsewhere
    (generated tables, repeated statements) must not attract a thread. This
    also keeps fuzzy search linear in the file size. Windows that begin or end
    on a line without code where the anchored text begins or ends with code are left
    out (blank, or a brace with no letters): they would pull in a neighbouring
    line to make up the size."""
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
    norm = index.norm_lines
    first, last = _substantive(normed[0]), _substantive(normed[-1])
    return {
        (start, window)
        for start in starts
        for window in windows
        if start >= 0
        and start + window <= len(norm)
        # a window begins and ends on code where the anchored text does
        and (not first or _substantive(norm[start]))
        and (not last or _substantive(norm[start + window - 1]))
    }


def _convincing(ratio: float, ctx: float | None, short: bool, weight: int) -> bool:
    if short:
        return ctx is not None and ctx >= 0.67 and ratio >= STRONG_RATIO
    if ctx is None:
        return ratio >= 0.9 and weight >= 12
    if ratio >= STRONG_RATIO:
        return ctx >= 0.34 or (ratio >= 0.9 and weight >= 12)
    return ctx >= 0.67
