"""Open-document store, incremental sync, content hashes and workspace paths."""

from __future__ import annotations

from pathlib import Path

import pytest
from lsprotocol import types

from daemon.text.documents import (
    DocumentError,
    DocumentStore,
    Workspace,
    content_hash,
    line_matches,
    path_to_uri,
    split_lines,
)
from daemon.text.positions import PositionError


def _change(
    sl: int, sc: int, el: int, ec: int, text: str
) -> types.TextDocumentContentChangePartial:
    return types.TextDocumentContentChangePartial(
        range=types.Range(
            start=types.Position(line=sl, character=sc), end=types.Position(line=el, character=ec)
        ),
        text=text,
    )


URI = "file:///ws/src/app.py"


def test_incremental_changes_apply_in_order_and_bump_the_version() -> None:
    """Insertions, deletions and replacements across lines give the expected text."""
    store = DocumentStore()
    store.open(URI, "one\ntwo\nthree\n", 1)
    store.change(
        URI, 2, [_change(1, 0, 1, 3, "TWO"), _change(2, 5, 2, 5, "!"), _change(0, 3, 1, 0, " ")]
    )
    doc = store.get(URI)
    assert doc is not None
    assert doc.text == "one TWO\nthree!\n"
    assert doc.version == 2
    assert doc.lines == ["one TWO", "three!", ""]


def test_full_change_replaces_the_text() -> None:
    """A change without a range replaces the whole document and is reported as whole."""
    store = DocumentStore()
    store.open(URI, "a\nb", 1)
    edits = store.change(URI, 5, [types.TextDocumentContentChangeWholeDocument(text="x\r\ny")])
    assert store.lines(URI) == ["x", "y"]
    assert [e.whole for e in edits] == [True]


def test_utf8_client_ranges_are_converted_once() -> None:
    """With a UTF-8 client, byte columns after an emoji address the right characters."""
    store = DocumentStore(encoding="utf-8")
    store.open(URI, "a😀b😀c", 0)
    store.change(URI, 1, [_change(0, 5, 0, 6, "B")])  # 'b' is at byte 5
    assert store.lines(URI) == ["a😀B😀c"]
    utf16 = DocumentStore()
    utf16.open(URI, "a😀b😀c", 0)
    utf16.change(URI, 1, [_change(0, 3, 0, 4, "B")])  # 'b' is at UTF-16 unit 3
    assert utf16.lines(URI) == ["a😀B😀c"]


def test_bad_changes_raise_and_leave_the_document_untouched() -> None:
    """An out-of-range or reversed range, or an unknown document, is a clear error."""
    store = DocumentStore()
    store.open(URI, "abc\ndef", 1)
    with pytest.raises(PositionError):
        store.change(URI, 2, [_change(0, 0, 0, 1, "x"), _change(5, 0, 5, 1, "y")])
    with pytest.raises(PositionError, match="before its start"):
        store.change(URI, 2, [_change(1, 2, 0, 1, "")])
    with pytest.raises(DocumentError, match="not open"):
        store.change("file:///ws/other.py", 1, [])
    assert store.lines(URI) == ["abc", "def"]


def test_line_edits_report_line_shifts() -> None:
    """Each change reports its touched lines and how many lines below moved."""
    store = DocumentStore()
    store.open(URI, "a\nb\nc\nd", 1)
    [insert] = store.change(URI, 2, [_change(1, 0, 1, 0, "x\ny\n")])
    assert (insert.start_line, insert.end_line, insert.delta) == (1, 1, 2)
    assert insert.ends_at_line_start
    [join] = store.change(URI, 3, [_change(0, 1, 2, 0, "")])
    assert join.delta == -2
    assert store.lines(URI) == ["ay", "b", "c", "d"]


def test_content_hash_ignores_line_break_style_but_not_content() -> None:
    """CRLF and LF checkouts hash alike; any content change changes the hash."""
    assert content_hash("a\r\nb\r\n") == content_hash("a\nb\n")
    assert content_hash("a\nb\n") != content_hash("a\nb \n")
    store = DocumentStore()
    doc = store.open(URI, "a\nb", 1)
    before = doc.content_hash
    store.change(URI, 2, [_change(0, 1, 0, 1, "!")])
    assert doc.content_hash != before == content_hash(["a", "b"])


def test_line_matches_checks_a_peers_recorded_line() -> None:
    """A peer's line text matches ours only at that exact line."""
    lines = split_lines("x = 1\ny = 2")
    assert line_matches(lines, 1, "y = 2")
    assert line_matches(lines, 1, "y = 2\r\n")
    assert not line_matches(lines, 0, "y = 2")
    assert not line_matches(lines, 7, "y = 2")


def test_workspace_paths_against_multiple_roots(tmp_path: Path) -> None:
    """URIs map to relative POSIX paths under the innermost root; outside -> None."""
    (tmp_path / "a" / "lib").mkdir(parents=True)
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "only_b.py").write_text("x")
    roots = [path_to_uri(str(tmp_path / "a")), str(tmp_path / "b"), str(tmp_path / "a" / "lib")]
    ws = Workspace(roots)
    assert ws.path_for(path_to_uri(str(tmp_path / "a" / "src" / "m y.py"))) == "src/m y.py"
    assert ws.path_for(path_to_uri(str(tmp_path / "a" / "lib" / "z.py"))) == "z.py"
    assert ws.path_for(path_to_uri(str(tmp_path / "c.py"))) is None
    assert ws.path_for("untitled:Untitled-1") is None
    assert ws.uri_for("only_b.py") == path_to_uri(str(tmp_path / "b" / "only_b.py"))
    assert ws.uri_for("new.py") == path_to_uri(str(tmp_path / "a" / "new.py"))
    assert ws.uri_for("../etc/passwd") is None
    assert ws.uri_for("/etc/passwd") is None


def test_percent_encoded_uris_are_one_document(tmp_path: Path) -> None:
    """The same file named with different URI escaping is one document."""
    store = DocumentStore()
    store.open("file:///ws/a%20b.py", "x", 1)
    assert store.get("file:///ws/a b.py") is not None
    assert "file:///ws/./a%20b.py" in store


def test_unopened_files_are_read_from_disk(tmp_path: Path) -> None:
    """lines() falls back to the file on disk, and to None when it is missing."""
    f = tmp_path / "f.py"
    f.write_bytes("one\r\ntwo 😀\n".encode())
    store = DocumentStore()
    assert store.lines(path_to_uri(str(f))) == ["one", "two 😀", ""]
    assert store.lines(path_to_uri(str(tmp_path / "missing.py"))) is None
    assert store.lines(path_to_uri(str(tmp_path))) is None
    store.open(path_to_uri(str(f)), "open text", 3)
    assert store.lines(path_to_uri(str(f))) == ["open text"]
    store.close(path_to_uri(str(f)))
    assert store.lines(path_to_uri(str(f))) == ["one", "two 😀", ""]
