"""Process life: fast initialize, clean shutdown, exit on stdin EOF, logs on stderr only."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from daemon_harness import ROOT

pytestmark = pytest.mark.timeout(120)


def frame(obj: dict[str, Any]) -> bytes:
    body = json.dumps(obj).encode()
    return f"Content-Length: {len(body)}\r\n\r\n".encode() + body


async def test_initialize_is_fast_and_shutdown_exit_is_clean(daemons: Any, relay: Any) -> None:
    """Spawn to initialize answered: printed, and bounded only against gross regressions
    (an import or a scan that costs seconds), since this machine's speed swings about 3x;
    the figure to compare is bench/daemon_figures.py's median. Shutdown+exit ends with 0."""
    d = await daemons("alice", relay.url)
    assert d.init_seconds is not None and d.init_cpu is not None
    print(f"start-to-initialized: {d.init_seconds * 1000:.0f} ms wall, "
          f"{d.init_cpu * 1000:.0f} ms CPU, load {os.getloadavg()[0]:.1f}")
    assert d.init_cpu < 3.0  # median 320-385 ms (docs/performance.md, bench/daemon_figures.py)
    assert d.init_seconds < 15.0
    await d.request("ensemble/state")
    await d.stop()
    assert d.proc.returncode == 0


def test_stdin_eof_ends_the_process_and_stdout_carries_only_lsp(tmp_path: Path) -> None:
    """Closing stdin ends the daemon; stdout holds only LSP frames, logs go to stderr,
    and the token never shows up in the logs."""
    env = dict(os.environ, ENSEMBLE_LOG_LEVEL="debug", ENSEMBLE_RECONNECT_MAX="1")
    proc = subprocess.Popen([sys.executable, "-m", "daemon"], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=ROOT, env=env)
    assert proc.stdin is not None and proc.stdout is not None and proc.stderr is not None
    out = bytearray()
    reader = threading.Thread(target=pump, args=(proc.stdout, out), daemon=True)
    reader.start()
    init = {"relay_url": "ws://127.0.0.1:9", "token": "SECRET-TOKEN-123",
            "data_dir": str(tmp_path / "d"), "workspace_roots": [tmp_path.as_uri()]}
    proc.stdin.write(frame({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
        "processId": None, "rootUri": tmp_path.as_uri(), "capabilities": {},
        "initializationOptions": init}}))
    proc.stdin.write(frame({"jsonrpc": "2.0", "method": "initialized", "params": {}}))
    proc.stdin.flush()
    deadline = time.monotonic() + 20
    while b'"offline"' not in out:  # the daemon tried the absent relay and said so
        assert time.monotonic() < deadline, bytes(out)
        time.sleep(0.05)
    proc.stdin.close()
    proc.wait(timeout=15)
    reader.join(5)
    err = proc.stderr.read()
    rest = bytes(out)
    methods = []
    while rest:
        head, _, rest = rest.partition(b"\r\n\r\n")
        headers = dict(h.split(b": ", 1) for h in head.split(b"\r\n"))
        n = int(headers[b"Content-Length"])
        methods.append(json.loads(rest[:n]).get("method"))
        rest = rest[n:]
    assert "ensemble/didChangeConnection" in methods
    assert b"retrying" in err
    assert b"SECRET-TOKEN-123" not in err


def pump(stream: Any, into: bytearray) -> None:
    while chunk := stream.read1(65536):
        into.extend(chunk)


async def test_plain_lsp_client_sees_threads_as_diagnostics(daemons: Any, relay: Any,
                                                            tmp_path: Path) -> None:
    """A client without the extension gets a thread as an "ensemble" diagnostic, cleared
    when it leaves the session."""
    ws_a, ws_b = tmp_path / "a", tmp_path / "b"
    for ws in (ws_a, ws_b):
        ws.mkdir()
        (ws / "m.py").write_text("import os\n\n\ndef run():\n    return os.getcwd()\n")
    alice = await daemons("alice", relay.url, workspace=ws_a, native_ui=True)
    await alice.request("ensemble/signUp", {"username": "alice", "password": "correct horse 1"})
    await alice.wait_for("ensemble/didChangeConnection", lambda p: p["state"] == "online")
    await alice.request("ensemble/createSession", {"name": "s"})
    invite = await alice.request("ensemble/createInvite", {})
    uri = await alice.open("m.py")
    await alice.request("ensemble/createThread", {"uri": uri, "text": "use pathlib", "range": {
        "start": {"line": 3, "character": 0}, "end": {"line": 4, "character": 0}}})
    await alice.wait_for("ensemble/didChangeOutbox", lambda p: p["pending"] == 0)
    assert alice.notes["textDocument/publishDiagnostics"] == []  # native ui: none

    bob = await daemons("bob", relay.url, workspace=ws_b)
    await bob.request("ensemble/signUp", {"username": "bob", "password": "correct horse 1"})
    await bob.wait_for("ensemble/didChangeConnection", lambda p: p["state"] == "online")
    await bob.request("ensemble/joinSession", {"invite": invite["token"]})
    await bob.open("m.py")
    diag = await bob.wait_for("textDocument/publishDiagnostics",
                              lambda p: len(p["diagnostics"]) == 1)
    [d] = diag["diagnostics"]
    assert d["source"] == "ensemble" and "use pathlib" in d["message"]
    assert d["range"]["start"]["line"] == 3
    await bob.request("ensemble/leaveSession", {})
    await bob.wait_for("textDocument/publishDiagnostics", lambda p: p["diagnostics"] == [])
