"""Comment anchors: the same thread placed in edited, shifted, diverged, duplicated and
deleted versions of its file, and kept in step with local typing."""

from __future__ import annotations

from lsprotocol import types

from daemon.lsp.views import local_thread
from daemon.text.anchors import AnchorError, Placement, Span, build, follow, locate, track
from daemon.text.documents import DocumentStore
from wire import Thread, UserRef

ORIGINAL = """\
import os
import sys


def load_config(path):
    with open(path) as fh:
        data = fh.read()
    return parse(data)


def parse(text):
    result = {}
    for line in text.splitlines():
        key, _, value = line.partition("=")
        result[key.strip()] = value.strip()
    return result


def main():
    cfg = load_config(sys.argv[1])
    print(cfg)
""".splitlines()

# The thread is on the loop of parse(): lines 12..14.
START, END = 12, 14


def _anchor():  # type: ignore[no-untyped-def]
    return build("src/config.py", ORIGINAL, START, END)


def test_anchor_records_lines_and_three_lines_of_context() -> None:
    """build() keeps the anchored text and up to three lines around it."""
    anchor = _anchor()
    assert anchor.text == ORIGINAL[12:15]
    assert anchor.before == ORIGINAL[9:12]
    assert anchor.after == ORIGINAL[15:18]
    top = build("f", ORIGINAL, 0, 0)
    assert top.before == [] and top.after == ORIGINAL[1:4]


def test_bad_anchor_lines_raise() -> None:
    """Negative, reversed or out-of-text lines are refused; a long end is clamped."""
    for start, end in [(-1, 0), (3, 2), (len(ORIGINAL), len(ORIGINAL))]:
        try:
            build("f", ORIGINAL, start, end)
        except AnchorError:
            continue
        raise AssertionError(f"{start}..{end} accepted")
    assert build("f", ORIGINAL, 20, 99).end_line == len(ORIGINAL) - 1


def test_unchanged_file_places_the_thread_at_its_line() -> None:
    """Same text at the recorded line: same place, not moved."""
    assert locate(_anchor(), ORIGINAL) == Placement(12, 14, "same", "exact")


def test_lines_inserted_above_move_the_thread_with_its_code() -> None:
    """Shifted: code added above; the thread is found further down and marked moved."""
    shifted = [*ORIGINAL[:3], "LOG = print", "", "", "def helper():", "    pass", *ORIGINAL[3:]]
    placement = locate(_anchor(), shifted)
    assert (placement.start_line, placement.end_line, placement.state) == (17, 19, "moved")


def test_reformatted_code_is_found_by_normalized_whitespace() -> None:
    """Whitespace-only changes (re-indentation) keep the thread on its lines."""
    reformatted = [line.replace("    ", "  ") for line in ORIGINAL]
    placement = locate(_anchor(), reformatted)
    assert (placement.start_line, placement.state, placement.how) == (12, "same", "normalized")


def test_edited_anchored_line_is_found_fuzzily_at_its_place() -> None:
    """Edited: a renamed variable in the anchored lines still matches by similarity."""
    edited = list(ORIGINAL)
    edited[13] = '        key, _, val = line.partition("=")'
    edited[14] = "        result[key.strip()] = val.strip()"
    placement = locate(_anchor(), edited)
    assert (placement.start_line, placement.end_line, placement.how) == (12, 14, "fuzzy")
    assert not placement.outdated


def test_diverged_branch_with_moved_and_edited_code() -> None:
    """Diverged: on another branch parse() moved above load_config and was touched."""
    moved = [
        "def parse(text):",
        "    result: dict[str, str] = {}",
        "    for line in text.splitlines():",
        '        key, _, value = line.partition(":")',
        "        result[key.strip()] = value.strip()",
        "    return result",
        "",
        "",
    ]
    diverged = [*ORIGINAL[:4], *moved, *ORIGINAL[4:10], *ORIGINAL[17:]]
    placement = locate(_anchor(), diverged)
    assert (placement.start_line, placement.end_line, placement.state) == (6, 8, "moved")


