"""Runs the in-editor integration tests (vscode-extension/src/test/suite.ts) inside code-server.

The packaged .vsix is unpacked and loaded as the extension under development; the compiled test
bundle is the `extensionTestsPath`. VS Code reports the result through `codeAutomationExit`
(smoke-test driver), which this test receives in the page.
"""

from __future__ import annotations

import re
import shutil
import tempfile
import threading
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.ci import need
from tests.e2e.harness import (
    EXTENSION_DIR,
    CodeServerFactory,
    SharedRepo,
    WindowOpener,
)

pytestmark = [pytest.mark.vscode, pytest.mark.timeout(300)]

TEST_BUNDLE = EXTENSION_DIR / "dist" / "test" / "suite.js"


@pytest.fixture
def unpacked_extension(vsix: Path) -> Iterator[Path]:
    """The .vsix's `extension/` folder, unpacked: exactly what users install."""
    root = Path(tempfile.mkdtemp(prefix="evx", dir="/tmp"))
    try:
        with zipfile.ZipFile(vsix) as z:
            z.extractall(root)
        yield root / "extension"
    finally:
        shutil.rmtree(root, ignore_errors=True)


def test_integration_suite_passes_inside_vscode(
    relay: Any,
    code_server: CodeServerFactory,
    browser: WindowOpener,
    workspace: SharedRepo,
    unpacked_extension: Path,
    tmp_path: Path,
) -> None:
    """Activation, command registration, daemon round trip and sign-up pass inside VS Code."""
    need([] if TEST_BUNDLE.exists() else [str(TEST_BUNDLE)], "run `make ext`")
    report = tmp_path / "report.log"
    server = code_server(
        "itest",
        relay_url=relay.url,
        smoke_test_driver=True,
        env={"ENSEMBLE_TEST_REPORT": str(report)},
    )

    exited = threading.Event()
    result: dict[str, Any] = {}
    console: list[str] = []

    def on_exit(code: int, *_logs: Any) -> None:
        result["code"] = code
        exited.set()

    def on_log(*args: Any) -> None:
        console.append(" ".join(str(a) for a in args))

    payload = [
        ["extensionDevelopmentPath", server.remote_uri(unpacked_extension)],
        ["extensionTestsPath", server.remote_uri(TEST_BUNDLE)],
    ]
    wb = browser(
        server,
        workspace.copy_for("itest"),
        payload=payload,
        expose={"codeAutomationExit": on_exit, "codeAutomationLog": on_log},
        wait_ready=False,
    )
    wb.page.on(
        "console", lambda m: console.append(m.text) if "ensemble" in m.text.lower() else None
    )
    wb.wait_for(lambda: exited.is_set(), "the integration tests to finish", timeout=180)

    lines = report.read_text() if report.exists() else "\n".join(console)
    print(lines)
    assert result["code"] == 0, (
        f"integration tests failed inside VS Code:\n{lines}\n" + (server.exthost_logs()[-6000:])
    )
    # A suite that ran nothing must not pass: the summary names how many passed, and each
    # of them has its own "ok" line.
    summary = re.search(r"(\d+) passed, (\d+) failed$", lines, re.M)
    assert summary is not None, lines
    passed, failed = int(summary.group(1)), int(summary.group(2))
    assert failed == 0 and passed > 0, lines
    assert len(re.findall(r"(^|\] )ok   ", lines, re.M)) == passed, lines
