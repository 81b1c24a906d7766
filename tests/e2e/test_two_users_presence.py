"""Two users in two real VS Code windows: sign-up, session, invite, presence, cursors, follow.

Real relay, two code-server processes (alice, bob: own user-data-dir, own copy of the same
repository at another path), two headless Chromium windows. Everything is done and checked
through the workbench DOM, as a user would.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import pytest

from tests.e2e import ensemble as ui
from tests.e2e.harness import CodeServerFactory, SharedRepo, WindowOpener, git

pytestmark = [pytest.mark.vscode, pytest.mark.timeout(300)]



def test_two_users_see_presence_cursors_follow_and_status(
    relay: Any,
    code_server: CodeServerFactory,
    browser: WindowOpener,
    workspace: SharedRepo,
    vsix: Path,
    tmp_path: Path,
) -> None:
    """Bob joins Alice's session by link, sees her name tag on her line, follows her, sees idle."""
    alice, bob = ui.start_pair(code_server, browser, workspace, relay, vsix)

    # Both see each other in the participants view.
    ui.show_participants(alice)
    ui.show_participants(bob)
    ui.wait_participant(alice, "Bob")
    ui.wait_participant(bob, "Alice", lambda r: "host" in r.description)
    assert "2 participants" in ui.status_text(alice)

    # Alice's cursor on line 10 of src/app.py appears as her name tag on line 10 in Bob's editor.
    bob.open_file("src/app.py")
    alice.open_file("src/app.py")
    alice.go_to_line(10)
    tag = bob.wait_name_tag("Alice", line=10, path_suffix="/src/app.py")
    assert tag.line == 10
    assert not [t for t in bob.name_tags("/src/app.py") if t.line != 10 and "Alice" in t.text]
    ui.wait_participant(bob, "Alice", lambda r: "src/app.py:10" in r.description)
    ui.screenshot(bob, "presence-bob.png", tmp_path)

    # Bob follows Alice: his editor switches to the file she moves to, at her line.
    ui.follow(bob, "Alice")
    alice.open_file("src/util.py")
    alice.go_to_line(15)
    bob.wait_active_editor("/src/util.py")
    bob.wait_name_tag("Alice", line=15, path_suffix="/src/util.py")

    # Alice sets herself idle; Bob's participants view shows it.
    ui.set_status(alice, "Idle")
    ui.wait_participant(bob, "Alice", lambda r: "idle" in r.description, "Alice shown idle")
    ui.screenshot(alice, "presence-alice.png", tmp_path)


@pytest.mark.skipif(
    os.environ.get("ENSEMBLE_E2E_LATENCY", "") != "1",
    reason="latency measurement: set ENSEMBLE_E2E_LATENCY=1 (about 1 minute)",
)
def test_editor_to_editor_cursor_latency(
    relay: Any,
    code_server: CodeServerFactory,
    browser: WindowOpener,
    workspace: SharedRepo,
    vsix: Path,
) -> None:
    """Alice's cursor move -> her name tag on that line in Bob's DOM: p50/p95 over 50 moves."""
    alice, bob = ui.start_pair(code_server, browser, workspace, relay, vsix)
    bob.open_file("src/app.py")
    alice.open_file("src/app.py")
    alice.go_to_line(5)
    bob.wait_name_tag("Alice", line=5, path_suffix="/src/app.py")
    bob.page.evaluate(_ARM_WATCHER_JS)

    samples: list[float] = []
    line = 5
    for i in range(50):
        step = 1 if (i // 25) % 2 == 0 else -1
        line += step
        bob.page.evaluate("(n) => window.__ensembleWatch(n)", line)
        assert not bob.page.evaluate("(n) => window.__ensembleSeen[n]", line), "stale tag"
        t0 = time.time() * 1000
        alice.page.keyboard.press("ArrowDown" if step > 0 else "ArrowUp")
        seen = bob.wait_for(
            lambda n=line: bob.page.evaluate("(n) => window.__ensembleSeen[n]", n),
            f"Alice's tag on line {line}",
            timeout=10,
            every=0.005,
        )
        samples.append(float(seen) - t0)
    assert ui.latency_summary("editor-to-editor cursor latency", samples) < 2000


# Watches Bob's DOM for Alice's name tag on a given line and records when it first appears
# (Date.now(), the same wall clock the driver stamps Alice's key press with).
_ARM_WATCHER_JS = """() => {
  window.__ensembleSeen = {};
  let target = null;
  const check = () => {
    if (target === null || window.__ensembleSeen[target]) return;
    const ed = document.querySelector('.editor-instance .monaco-editor[data-uri$="/src/app.py"]');
    if (!ed) return;
    const byTop = new Map([...ed.querySelectorAll('.margin-view-overlays > div')]
      .map(d => [parseFloat(d.style.top), d.querySelector('.line-numbers')])
      .filter(([, n]) => n).map(([top, n]) => [top, parseInt(n.textContent, 10)]));
    for (const line of ed.querySelectorAll('.view-lines .view-line')) {
      if (byTop.get(parseFloat(line.style.top)) !== target) continue;
      for (const span of line.querySelectorAll('span[class*="ced-"]')) {
        const c = getComputedStyle(span, '::after').content;
        if (c && c.includes('Alice')) { window.__ensembleSeen[target] = Date.now(); return; }
      }
    }
  };
  new MutationObserver(check).observe(document.body,
    {subtree: true, childList: true, attributes: true, characterData: true});
  window.__ensembleWatch = (n) => { delete window.__ensembleSeen[n]; target = n; check(); };
}"""


def test_joining_from_another_repository_warns_the_joiner(
    relay: Any,
    code_server: CodeServerFactory,
    browser: WindowOpener,
    workspace: SharedRepo,
    vsix: Path,
) -> None:
    """Bob's workspace is another repository (another root commit): joining warns him."""
    other = workspace.root / "bob-elsewhere"
    (other / "src").mkdir(parents=True)
    (other / "src" / "app.py").write_text("print('a different project')\n")
    git(other, "init", "-q", "-b", "main")
    git(other, "add", ".")
    git(other, "commit", "-q", "-m", "unrelated history")

    alice, bob = ui.start_pair(code_server, browser, workspace, relay, vsix, bob_folder=other)

    warning = bob.wait_notification(r"differs from your workspace")
    assert "pairing" not in warning.message  # names the repository, not the session
    ui.show_participants(alice)
    ui.wait_participant(alice, "Bob")
    assert not [n for n in alice.notifications() if "differs from your workspace" in n.message]
