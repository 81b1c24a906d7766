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

def title_action(wb: Any, label: str) -> Any:
    return wb.page.locator(f'.zone-widget .review-widget .action-label[aria-label="{label}"]')


def test_viewer_is_told_why_and_reopen_stays_visible_after_resolve(
    relay: Any,
    code_server: CodeServerFactory,
    browser: WindowOpener,
    workspace: SharedRepo,
    vsix: Path,
) -> None:
    """Bob (viewer) gets the gutter "+" and, when he adds a comment, the reason he cannot;
    alice resolves a thread and Reopen is right there."""
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
    # and it stays there: no collapse drawn late (VS Code collapses a thread turning resolved)
    alice.hold(lambda: reopen.count() and reopen.first.is_visible(), "Reopen in sight", 2.0)
    reopen.first.click()
    alice.wait_for(lambda: resolve.count() and resolve.first.is_visible(), "reopened")

    # The viewer: the "+" is there, and adding a comment explains why it is not added.
    bob.open_file("src/app.py")
    bc = Comments(bob)
    glyph = bc.hover_plus(9)
    glyph.first.click()
    bob.page.wait_for_selector(".review-widget .comment-form .monaco-editor.focused",
                               timeout=30_000)
    bob.page.keyboard.type("may I?")
    bc._click_form_button("Add Comment")
    bob.wait_notification(re.escape(VIEWER))
    bob.wait_for(lambda: not [t for t in bc.threads() if t.start == 9], "the draft gone")
    assert not [t for t in ac.threads() if t.start == 9]
