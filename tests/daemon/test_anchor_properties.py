"""Anchoring as a property: random files and random edit sequences, checked against an oracle.

Each example is a small Python-like file (functions, blank lines, some look-alike
functions that differ from another one by a word per line), a thread on some lines
of one function, and a few didChange batches of edits (insertions and deletions at
line starts and ends, inside the thread, around it, whole-block deletions, Enter at
column 0 of its first line, look-alike blocks pasted elsewhere). The edits go through
the real ``DocumentStore`` and ``follow``; the oracle replays them on the flat text
and follows the anchored characters by offset:

- text inserted exactly at the thread's start goes above it, exactly at its end below
  it, between its characters inside it; the thread covers the lines from its first
  to its last remaining character;
- its code is gone when an edit removes every anchored character, or a batch that cut
  into it leaves no letter or digit of it: then it is outdated, never on other code
  (only an exact copy of the anchored text may take it);
- locating from scratch agrees with tracking when the anchored text survived intact
  and occurs once; otherwise it is outdated, on the tracked code, or on an exact copy.

Profiles: ``ci`` (default: derandomized, 250 examples per test, reproducible) and
``long`` (random, 5,000 examples): ``ENSEMBLE_ANCHOR_PROFILE=long .venv/bin/pytest
tests/daemon/test_anchor_properties.py``.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from datetime import timedelta
from difflib import SequenceMatcher

from hypothesis import HealthCheck, given, note, settings
from hypothesis import strategies as st
from lsprotocol import types

from daemon.text.anchor_locate import CONTEXT_LINES, FUZZY_THRESHOLD, TRIVIAL_CHARS
from daemon.text.anchors import Placement, build, follow, locate
from daemon.text.documents import DocumentStore
from daemon.text.positions import units
from wire import Anchor

settings.register_profile(
    "ci",
    max_examples=250,
    derandomize=True,
    database=None,
    deadline=timedelta(seconds=2),
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
    print_blob=True,
)
settings.register_profile(
    "long",
    max_examples=5000,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
    print_blob=True,
)
PROFILE = settings.get_profile(os.environ.get("ENSEMBLE_ANCHOR_PROFILE", "ci"))

URI = "file:///ws/shop.py"
NAMES = ["price", "mass", "volume", "weight", "report", "load", "parse", "render", "score"]
ATTRS = ["price", "mass", "volume", "weight", "size", "cost"]
STATEMENTS = [  # two generic lines that recur everywhere, the rest mostly distinct
    "    total = 0",
    "    for entry in items:",
    "        total += entry.{a} * count_{n}",
    "    if entry.{a} > limit_{n}:",
    "        return None",
    "    result.append(entry.{a} + {n})",
    "    value_{n} = compute(entry.{a}, {n})",
    "    # note {n} \U0001f600 on {a}",
    "    return total_{n}",
    "",
]
# What edits insert: never a line of the generated code, so copies only come from pastes.
TEXTS = ["\n", "\n\n\n", "x", " ", "pass", "    log(step)\n", "\n    log(step)", "# a\n# b\n"]
_WORD = re.compile(r"\b(" + "|".join(ATTRS) + r")\b|\d+")


# ----- the file ------------------------------------------------------------------------


def _look_alike(line: str) -> str:
    """The line with its first attribute name or number changed (same shape, other code)."""
    m = _WORD.search(line)
    if m is None:
        return line
    word = m.group(0)
    other = str(int(word) + 7) if word.isdigit() else ATTRS[(ATTRS.index(word) + 1) % len(ATTRS)]
    return line[: m.start()] + other + line[m.end() :]


@st.composite
def _files(draw: st.DrawFn) -> tuple[list[str], int, int]:
    """(lines, start, end): a file of functions and a thread on lines of the first one."""
    names = draw(st.lists(st.sampled_from(NAMES), min_size=1, max_size=4, unique=True))
    bodies = []
    for _ in names:
        body = draw(
            st.lists(
                st.builds(
                    str.format,
                    st.sampled_from(STATEMENTS),
                    a=st.sampled_from(ATTRS),
                    n=st.integers(0, 99).map(str),
                ),
                min_size=2,
                max_size=7,
            )
        )
        bodies.append(body)
    lines = ["import math", ""]
    starts = []
    for name, body in zip(names, bodies, strict=True):
        lines += ["", f"def {name}(items):"]
        starts.append(len(lines))
        lines += body
    first, body = starts[0], bodies[0]
    usable = [i for i, text in enumerate(body) if text.strip()]
    if not usable:
        body[0] = "    total = 0"
        usable = [0]
    a = draw(st.sampled_from(usable))
    b = draw(st.sampled_from([i for i in usable if i >= a]))
    # look-alikes of the thread's function elsewhere: same shape, a word changed per line
    for k in range(draw(st.integers(0, 2))):
        lines += ["", f"def twin_{k}(items):", *(_look_alike(t) for t in body)]
    return lines, first + a, first + b


# ----- the oracle ------------------------------------------------------------------------


@dataclass
class Oracle:
    """The anchored characters [a, b) of ``text``, followed by offset."""

    text: str
    a: int
    b: int
    substantial: bool
    gone: bool = False
    cut: bool = field(default=False)
    home: int = 0  # once gone: where its code was, followed like a point

    @staticmethod
    def of(lines: list[str], start: int, end: int) -> Oracle:
        text = "\n".join(lines)
        a = sum(len(line) + 1 for line in lines[:start])
        b = sum(len(line) + 1 for line in lines[:end]) + len(lines[end])
        return Oracle(text, a, b, any(ch.isalnum() for ch in text[a:b]))

    def apply(self, p: int, q: int, new: str) -> None:
        self.text = self.text[:p] + new + self.text[q:]

        def moved(x: int, after: bool) -> int:
            if x < p or (x == p and not after):
                return x
            if x <= q:
                return p + len(new) if after else p
            return x + len(new) - (q - p)

        if self.gone:
            self.home = moved(self.home, False)
        elif p < q and p <= self.a and self.b <= q:
            self.gone, self.home = True, p
        else:
            self.cut = self.cut or (p < q and p < self.b and q > self.a)
            self.a, self.b = moved(self.a, True), moved(self.b, self.a == self.b)

    def end_batch(self) -> None:
        """A batch that cut into the code and left no letter or digit of it removed it."""
        region = self.text[self.a : self.b]
        if not self.gone and self.cut and self.substantial and not any(map(str.isalnum, region)):
            self.gone, self.home = True, self.a
        self.cut = False

    def lines(self) -> tuple[int, int]:
        return self.text.count("\n", 0, self.a), self.text.count("\n", 0, self.b)

    def home_line(self) -> int:
        return self.text.count("\n", 0, self.home)


def _position(text: str, offset: int) -> types.Position:
    line = text.count("\n", 0, offset)
    begin = text.rfind("\n", 0, offset) + 1
    return types.Position(line=line, character=units(text[begin:offset], "utf-16"))


# ----- the edits ------------------------------------------------------------------------


def _points(text: str, a: int, b: int) -> list[int]:
    """Offsets worth editing at: the thread's ends, line starts and ends around them."""
    lines = text.split("\n")
    first, last = text.count("\n", 0, a), text.count("\n", 0, b)
    out = {a, b, 0, len(text)}
    offset = 0
    for n, line in enumerate(lines):
        if first - 2 <= n <= last + 2:
            out.update((offset, offset + len(line), offset + len(line) // 2))
        offset += len(line) + 1
    return sorted(out)


def _draw_edit(data: st.DataObject, o: Oracle, anchor: Anchor) -> tuple[int, int, str]:
    text, a, b = o.text, o.a, o.b
    kind = data.draw(
        st.sampled_from(
            ["insert", "insert", "delete", "replace", "enter", "block", "paste", "anywhere"]
        ),
        label="kind",
    )
    points = _points(text, a, b)
    if kind == "enter":  # Enter at column 0 of the thread's first line, maybe auto-indented
        p = text.rfind("\n", 0, a) + 1
        line = text[p:].split("\n", 1)[0]
        indent = len(line) - len(line.lstrip(" "))
        if data.draw(st.booleans(), label="auto-indent"):
            return p, p + indent, "\n" + " " * indent
        return p, p, "\n"
    if kind == "block":  # a whole-block deletion, in the shapes editors produce
        line_start = text.rfind("\n", 0, a) + 1
        after_end = text.find("\n", b)
        shapes = [
            (a, b),
            (line_start, b),
            (max(0, line_start - 1), b),  # from the end of the line above to the end
            (line_start, after_end + 1 if after_end >= 0 else len(text)),
        ]
        p, q = data.draw(st.sampled_from(shapes), label="block")
        return p, q, ""
    if kind == "paste":  # a look-alike of the anchored code, pasted at a line start elsewhere
        starts = [0, *(i + 1 for i, ch in enumerate(text) if ch == "\n")]
        first, last = text.count("\n", 0, a), text.count("\n", 0, b)
        away = [s for n, s in enumerate(starts) if n < first - CONTEXT_LINES or n > last + 4]
        if away:
            p = data.draw(st.sampled_from(away), label="paste at")
            return p, p, "\n".join(_look_alike(t) for t in anchor.text) + "\n"
        kind = "insert"
    if kind == "anywhere":
        p = data.draw(st.integers(0, len(text)), label="p")
        q = data.draw(st.integers(p, min(len(text), p + 40)), label="q")
        return p, q, data.draw(st.sampled_from(["", *TEXTS]), label="text")
    p = data.draw(st.sampled_from(points), label="p")
    if kind == "insert":
        return p, p, data.draw(st.sampled_from(TEXTS), label="text")
    q = data.draw(st.sampled_from([x for x in points if x > p] or [p]), label="q")
    new = "" if kind == "delete" else data.draw(st.sampled_from(TEXTS), label="text")
    return p, q, new


@dataclass
class Run:
    anchor: Anchor
    oracle: Oracle
    placement: Placement
    lines: list[str]
    relocated: bool = False  # its code gone, the thread was found again and followed there


def _run(data: st.DataObject) -> Run:
    lines, start, end = data.draw(_files(), label="file")
    anchor = build("shop.py", lines, start, end)
    oracle = Oracle.of(lines, start, end)
    store = DocumentStore(encoding="utf-16")
    store.open(URI, "\n".join(lines), 1)
    placement = locate(anchor, lines)
    assert (placement.start_line, placement.end_line) == (start, end)
    run = Run(anchor, oracle, placement, lines)
    for version in range(2, 2 + data.draw(st.integers(1, 5), label="batches")):
        changes = []
        for _ in range(data.draw(st.integers(1, 2), label="changes")):
            p, q, new = _draw_edit(data, oracle, anchor)
            before = oracle.text
            oracle.apply(p, q, new)
            changes.append(
                types.TextDocumentContentChangePartial(
                    range=types.Range(start=_position(before, p), end=_position(before, q)),
                    text=new,
                )
            )
        oracle.end_batch()
        edits = store.change(URI, version, changes)
        now = store.lines(URI)
        assert now is not None and "\n".join(now) == oracle.text
        run.placement = follow(run.placement, edits, anchor, now)
        run.lines = now
        note(f"batch {version}: {changes} -> {run.placement}; oracle gone={oracle.gone} "
             f"lines={oracle.home_line() if oracle.gone else oracle.lines()}")
        if oracle.gone and not run.relocated and not run.placement.outdated:
            assert _fair_place(run, run.placement), run.placement
            run.relocated = True
    return run


def _norm(lines: list[str]) -> list[str]:
    return [" ".join(line.split()) for line in lines]


def _exact_copy(run: Run, placement: Placement) -> bool:
    """Whether ``placement`` sits on an exact (whitespace-normalized) copy of the anchored
    text, which may take a thread: the same code, found elsewhere."""
    if placement.start_line is None or placement.end_line is None:
        return False
    placed = run.lines[placement.start_line : placement.end_line + 1]
    return _norm(placed) == _norm(run.anchor.text)


def _fair_place(run: Run, placement: Placement) -> bool:
    """Where a thread whose code is gone may be found again: on an exact copy of its
    text, or on similar code where its code was (within its context lines: typed or
    pasted there, which text alone cannot tell from an edit of the thread's code);
    never on other code elsewhere, nor on the unrelated lines around it."""
    if placement.start_line is None or placement.end_line is None:
        return True
    if _exact_copy(run, placement):
        return True
    home = run.oracle.home_line()
    near = placement.start_line <= home + CONTEXT_LINES and placement.end_line >= home - (
        CONTEXT_LINES
    )
    placed = "\n".join(_norm(run.lines[placement.start_line : placement.end_line + 1]))
    similar = SequenceMatcher(None, placed, "\n".join(_norm(run.anchor.text))).ratio()
    return near and similar >= FUZZY_THRESHOLD


def _occurrences(lines: list[str], text: list[str]) -> int:
    size, want = len(text), _norm(text)
    return sum(_norm(lines[i : i + size]) == want for i in range(len(lines) - size + 1))


# ----- the properties ------------------------------------------------------------------------


@settings(PROFILE)
@given(st.data())
def test_tracked_threads_move_with_their_code_or_go_outdated(data: st.DataObject) -> None:
    """follow() keeps the thread on the lines of its remaining characters (as the oracle
    maps them), and a thread whose code is gone is outdated or on an exact copy."""
    run = _run(data)
    placement, oracle = run.placement, run.oracle
    if oracle.gone:
        # _run checked where it was found again, if it was: from there on it follows that code
        assert placement.outdated or run.relocated, placement
        return
    assert (placement.start_line, placement.end_line) == oracle.lines()
    expected = "same" if placement.start_line == run.anchor.start_line else "moved"
    assert placement.state == expected


@settings(PROFILE)
@given(st.data())
def test_locating_from_scratch_agrees_with_tracking(data: st.DataObject) -> None:
    """locate() on the edited text: the tracked lines when the anchored text survived
    intact and occurs once; else outdated, on the tracked code, or on an exact copy."""
    run = _run(data)
    scratch = locate(run.anchor, run.lines)
    note(f"from scratch: {scratch}")
    oracle = run.oracle
    if oracle.gone:
        assert _fair_place(run, scratch), scratch
        if not run.relocated:
            assert run.placement == scratch, (run.placement, scratch)
        return
    first, last = oracle.lines()
    intact = run.lines[first : last + 1] == run.anchor.text
    substantial = sum(ch.isalnum() for ch in "".join(run.anchor.text)) >= TRIVIAL_CHARS
    if intact and substantial and _occurrences(run.lines, run.anchor.text) == 1:
        assert (scratch.start_line, scratch.end_line) == (first, last), scratch
        return
    if scratch.start_line is None or scratch.end_line is None or _exact_copy(run, scratch):
        return
    assert scratch.start_line <= last and scratch.end_line >= first, (scratch, (first, last))


@settings(PROFILE)
@given(_files(), st.integers(1, 4), st.booleans())
def test_enter_at_column_zero_of_the_first_line_moves_the_thread_down(
    file: tuple[list[str], int, int], presses: int, auto_indent: bool
) -> None:
    """Enter pressed at column 0 of the thread's first line, each a didChange of its own:
    a plain line break, or (auto-indent, as VS Code sends it for languages with
    indentation rules) the line's leading whitespace replaced by a line break and that
    indentation. The thread moves down by the number of presses and keeps its size."""
    lines, start, end = file
    anchor = build("shop.py", lines, start, end)
    store = DocumentStore()
    store.open(URI, "\n".join(lines), 1)
    placement = locate(anchor, lines)
    indent = len(lines[start]) - len(lines[start].lstrip()) if auto_indent else 0
    for n in range(presses):
        change = types.TextDocumentContentChangePartial(
            range=types.Range(
                start=types.Position(line=start + n, character=0),
                end=types.Position(line=start + n, character=indent),
            ),
            text="\n" + " " * indent,
        )
        edits = store.change(URI, 2 + n, [change])
        now = store.lines(URI)
        assert now is not None
        placement = follow(placement, edits, anchor, now)
    assert (placement.start_line, placement.end_line) == (start + presses, end + presses)


@settings(PROFILE)
@given(_files(), st.integers(0, 3), st.booleans())
def test_a_deleted_block_never_lands_on_a_look_alike(
    file: tuple[list[str], int, int], shape: int, incremental: bool
) -> None:
    """The anchored block is deleted (four deletion shapes) in a file with look-alike
    functions: tracked or located from scratch, the thread is outdated unless an exact
    copy of its text exists."""
    lines, start, end = file
    anchor = build("shop.py", lines, start, end)
    text = "\n".join(lines)
    oracle = Oracle.of(lines, start, end)
    a, b = oracle.a, oracle.b
    line_start = a
    after_end = text.find("\n", b)
    p, q = [
        (a, b),
        (line_start, b),
        (line_start - 1, b),
        (line_start, after_end + 1 if after_end >= 0 else len(text)),
    ][shape]
    store = DocumentStore()
    store.open(URI, text, 1)
    change = types.TextDocumentContentChangePartial(
        range=types.Range(start=_position(text, p), end=_position(text, q)), text=""
    )
    edits = store.change(URI, 2, [change])
    now = store.lines(URI)
    assert now is not None
    placement = follow(locate(anchor, lines), edits, anchor, now) if incremental else locate(
        anchor, now
    )
    run = Run(anchor, oracle, placement, now)
    assert placement.outdated or _exact_copy(run, placement), (placement, now)