def test_duplicated_code_is_resolved_by_context() -> None:
    """Duplicated: the same loop appears twice; the copy with matching context wins."""
    copy = [
        "def parse_env(text):",
        "    result = {}",
        "    for line in text.splitlines():",
        '        key, _, value = line.partition("=")',
        "        result[key.strip()] = value.strip()",
        "    env = dict(result)",
        "",
    ]
    duplicated = ORIGINAL[:4] + copy + ORIGINAL[4:]
    placement = locate(_anchor(), duplicated)
    assert (placement.start_line, placement.state) == (12 + len(copy), "moved")


def test_duplicates_with_equal_context_take_the_nearest_to_the_recorded_line() -> None:
    """Two identical candidates with identical context: the nearer one wins."""
    block = ["x = 1", "y = compute(x)", "z = 2"]
    lines = block + ["# gap"] * 10 + block + ["# gap"] * 30 + block
    anchor = build("f", lines, 14, 14)
    lines2 = ["# new"] * 2 + lines
    assert locate(anchor, lines2).start_line == 16


def test_deleted_code_makes_the_thread_outdated_never_a_wrong_line() -> None:
    """Deleted: parse() is gone; the thread is outdated with no range."""
    deleted = ORIGINAL[:10] + ORIGINAL[17:]
    assert locate(_anchor(), deleted).outdated
    assert locate(_anchor(), None).outdated
    assert locate(_anchor(), []).outdated


def test_short_anchor_without_matching_context_is_not_pinned_elsewhere() -> None:
    """A thread on a bare 'return result' line does not jump to another 'return result'."""
    anchor = build("f", ORIGINAL, 15, 15)
    other = ["def other():", "    x = 1", "    return result"]
    assert locate(anchor, other).outdated


def test_similar_but_unrelated_code_is_not_a_match() -> None:
    """A completely rewritten file gives outdated, not a fuzzy guess."""
    rewritten = [
        "import json",
        "",
        "def parse(text):",
        "    return json.loads(text)",
    ]
    assert locate(_anchor(), rewritten).outdated


def _doc(text_lines: list[str]) -> tuple[DocumentStore, str]:
    store = DocumentStore()
    uri = "file:///ws/src/config.py"
    store.open(uri, "\n".join(text_lines), 1)
    return store, uri


def _edit(sl: int, sc: int, el: int, ec: int, text: str) -> types.TextDocumentContentChangePartial:
    return types.TextDocumentContentChangePartial(
        range=types.Range(
            start=types.Position(line=sl, character=sc), end=types.Position(line=el, character=ec)
        ),
        text=text,
    )


def test_thread_follows_typing_above_and_inside() -> None:
    """Lines typed above shift the thread; typing inside keeps it; it never goes stale."""
    anchor = _anchor()
    store, uri = _doc(ORIGINAL)
    placement = locate(anchor, ORIGINAL)
    edits = store.change(uri, 2, [_edit(2, 0, 2, 0, "import re\nimport json\n")])
    lines = store.lines(uri)
    assert lines is not None
    placement = follow(placement, edits, anchor, lines)
    assert (placement.start_line, placement.end_line, placement.moved) == (14, 16, True)
    assert lines[14] == ORIGINAL[12]
    # typing a new line inside the thread grows it
    edits = store.change(uri, 3, [_edit(15, 0, 15, 0, "        # skip blanks\n")])
    lines = store.lines(uri)
    assert lines is not None
    placement = follow(placement, edits, anchor, lines)
    assert (placement.start_line, placement.end_line) == (14, 17)
    # typing below changes nothing
    edits = store.change(uri, 4, [_edit(22, 0, 22, 0, "x\n")])
    lines = store.lines(uri)
    assert lines is not None
    assert follow(placement, edits, anchor, lines) is placement


