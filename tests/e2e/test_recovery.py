"""Recovery in two real VS Code windows: the relay goes away and comes back mid-session.

While the relay is down bob's participants view shows alice as last seen (disconnected)
and her name tag is not drawn; once it is back, bob sees alice's file and line and her
name tag again without alice moving, even with her chat panel as the active editor (her
daemon re-sends the last cursor, viewport and file it was told of).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.e2e import ensemble as ui
from tests.e2e.harness import CodeServerFactory, SharedRepo, WindowOpener
from tests.e2e.vscode_chat import Chat

pytestmark = [pytest.mark.vscode, pytest.mark.timeout(300)]


def test_presence_comes_back_whole_after_a_relay_restart(
    relay: Any,
    code_server: CodeServerFactory,
    browser: WindowOpener,
    workspace: SharedRepo,
    vsix: Path,
) -> None:
    """Relay killed and restarted mid-session: bob's row and alice's tag come back unmoved."""
    alice, bob = ui.start_pair(code_server, browser, workspace, relay, vsix)
    ui.show_participants(bob)
    bob.open_file("src/app.py")
    alice.open_file("src/app.py")
    alice.go_to_line(12)
    bob.wait_name_tag("Alice", line=12, path_suffix="/src/app.py")
    ui.wait_participant(bob, "Alice", lambda r: "src/app.py:12" in r.description)
    # alice turns to the chat panel: her active editor is now a webview, not src/app.py,
    # so her window has no text editor to report when the session comes back
    Chat(alice).open()
    ui.wait_participant(bob, "Alice", lambda r: "src/app.py:12" in r.description)

    relay.kill()
    bob.wait_for(lambda: "participant" not in ui.status_text(bob), "bob's status bar offline")
    row = ui.wait_participant(bob, "Alice", lambda r: "(disconnected)" in r.description,
                              "alice shown as last seen while disconnected")
    assert "last seen" in row.description and "src/app.py:12" in row.description
    bob.wait_for(lambda: not [t for t in bob.name_tags("/src/app.py") if "Alice" in t.text],
                 "alice's name tag hidden while disconnected")

    relay.start(relay.port)
    bob.wait_for(lambda: "2 participants" in ui.status_text(bob), "bob back online", timeout=60)
    # nobody moves: alice's location must come back by itself
    ui.wait_participant(bob, "Alice", lambda r: "src/app.py:12" in r.description
                        and "disconnected" not in r.description,
                        "alice's file and line after the restart", timeout=60)
    tag = bob.wait_name_tag("Alice", line=12, path_suffix="/src/app.py")
    assert tag.line == 12
