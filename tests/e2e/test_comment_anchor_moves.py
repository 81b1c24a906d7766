"""The user who edits sees a comment thread move with its code in their own window.

In a language with indentation rules (JavaScript here; Python with the Python extension),
Enter at column 1 of an indented line is not a plain insertion: VS Code replaces the
line's leading whitespace with a line break and the indentation. The daemon must read
that as code moving down, not as a thread growing over the new lines.
Real relay, two code-servers (alice hosts, bob joins), headless Chromium.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.e2e import ensemble as ui
from tests.e2e.harness import CodeServerFactory, SharedRepo, WindowOpener, git
from tests.e2e.vscode import Comments

pytestmark = [pytest.mark.vscode, pytest.mark.timeout(300)]

SHOP_JS = """\
function price(items) {
  let total = 0;
  for (const entry of items) {
    total += entry.price * entry.count;
  }
  return total;
}

function mass(items) {
  let total = 0;
  for (const entry of items) {
    total += entry.mass * entry.count;
  }
  return total;
}
"""
LINE = 4  # "    total += entry.price * entry.count;", one-based
CODE = "    total += entry.price * entry.count;"


def test_three_enters_at_column_one_of_the_thread_line_move_it_in_the_editors_window(
    relay: Any,
    code_server: CodeServerFactory,
    browser: WindowOpener,
    workspace: SharedRepo,
    vsix: Path,
    tmp_path: Path,
) -> None:
    """Alice's thread on line 4; caret at column 1 of line 4, Enter three times, save: in
    her own window the thread (widget and gutter glyph) is on line 7 alone."""
    (workspace.origin / "src" / "shop.js").write_text(SHOP_JS)
    git(workspace.origin, "add", ".")
    git(workspace.origin, "commit", "-q", "-m", "shop")
    alice, bob = ui.start_pair(code_server, browser, workspace, relay, vsix)
    alice.open_file("src/shop.js")
    bob.open_file("src/shop.js")
    ac, bc = Comments(alice), Comments(bob)

    ac.add_via_gutter(LINE, "Anchored to the price sum.")
    ac.wait_thread(lambda t: (t.start, t.end) == (LINE, LINE), "alice's thread on line 4")
    alice.wait_for(lambda: ac.glyph_lines() == [LINE], f"alice's gutter glyph on line {LINE}")
    bob.wait_for(lambda: bc.glyph_lines() == [LINE], f"bob's gutter glyph on line {LINE}")

    alice.go_to_line(LINE, 1)
    for _ in range(3):
        alice.page.keyboard.press("Enter")
    alice.page.keyboard.press("Control+S")
    moved = LINE + 3
    alice.wait_for(
        lambda: dict(alice.visible_lines("/src/shop.js")).get(moved) == CODE,
        f"the code pushed down to line {moved}",
    )
    ac.wait_thread(lambda t: (t.start, t.end) == (moved, moved), f"the thread on line {moved}")
    alice.wait_for(lambda: ac.glyph_lines() == [moved], f"the gutter glyph on line {moved} alone")
    ui.screenshot(alice, "comment-moved-alice.png", tmp_path)
    # bob's copy was not edited: his thread stays where it was
    assert bc.glyph_lines() == [LINE]