def test_deleting_the_threads_lines_while_typing_makes_it_outdated() -> None:
    """Selecting the anchored lines and deleting them sends the thread back to text
    search, which finds nothing: outdated."""
    anchor = _anchor()
    store, uri = _doc(ORIGINAL)
    placement = locate(anchor, ORIGINAL)
    edits = store.change(uri, 2, [_edit(12, 0, 15, 0, "")])
    lines = store.lines(uri)
    assert lines is not None
    assert follow(placement, edits, anchor, lines).outdated


def test_full_document_replacement_re_finds_by_text() -> None:
    """A full-sync change (no range) re-locates the thread by its text."""
    anchor = _anchor()
    store, uri = _doc(ORIGINAL)
    placement = locate(anchor, ORIGINAL)
    new = ["# header", *ORIGINAL]
    whole = types.TextDocumentContentChangeWholeDocument(text="\n".join(new))
    edits = store.change(uri, 2, [whole])
    lines = store.lines(uri)
    assert lines is not None
    assert follow(placement, edits, anchor, lines).start_line == 13


def test_track_rules_for_single_edits() -> None:
    """Edge cases of track(): joins above, edits at line ends, spanning edits."""
    from daemon.text.documents import LineEdit

    span = Span(5, 0, 7, 10)  # lines 5..7, the last one 10 characters long
    # joining the line above into the first anchored line moves it up
    join = LineEdit(4, 5, 0, starts_at_line_end=True, start_char=8, end_char=0)
    assert track(span, join) == Span(4, 8, 6, 10)
    # newline typed at the end of the last anchored line: unchanged
    enter_at_end = LineEdit(7, 7, 1, starts_at_line_end=True, start_char=10, end_char=10)
    assert track(span, enter_at_end) == span
    # Enter at column 0 of the first anchored line: the thread moves down, same size
    assert track(span, LineEdit(5, 5, 1)) == Span(6, 0, 8, 10)
    # an edit from above into the middle starts the thread where the edit ends
    assert track(span, LineEdit(3, 6, 0, start_char=2, end_char=4, inserted_tail=1)) == Span(
        3, 3, 4, 10
    )
    # an edit replacing all anchored lines loses them
    assert track(span, LineEdit(5, 8, 0)) is None
    # so does one from the end of the line above to the end of the last anchored line
    above_to_end = LineEdit(4, 7, 0, starts_at_line_end=True, start_char=8, end_char=10)
    assert track(span, above_to_end) is None


def test_local_thread_range_is_in_the_client_encoding() -> None:
    """The editor's range ends at the last line's end, counted in the client's units."""
    lines = ["x", "s = '😀😀'"]
    anchor = build("f", lines, 1, 1)
    thread = Thread(
        id="t1", session_id="s", anchor=anchor, author=UserRef(id="a", name="A"),
        created_at=0.0, comments=[],
    )
    placement = locate(anchor, lines)
    utf8 = local_thread(thread, "file:///f", placement, lines, "utf-8")
    utf16 = local_thread(thread, "file:///f", placement, lines, "utf-16")
    assert utf8.range is not None and utf16.range is not None
    assert (utf8.range.end.character, utf16.range.end.character) == (14, 10)
    gone = local_thread(thread, "file:///f", locate(anchor, ["x"]), ["x"], "utf-8")
    assert gone.range is None and gone.outdated


def test_edited_code_moved_far_away_is_still_found() -> None:
    """Fuzzy search lines up windows with surviving lines anywhere in the file."""
    filler = [f"def f{i}(): return {i}" for i in range(300)]
    edited = list(ORIGINAL)
    edited[13] = '        key, _, val = line.partition("=")'
    far = [*filler, *edited]
    placement = locate(_anchor(), far)
    assert (placement.start_line, placement.state, placement.how) == (312, "moved", "fuzzy")


def test_locating_in_a_large_file_stays_fast() -> None:
    """A miss in a 5,000-line file (the slowest path) takes well under a second."""
    import time

    big = [f"    value_{i} = compute(alpha, beta, {i})" for i in range(5000)]
    anchor = build("f", big, 2500, 2502)
    changed = big[:2490] + big[2510:]
    started = time.perf_counter()
    assert locate(anchor, changed).outdated
    assert time.perf_counter() - started < 1.0
