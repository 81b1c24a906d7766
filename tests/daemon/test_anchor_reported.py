"""Anchoring cases reported from real editors: Enter at the start of a thread, a deletion
from the end of the line above to the end of the thread, and a deleted block with a
look-alike block in another function."""

from __future__ import annotations

from lsprotocol import types

from daemon.text.anchors import Placement, build, follow, locate
from daemon.text.documents import DocumentStore

URI = "file:///ws/shop.py"

SHOP = """\
import math


def price(items):
    total = 0
    for entry in items:
        total += entry.price * entry.count
    return total


def mass(items):
    total = 0
    for entry in items:
        total += entry.mass * entry.count
    return total


def report(items):
    print(price(items), mass(items))
""".splitlines()

# The thread is on the body of price() up to its loop: lines 4..6.
START, END = 4, 6


def _edit(sl: int, sc: int, el: int, ec: int, text: str) -> types.TextDocumentContentChangePartial:
    return types.TextDocumentContentChangePartial(
        range=types.Range(
            start=types.Position(line=sl, character=sc), end=types.Position(line=el, character=ec)
        ),
        text=text,
    )


def _typing(lines: list[str], changes: list[types.TextDocumentContentChangePartial]) -> tuple[
    Placement, list[str]
]:
    """The thread's placement after each change arrives as its own didChange, and the text."""
    return _typing_from(lines, START, END, changes)


def _typing_from(
    lines: list[str], start: int, end: int, changes: list[types.TextDocumentContentChangePartial]
) -> tuple[Placement, list[str]]:
    anchor = build("shop.py", lines, start, end)
    store = DocumentStore()
    store.open(URI, "\n".join(lines), 1)
    placement = locate(anchor, lines)
    for version, change in enumerate(changes, start=2):
        edits = store.change(URI, version, [change])
        now = store.lines(URI)
        assert now is not None
        placement = follow(placement, edits, anchor, now)
    final = store.lines(URI)
    assert final is not None
    return placement, final


def test_three_enters_at_column_zero_of_the_first_line_move_the_thread_down_three() -> None:
    """Caret at column 0 of the thread's first line, Enter three times: the thread moves to
    the line its code went to and keeps its size (it does not grow over the new lines)."""
    placement, lines = _typing(SHOP, [_edit(START + n, 0, START + n, 0, "\n") for n in range(3)])
    assert (placement.start_line, placement.end_line) == (START + 3, END + 3)
    assert lines[START + 3 : END + 4] == SHOP[START : END + 1]
    scratch = locate(build("shop.py", SHOP, START, END), lines)
    assert (scratch.start_line, scratch.end_line, scratch.state) == (
        placement.start_line, placement.end_line, placement.state)


def test_auto_indenting_enters_at_column_zero_move_the_thread_down_three() -> None:
    """The same keys in a language with indentation rules: VS Code sends each Enter as the
    line's leading whitespace replaced by a line break and the indentation. The thread
    moves down three lines; it used to stay and grow over them (lines 14-17, not 17)."""
    indent = len(SHOP[START]) - len(SHOP[START].lstrip())
    enters = [_edit(START + n, 0, START + n, indent, "\n" + " " * indent) for n in range(3)]
    placement, lines = _typing(SHOP, enters)
    assert (placement.start_line, placement.end_line) == (START + 3, END + 3)
    assert lines[START + 3 : END + 4] == SHOP[START : END + 1]


def test_deleting_from_the_end_of_the_line_above_to_the_end_of_the_thread_outdates_it() -> None:
    """The deletion removes every anchored character (the line above keeps its own text):
    the thread is outdated, not shrunk onto `def price(items):`, as locating from scratch says."""
    above = START - 1
    change = _edit(above, len(SHOP[above]), END, len(SHOP[END]), "")
    lone = [*SHOP[:10]]  # price() alone: no look-alike anywhere
    placement, lines = _typing(lone, [change])
    assert lines[above] == "def price(items):"
    assert placement.outdated, placement
    assert locate(build("shop.py", lone, START, END), lines).outdated


def test_deleted_block_is_not_placed_on_a_look_alike_block_in_another_function() -> None:
    """price()'s body is deleted; mass() has a block that differs in one word per line: the
    thread is outdated, incrementally and from scratch, never on `entry.mass`."""
    anchor = build("shop.py", SHOP, START, END)
    deleted = SHOP[:START] + SHOP[END + 1 :]
    assert locate(anchor, deleted).outdated
    placement, lines = _typing(SHOP, [_edit(START, 0, END + 1, 0, "")])
    assert lines == deleted
    assert placement.outdated, placement


def test_look_alike_block_is_not_chosen_over_outdated_when_the_block_was_edited_away() -> None:
    """The anchored block was rewritten beyond recognition; the look-alike elsewhere still
    scores high against the old text, but its context disagrees: outdated."""
    anchor = build("shop.py", SHOP, START, END)
    rewritten = [*SHOP]
    rewritten[START : END + 1] = ["    return sum(e.price * e.count for e in items)"]
    assert locate(anchor, rewritten).outdated


def test_deleted_line_among_generic_context_is_not_placed_on_its_twin() -> None:
    """The thread's line sits among lines that every look-alike function repeats (no
    context line is unique). Deleted, its context closes up where it was: that says
    it was deleted there, so the twin line in mass() does not take the thread."""
    def body(attr: str) -> list[str]:
        return ["    size = len(items)", "    limit = size * 2", "    total = base(limit)",
                f"    total += entry.{attr} * entry.count",
                "    check(total)", "    record(total)", "    return total"]

    lines = ["def price(items):", *body("price"), "", "def mass(items):", *body("mass")]
    anchor = build("shop.py", lines, 4, 4)
    assert locate(anchor, lines[:4] + lines[5:]).outdated
    placement, now = _typing_from(lines, 4, 4, [_edit(4, 0, 5, 0, "")])
    assert now == lines[:4] + lines[5:]
    assert placement.outdated, placement
