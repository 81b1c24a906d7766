"""Fixtures that run the extension inside a real VS Code (code-server) driven by headless Chromium.

Each user gets a code-server process of their own (user-data-dir, extensions-dir, XDG dirs and a
free port under one short temp folder), a Chromium window of their own, and a copy of the same
git repository at a different path. Everything started here is torn down with its whole process
tree, so nothing leaks between tests.
"""

from __future__ import annotations

import contextlib
import re
import shutil
import tempfile
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests import health
from tests.e2e.harness import (
    APP_PY,
    CHROMIUM,
    CHROMIUM_ARGS,
    ROOT,
    CodeServer,
    CodeServerFactory,
    SharedRepo,
    Started,
    WindowOpener,
    base_settings,
    find_vsix,
    git,
    kill_tree,
    missing_tools,
    require_tools,
    start_code_server,
    wait_until,
)
from tests.e2e.vscode import Workbench

RESULTS = ROOT / "test-results"  # ignored by git


@pytest.fixture(scope="session")
def vscode_tools() -> None:
    """The node/code-server/chromium toolchain (`make tools`), or a skip with the reason."""
    require_tools(missing_tools(), "run `make tools`")


@pytest.fixture(scope="session")
def vsix(vscode_tools: None) -> Iterator[Path]:
    """The packaged extension (`make vsix`), copied once so a rebuild mid-run cannot change it."""
    found = find_vsix()
    require_tools([] if found else ["vscode-extension/ensemble-*.vsix"], "run `make vsix`")
    assert found is not None
    folder = Path(tempfile.mkdtemp(prefix="evs", dir="/tmp"))
    copy = folder / found.name

    def complete_copy() -> bool:
        shutil.copyfile(found, copy)
        try:
            with zipfile.ZipFile(copy) as z:
                return z.testzip() is None
        except zipfile.BadZipFile:  # being rewritten by a concurrent `make vsix`
            return False

    try:
        wait_until(complete_copy, 60, f"a complete {found.name}", every=1.0)
        yield copy
    finally:
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture
def code_server(vscode_tools: None, request: pytest.FixtureRequest) -> Iterator[CodeServerFactory]:
    """Factory: `code_server(name, relay_url=, vsix=, smoke_test_driver=, settings=, env=)`."""
    started = Started()

    def start(
        name: str,
        relay_url: str | None = None,
        vsix: Path | None = None,
        smoke_test_driver: bool = False,
        settings: dict[str, Any] | None = None,
        env: dict[str, str] | None = None,
    ) -> CodeServer:
        merged = base_settings(relay_url)
        merged.update(settings or {})
        return start_code_server(name, merged, vsix, smoke_test_driver, started, env)

    yield start
    failed = getattr(request.node, "rep_call", None)
    allow = health.allowance(request.node)
    failures: list[str] = []
    for server in started.servers:
        if failed is not None and failed.failed:
            print(f"\n===== code-server {server.name} log (tail) =====\n{server.log()[-4000:]}")
            print(
                f"\n===== {server.name} extension host logs =====\n{server.exthost_logs()[-8000:]}"
            )
        # The daemons' stderr reaches the Ensemble output channel: errors and tracebacks there
        # fail the test like a daemon's in tests/daemon, and so does a daemon that crashed.
        output = server.ensemble_output()
        failures += health.check(f"{server.name}'s daemons (Ensemble output)", output, allow)
        failures += [f"{server.name}: {line}" for line in output
                     if "daemon stopped unexpectedly" in line and not allow.allows(line)]
        kill_tree(server.proc)
    for d in started.dirs:
        shutil.rmtree(d, ignore_errors=True)
    health.fail_if(failures)


@pytest.hookimpl(hookwrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    outcome = yield
    rep = outcome.get_result()
    setattr(item, f"rep_{rep.when}", rep)
    if rep.when == "call" and rep.failed:
        # Before any fixture teardown, while the windows still show what went wrong.
        windows = getattr(item, "ensemble_windows", [])
        out = RESULTS / re.sub(r"[^\w.-]+", "_", item.name)
        for i, wb in enumerate(windows):
            out.mkdir(parents=True, exist_ok=True)
            with contextlib.suppress(Exception):
                wb.screenshot(str(out / f"{i}-{wb.name}.png"))
        if windows:
            rep.sections.append(("screenshots", str(out)))


@pytest.fixture(scope="package")
def playwright_instance(vscode_tools: None) -> Iterator[Any]:
    """Playwright for the e2e package only: its sync API keeps an event loop running in this
    thread, which would break the asyncio tests collected after tests/e2e."""
    from playwright.sync_api import sync_playwright

    pw = sync_playwright().start()
    try:
        yield pw
    finally:
        pw.stop()


@pytest.fixture
def browser(playwright_instance: Any, request: pytest.FixtureRequest) -> Iterator[WindowOpener]:
    """Factory: `browser(server, folder)` opens a fresh Chromium window on the workspace folder.

    Each call is its own persistent context (own profile dir), i.e. its own browser user.
    """
    contexts: list[Any] = []
    dirs: list[Path] = []
    windows: list[Workbench] = []

    def open_window(
        server: CodeServer,
        folder: Path,
        payload: list[list[str]] | None = None,
        expose: dict[str, Callable[..., Any]] | None = None,
        wait_ready: bool = True,
    ) -> Workbench:
        profile = Path(tempfile.mkdtemp(prefix="ecr", dir="/tmp"))
        dirs.append(profile)
        ctx = playwright_instance.chromium.launch_persistent_context(
            str(profile),
            executable_path=str(CHROMIUM),
            headless=True,
            args=CHROMIUM_ARGS,
            viewport={"width": 1280, "height": 800},
            permissions=["clipboard-read", "clipboard-write"],
        )
        contexts.append(ctx)
        page = ctx.pages[0] if ctx.pages else ctx.new_page()
        for fn_name, fn in (expose or {}).items():
            page.expose_function(fn_name, fn)
        # A loaded machine can take long for the first paint; readiness is checked below.
        page.goto(server.folder_url(folder, payload), wait_until="commit", timeout=90_000)
        wb = Workbench(page, server.name)
        windows.append(wb)
        if wait_ready:
            wb.wait_ready()
        return wb

    request.node.ensemble_windows = windows
    yield open_window
    for ctx in contexts:
        with contextlib.suppress(Exception):
            ctx.close()
    for d in dirs:
        shutil.rmtree(d, ignore_errors=True)


@pytest.fixture
def workspace() -> Iterator[SharedRepo]:
    """A small git repository: src/app.py (40 lines), src/util.py, README.md."""
    root = Path(tempfile.mkdtemp(prefix="ews", dir="/tmp"))
    origin = root / "origin"
    (origin / "src").mkdir(parents=True)
    (origin / "src" / "app.py").write_text(APP_PY)
    (origin / "src" / "util.py").write_text("".join(f"CONSTANT_{n} = {n}\n" for n in range(1, 21)))
    (origin / "README.md").write_text("# demo\n\nA small project used by the editor tests.\n")
    git(origin, "init", "-q", "-b", "main")
    git(origin, "add", ".")
    git(origin, "commit", "-q", "-m", "initial")
    assert APP_PY.count("\n") == 40
    try:
        yield SharedRepo(origin, root)
    finally:
        shutil.rmtree(root, ignore_errors=True)
