"""Comment affordances in real VS Code windows: a viewer is told why they cannot comment,
and Reopen stays in sight after Resolve."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from tests.e2e import ensemble as ui
from tests.e2e.harness import CodeServerFactory, SharedRepo, WindowOpener
from tests.e2e.vscode_comments import Comments

pytestmark = [pytest.mark.vscode, pytest.mark.timeout(300)]

VIEWER = "Viewers can read and react but not comment on code. Ask the host for the editor role."

# Everything a comment widget says: text, placeholders and accessible labels.
_WIDGET_WORDS_JS = """() => [...document.querySelectorAll('.review-widget, .review-widget *')]
  .flatMap(e => [e.getAttribute('aria-label'), e.getAttribute('placeholder'),
                 e.children.length ? null : e.textContent])
  .filter(Boolean).join(' | ')"""


def title_action(wb: Any, label: str) -> Any:
    return wb.page.locator(f'.zone-widget .review-widget .action-label[aria-label="{label}"]')


def test_viewer_is_told_why_and_reopen_stays_visible_after_resolve(
    relay: Any,
    code_server: CodeServerFactory,
    browser: WindowOpener,
    workspace: SharedRepo,
    vsix: Path,
) -> None:
    """Bob (viewer) gets the gutter "+" with the reason in the comment box, and the reason
    again when he submits; alice resolves a thread and Reopen is right there."""
    alice = browser(code_server("alice", relay_url=relay.url, vsix=vsix),
                    workspace.copy_for("alice"))
    bob = browser(code_server("bob", relay_url=relay.url, vsix=vsix), workspace.copy_for("bob"))
    ui.sign_up(alice, "alice", "Alice")
    ui.start_session(alice, "review")
    link = ui.copy_invite_link(alice, "Viewer")
    ui.sign_up(bob, "bob", "Bob")
    ui.join_session(bob, link)

    alice.open_file("src/app.py")
    ac = Comments(alice)
    ac.add_via_gutter(5, "Is this right?")
    ac.wait_thread(lambda t: t.count == 1 and t.start == 5, "alice's thread on line 5")

    # Resolve: the thread stays open and offers Reopen at once.
    resolve = title_action(alice, "Resolve Thread")
    alice.wait_for(lambda: resolve.first.is_visible(), "the Resolve action")
    resolve.first.click()
    reopen = title_action(alice, "Reopen Thread")
    alice.wait_for(lambda: reopen.count() and reopen.first.is_visible(),
                   "Reopen in sight after Resolve")
    reopen.first.click()
    alice.wait_for(lambda: resolve.count() and resolve.first.is_visible(), "reopened")

    # The viewer: the "+" is there and the comment box explains; submitting says it again.
    bob.open_file("src/app.py")
    bc = Comments(bob)
    row = bc._margin_row(9)
    box = bob.wait_for(row.bounding_box, "the gutter of line 9")
    bob.page.mouse.move(box["x"] + box["width"] - 8, box["y"] + box["height"] / 2)
    glyph = bob.page.locator(".editor-group-container.active .comment-range-glyph.line-hover")
    bob.wait_for(lambda: glyph.count() > 0, "the comment '+' in the viewer's gutter")
    glyph.first.click()
    words = bob.wait_for(
        lambda: next((w for w in [bob.page.evaluate(_WIDGET_WORDS_JS)] if VIEWER in w), None),
        f"the reason in the comment box ({bob.page.evaluate(_WIDGET_WORDS_JS)[:500]})")
    assert "Add an Ensemble comment" not in words
    bob.page.wait_for_selector(".review-widget .comment-form .monaco-editor.focused",
                               timeout=30_000)
    bob.page.keyboard.type("may I?")
    bc._click_form_button("Add Comment")
    bob.wait_notification(re.escape(VIEWER))
    assert not [t for t in ac.threads() if t.start == 9]
