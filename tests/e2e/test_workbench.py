"""The harness itself: the packaged extension installs into a real VS Code on a workspace."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.e2e.harness import EXTENSION_ID, CodeServerFactory, SharedRepo, WindowOpener

pytestmark = [pytest.mark.vscode, pytest.mark.timeout(300)]


def test_vsix_installs_and_workbench_edits_the_workspace(
    code_server: CodeServerFactory, browser: WindowOpener, workspace: SharedRepo, vsix: Path
) -> None:
    """The .vsix installs, is listed, and the workbench opens files and moves the cursor."""
    server = code_server("alice", vsix=vsix)
    assert any(e.lower().startswith(EXTENSION_ID + "@") for e in server.installed_extensions())

    wb = browser(server, workspace.copy_for("alice"))
    wb.open_file("src/app.py")
    wb.go_to_line(10)
    assert wb.cursor_position() == (10, 1)
    lines = dict(wb.visible_lines("/src/app.py"))
    assert lines[10] == "def step_04(value):"
