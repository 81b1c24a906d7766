"""Drive a real daemon subprocess over stdio with pygls's LanguageClient."""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import psutil
from lsprotocol import types as lsp
from pygls.exceptions import JsonRpcException
from pygls.lsp.client import LanguageClient
from pygls.protocol import (
    JsonRPCNotification,
    JsonRPCRequestMessage,
    JsonRPCResponseMessage,
    default_converter,
)

from daemon.protocol import SERVER_NOTIFICATIONS
from tests import health

ROOT = Path(__file__).resolve().parents[2]


def _converter() -> Any:
    conv = default_converter()

    def keep(obj: dict[str, Any], cls: type[Any]) -> Any:
        return cls(**obj)

    for cls in (JsonRPCRequestMessage, JsonRPCNotification, JsonRPCResponseMessage):
        conv.register_structure_hook(cls, keep)
    return conv


class DaemonClient:
    """One daemon process and the notifications it sent, by method."""

    def __init__(self, name: str, workspace: Path, data_dir: Path) -> None:
        self.name = name
        self.workspace = workspace
        self.data_dir = data_dir
        self.client = LanguageClient(f"test-{name}", "0", converter_factory=_converter)
        self.notes: dict[str, list[Any]] = {m: [] for m in SERVER_NOTIFICATIONS}
        self.notes["textDocument/publishDiagnostics"] = []
        self.notes["window/showMessage"] = []
        self._changed = asyncio.Event()
        self.stderr = bytearray()
        self.init_seconds: float | None = None
        self.init_cpu: float | None = None
        self.killed = False  # by kill(): its exit code is the test's doing
        self.stop_failures: list[str] = []  # what went wrong in stop(), for health()
        for method in self.notes:
            self.client.feature(method)(self._recorder(method))

    def _recorder(self, method: str) -> Callable[[Any], None]:
        def record(params: Any) -> None:
            if not isinstance(params, dict):  # lsprotocol types (diagnostics)
                params = self.client.protocol._converter.unstructure(params)
            self.notes[method].append(params)
            self._changed.set()
        return record

    @property
    def root_uri(self) -> str:
        return self.workspace.as_uri()

    def uri(self, rel: str) -> str:
        return (self.workspace / rel).as_uri()

    async def start(self, relay_url: str, token: str | None = None, *,
                    encodings: list[str] | None = None, **options: Any) -> None:
        env = dict(os.environ)
        env.setdefault("ENSEMBLE_RECONNECT_MAX", "1.0")
        env["PYTHONPATH"] = str(ROOT)
        await self.client.start_io(sys.executable, "-m", "daemon", env=env, cwd=str(ROOT))
        proc = self.client._server
        assert proc is not None and proc.stderr is not None
        self.proc = proc
        self._drain = asyncio.ensure_future(self._read_stderr(proc.stderr))
        init = {"relay_url": relay_url, "data_dir": str(self.data_dir),
                "workspace_roots": [self.root_uri], "display_name": self.name.title(),
                "log_level": "debug", **options}
        if token is not None:
            init["token"] = token
        caps = lsp.ClientCapabilities(
            general=lsp.GeneralClientCapabilities(
                position_encodings=[lsp.PositionEncodingKind(e) for e in encodings]
            ) if encodings else None,
        )
        t0 = time.perf_counter()
        await self.client.initialize_async(lsp.InitializeParams(
            capabilities=caps, root_uri=self.root_uri, initialization_options=init,
            workspace_folders=[lsp.WorkspaceFolder(uri=self.root_uri, name="ws")],
        ))
        self.init_seconds = time.perf_counter() - t0
        cpu = psutil.Process(proc.pid).cpu_times()
        self.init_cpu = cpu.user + cpu.system
        self.client.initialized(lsp.InitializedParams())

    async def _read_stderr(self, stream: asyncio.StreamReader) -> None:
        while chunk := await stream.read(65536):
            self.stderr.extend(chunk)

    async def request(self, method: str, params: Any = None, timeout: float = 30.0) -> Any:
        return await asyncio.wait_for(
            self.client.protocol.send_request_async(method, params or {}), timeout)

    async def error_of(self, method: str, params: Any = None) -> JsonRpcException:
        try:
            await self.request(method, params)
        except JsonRpcException as exc:
            return exc
        raise AssertionError(f"{method} did not fail")

    def notify(self, method: str, params: Any = None) -> None:
        self.client.protocol.notify(method, params or {})

    async def wait_for(self, method: str, pred: Callable[[Any], bool] = lambda p: True,
                       timeout: float = 30.0, after: int = 0) -> Any:
        """The first (recorded or future) notification of ``method`` matching ``pred``;
        ``after``: skip the first ``after`` recorded ones (``len(notes[method])`` earlier)."""
        deadline = time.monotonic() + timeout
        seen = after
        while True:
            items = self.notes[method]
            for p in items[seen:]:
                if pred(p):
                    return p
            seen = len(items)
            left = deadline - time.monotonic()
            if left <= 0:
                tail = self.stderr[-3000:].decode(errors="replace")
                raise AssertionError(f"{self.name}: no matching {method} in {timeout}s; "
                                     f"got {str(items[-3:])[:1500]}\nstderr tail:\n{tail}")
            self._changed.clear()
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._changed.wait(), left)

    def last(self, method: str) -> Any:
        items = self.notes[method]
        return items[-1] if items else None

    async def open(self, rel: str, text: str | None = None) -> str:
        path = self.workspace / rel
        if text is None:
            text = path.read_text()
        uri = path.as_uri()
        self.client.text_document_did_open(lsp.DidOpenTextDocumentParams(
            text_document=lsp.TextDocumentItem(uri=uri, language_id="python", version=1,
                                               text=text)))
        return uri

    def type_char(self, uri: str, line: int, character: int, version: int,
                  text: str = "z") -> None:
        """One keystroke: an incremental didChange inserting ``text`` at (line, character)."""
        pos = lsp.Position(line=line, character=character)
        self.client.text_document_did_change(lsp.DidChangeTextDocumentParams(
            text_document=lsp.VersionedTextDocumentIdentifier(uri=uri, version=version),
            content_changes=[lsp.TextDocumentContentChangePartial(
                range=lsp.Range(start=pos, end=pos), text=text)]))

    async def stop(self) -> None:
        """shutdown + exit, then wait for the process to end. Nothing is swallowed: a failed
        shutdown, a process that does not end or ends with another code than 0 is recorded
        in ``stop_failures`` (health() reports it; the ``daemons`` fixture fails the test)."""
        if getattr(self, "proc", None) is None:  # never started
            await self.client.stop()
            return
        if self.proc.returncode is None:
            try:
                await asyncio.wait_for(self.client.shutdown_async(None), 10)
                self.client.exit(None)
            except Exception as exc:
                self.stop_failures.append(f"shutdown request failed: {exc!r}")
            try:
                await asyncio.wait_for(self.proc.wait(), 10)
            except asyncio.TimeoutError:
                self.stop_failures.append("did not exit within 10 s of shutdown + exit")
                self.proc.kill()
                await self.proc.wait()
            if self.proc.returncode != 0 and not self.killed:
                self.stop_failures.append(f"exited with code {self.proc.returncode} after "
                                          "shutdown + exit (expected 0)")
        await self.client.stop()
        await self._drained()

    async def _drained(self) -> None:
        with contextlib.suppress(asyncio.TimeoutError, asyncio.CancelledError):
            await asyncio.wait_for(asyncio.shield(self._drain), 5)

    def stderr_lines(self) -> list[str]:
        return self.stderr.decode(errors="replace").splitlines()

    def health(self, allow: health.Allowance) -> list[str]:
        """Error records and tracebacks on stderr (not allowed by ``allow``), and a stop()
        that went wrong (see tests/health.py)."""
        if getattr(self, "proc", None) is None:
            return []
        what = f"daemon {self.name} (pid {self.proc.pid})"
        failures = [f"{what}: {f}" for f in self.stop_failures]
        if self.proc.returncode is None:
            failures.append(f"{what} still running at teardown")
        return failures + health.check(what, self.stderr_lines(), allow)

    async def kill(self) -> None:
        """SIGKILL: no shutdown, nothing flushed."""
        self.killed = True
        self.proc.kill()
        await self.proc.wait()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self.client.stop(), 5)


