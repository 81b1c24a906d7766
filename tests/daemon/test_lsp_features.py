"""Plain-LSP renderings: threads as diagnostics and code lenses, peers as inlay hints."""

from __future__ import annotations

from lsprotocol import types

from daemon.lsp.lsp_features import (
    SOURCE,
    code_lens_refresh_supported,
    enabled,
    inlay_refresh_supported,
    peer_inlay_hints,
    summary,
    thread_code_lenses,
    thread_diagnostics,
)
from daemon.lsp.views import local_thread
from daemon.protocol import InitializationOptions, LocalThread, PeerView
from daemon.text.anchors import build, locate
from wire import Comment, Position, Selection, Thread, UserRef

LINES = ["def f():", "    s = '😀 ü'  # note", "    return s"]
URI = "file:///ws/f.py"
ALICE = UserRef(id="alice", name="Alice")


def _thread(text: str = "why an emoji?", replies: int = 0, **kw: object) -> Thread:
    anchor = build("f.py", LINES, 1, 1)
    comments = [Comment(id="t1", thread_id="t1", author=ALICE, text=text, created_at=0.0)]
    comments += [
        Comment(id=f"r{i}", thread_id="t1", author=ALICE, text="ok", created_at=1.0)
        for i in range(replies)
    ]
    return Thread(
        id="t1", session_id="s", anchor=anchor, author=ALICE, created_at=0.0,
        comments=comments, **kw,  # type: ignore[arg-type]
    )


def _placed(thread: Thread, lines: list[str], enc: str = "utf-16") -> LocalThread:
    return local_thread(thread, URI, locate(thread.anchor, lines), lines, enc)  # type: ignore[arg-type]


def test_thread_becomes_an_information_diagnostic_over_its_code() -> None:
    """Source 'ensemble', 'author: text (+N replies)', from the first non-blank char
    to the line end in the client's units."""
    [diag] = thread_diagnostics([_placed(_thread(replies=2), LINES)], LINES, "utf-8")
    assert diag.source == SOURCE
    assert diag.severity == types.DiagnosticSeverity.Information
    assert diag.message == "Alice: why an emoji? (+2 replies)"
    assert (diag.range.start.line, diag.range.start.character) == (1, 4)
    assert diag.range.end.character == len(LINES[1].encode())
    [diag16] = thread_diagnostics([_placed(_thread(), LINES)], LINES, "utf-16")
    assert diag16.range.end.character == len(LINES[1]) + 1
    assert diag16.message == "Alice: why an emoji?"


def test_outdated_thread_is_a_hint_at_the_top_saying_so() -> None:
    """A thread whose code is gone is shown as an outdated hint, not on a wrong line."""
    other = ["print('hello')"]
    [diag] = thread_diagnostics([_placed(_thread(), other)], other, "utf-16")
    assert diag.severity == types.DiagnosticSeverity.Hint
    assert diag.message.startswith("outdated (was line 2): Alice:")
    assert diag.range.start.line == 0


def test_resolved_threads_are_left_out_unless_asked() -> None:
    """Resolved threads produce no diagnostic or lens by default."""
    placed = _placed(_thread(resolved=True), LINES)
    assert thread_diagnostics([placed], LINES, "utf-16") == []
    assert thread_code_lenses([placed]) == []
    [diag] = thread_diagnostics([placed], LINES, "utf-16", include_resolved=True)
    assert diag.message.startswith("resolved: ")


def test_summary_flattens_and_truncates_and_skips_deleted_replies() -> None:
    """Multi-line text becomes one line, long text is cut, deleted replies are not counted."""
    thread = _thread("line one\n\nline two " + "x" * 300, replies=2)
    thread.comments[2].deleted = True
    text = summary(thread)
    assert text.startswith("Alice: line one line two x")
    assert text.endswith("… (+1 reply)")


def test_code_lens_carries_the_show_thread_command() -> None:
    """A lens above the thread with the summary as title and the thread id as argument."""
    [lens] = thread_code_lenses([_placed(_thread(), LINES)])
    assert lens.range.start.line == 1
    assert lens.command is not None
    assert lens.command.title == "💬 Alice: why an emoji?"
    assert lens.command.arguments == ["t1"]


def _peer(line: int, character: int, **kw: object) -> PeerView:
    caret = Position(line=line, character=character)
    fields: dict[str, object] = {"online": True, "uri": URI, **kw}
    return PeerView(
        user=UserRef(id="bob", name="Bob"), role="editor", status="active", color=1,
        selections=[Selection(anchor=caret, active=caret)],
        **fields,  # type: ignore[arg-type]
    )


def test_peer_caret_is_an_inlay_hint_clamped_into_the_document() -> None:
    """'◀ Bob' at the caret; past-the-end carets clamp; approximate ones say so."""
    [hint] = peer_inlay_hints([_peer(1, 6)], URI, LINES, "utf-16")
    assert hint.label == "◀ Bob"
    assert (hint.position.line, hint.position.character) == (1, 6)
    [far] = peer_inlay_hints([_peer(40, 3, approximate=True)], URI, LINES, "utf-8")
    assert (far.position.line, far.position.character) == (2, len(LINES[2]))
    assert far.label == "◀ Bob ≈"
    assert peer_inlay_hints([_peer(1, 2, online=False)], URI, LINES, "utf-16") == []
    assert peer_inlay_hints([_peer(1, 2, uri="file:///other")], URI, LINES, "utf-16") == []
    top = types.Position(line=0, character=0)
    window = types.Range(start=top, end=top)
    assert peer_inlay_hints([_peer(1, 2)], URI, LINES, "utf-16", within=window) == []


def test_refresh_only_when_the_client_supports_it_and_native_ui_turns_it_off() -> None:
    """Capability checks for refresh requests and the native_ui switch."""
    caps = types.ClientCapabilities(
        workspace=types.WorkspaceClientCapabilities(
            inlay_hint=types.InlayHintWorkspaceClientCapabilities(refresh_support=True)
        )
    )
    assert inlay_refresh_supported(caps)
    assert not code_lens_refresh_supported(caps)
    assert not inlay_refresh_supported(types.ClientCapabilities())
    assert not inlay_refresh_supported(None)
    assert enabled(None) and enabled(InitializationOptions())
    assert not enabled(InitializationOptions(native_ui=True))


def test_a_display_name_that_differs_from_the_username_shows_both() -> None:
    """'Alice (@mallory)' where the name is not the username; the name alone otherwise, in
    diagnostics, code lenses, inlay hints and peer diagnostics."""
    from daemon.lsp.lsp_features import display_name, peer_diagnostics, summary

    mallory = UserRef(id="mallory", name="Alice")
    assert display_name("Alice", "alice") == "Alice"
    assert display_name("Alice", "mallory") == "Alice (@mallory)"
    thread = _thread()
    thread.comments[0].author = mallory
    assert summary(thread).startswith("Alice (@mallory): ")
    caret = Position(line=1, character=2)
    peer = PeerView(user=mallory, role="editor", online=True, status="active", color=0,
                    uri=URI, selections=[Selection(anchor=caret, active=caret)])
    [hint] = peer_inlay_hints([peer], URI, LINES, "utf-16")
    assert hint.label == "◀ Alice (@mallory)"
    [diag] = peer_diagnostics([peer], URI, LINES, "utf-16")
    assert diag.message == "Alice (@mallory) is here"
    assert diag.severity == types.DiagnosticSeverity.Hint and diag.source == SOURCE
    assert (diag.range.start.line, diag.range.start.character) == (1, 2)