@contextlib.asynccontextmanager
async def daemon_factory(tmp_path: Path, node: Any) -> AsyncIterator[Callable[..., Any]]:
    """Make started daemons (each with its own workspace and data folder under ``tmp_path``);
    at the end every one gets shutdown + exit, and the test (pytest ``node``) fails when one
    did not exit with 0 or wrote an error record or a traceback that the test does not allow
    with ``@pytest.mark.allow_errors(...)`` (tests/health.py, docs/testing.md)."""
    started: list[DaemonClient] = []

    async def make(name: str, relay_url: str, token: str | None = None, *,
                   workspace: Path | None = None, data_dir: Path | None = None,
                   **options: Any) -> DaemonClient:
        ws = workspace or tmp_path / f"ws-{name}"
        ws.mkdir(parents=True, exist_ok=True)
        client = DaemonClient(name, ws, data_dir or tmp_path / f"data-{name}")
        started.append(client)
        await client.start(relay_url, token, **options)
        return client

    yield make
    results = await asyncio.gather(*(c.stop() for c in started), return_exceptions=True)
    allow = health.allowance(node)
    failures = [f"daemon {c.name}: stop raised {r!r}" for c, r in zip(started, results, strict=True)
                if isinstance(r, BaseException)]
    for c in started:
        failures += c.health(allow)
    health.fail_if(failures)
