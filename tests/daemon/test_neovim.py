"""A real third-party LSP client: headless Neovim 0.7 sees comment threads as diagnostics.

Alice (a daemon driven over stdio) creates a thread through a real relay; Neovim
starts its own daemon with ``vim.lsp.start_client``, joins the session as Bob
with the standard custom-request API, opens the file and receives the thread
through ``textDocument/publishDiagnostics``. The init script writes what Neovim
got to a JSON file the test waits for.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psutil
import pytest

from daemon.protocol import Method
from tests import ci
from tests.helpers import sign_up

NVIM = shutil.which("nvim")
ROOT = Path(__file__).resolve().parents[2]
INIT_LUA = Path(__file__).parent / "nvim" / "init.lua"
PASSWORD = "correct horse battery staple"

pytestmark = pytest.mark.timeout(240)


@pytest.fixture(autouse=True)
def _neovim() -> None:
    ci.need([] if NVIM else ["neovim (nvim)"], "run `make tools`")

SOURCE = """\
def greet(name):
    message = "héllo 😀 " + name  # 日本語 🎉
    return message


def main():
    print(greet("wörld"))
"""
THREAD_LINE = 1


async def _alice_thread(relay_url: str, daemons: Callable[..., Any], text: str) -> str:
    """Alice signs up, creates a session with a thread on THREAD_LINE; returns an invite."""
    return (await _alice_session(relay_url, daemons, text))[0]


async def _alice_session(relay_url: str, daemons: Callable[..., Any], text: str
                         ) -> tuple[str, Any]:
    """``_alice_thread``, returning alice's daemon too."""
    alice = await daemons("alice", relay_url)
    (alice.workspace / "src").mkdir(parents=True, exist_ok=True)
    (alice.workspace / "src" / "greet.py").write_text(SOURCE, encoding="utf-8")
    await alice.request(Method.SIGN_UP, {"username": "alice", "password": PASSWORD,
                                         "display_name": "Alice"})
    await alice.wait_for(Method.DID_CHANGE_CONNECTION, lambda p: p["state"] == "online")
    await alice.request(Method.CREATE_SESSION, {"name": "review"})
    invite = await alice.request(Method.CREATE_INVITE, {"role": "editor"})
    line = SOURCE.splitlines()[THREAD_LINE]
    rng = {"start": {"line": THREAD_LINE, "character": 0},
           "end": {"line": THREAD_LINE, "character": len(line)}}
    earlier = [id(p) for p in alice.notes[Method.DID_CHANGE_OUTBOX]]
    queued = await alice.request(
        Method.CREATE_THREAD, {"uri": alice.uri("src/greet.py"), "range": rng, "text": text})
    await alice.wait_for(
        Method.DID_CHANGE_THREADS,
        lambda p: any(t["thread"]["id"] == queued["id"] for t in p["threads"]),
    )
    # stored by the relay: the outbox went back to empty after the thread was queued
    await alice.wait_for(
        Method.DID_CHANGE_OUTBOX, lambda p: id(p) not in earlier and p["pending"] == 0
    )
    return str(invite["token"]), alice


def _daemons_of(tag: str) -> list[psutil.Process]:
    found = []
    for proc in psutil.process_iter(["pid"]):
        try:
            if proc.environ().get("ENSEMBLE_NVIM_TAG") == tag:
                found.append(proc)
        except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
            continue
    return found


async def _run_nvim(tmp_path: Path, relay_url: str, token: str, invite: str,
                    encoding: str, min_diagnostics: int = 1) -> dict[str, Any]:
    ws = tmp_path / f"ws-nvim-{encoding}"
    (ws / "src").mkdir(parents=True)
    target = ws / "src" / "greet.py"
    target.write_text(SOURCE, encoding="utf-8")
    out = tmp_path / f"nvim-{encoding}.json"
    tag = uuid.uuid4().hex
    home = tmp_path / f"nvim-home-{encoding}"
    config = {
        "cmd": [sys.executable, "-m", "daemon"],
        "cwd": str(ROOT),
        "env": {"PYTHONPATH": str(ROOT), "ENSEMBLE_NVIM_TAG": tag},
        "root": str(ws),
        "file": str(target),
        "init": {
            "relay_url": relay_url,
            "token": token,
            "data_dir": str(tmp_path / f"data-nvim-{encoding}"),
            "workspace_roots": [ws.as_uri()],
            "display_name": "Bob",
        },
        "invite": invite,
        "encoding": encoding,
        "timeout_ms": 30000,
        "out": str(out),
        "min_diagnostics": min_diagnostics,
    }
    env = dict(os.environ, ENSEMBLE_NVIM=json.dumps(config))
    for var in ("XDG_CONFIG_HOME", "XDG_DATA_HOME", "XDG_STATE_HOME", "XDG_CACHE_HOME"):
        env[var] = str(home / var.lower())
    proc = await asyncio.create_subprocess_exec(
        str(NVIM), "--headless", "-n", "-i", "NONE", "--noplugin", "-u", str(INIT_LUA),
        env=env, stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        _, err = await asyncio.wait_for(proc.communicate(), 90)
    except asyncio.TimeoutError:
        proc.kill()
        await proc.wait()
        raise AssertionError("neovim did not finish within 90 s") from None
    assert out.exists(), f"neovim wrote no report; stderr: {err.decode(errors='replace')}"
    report: dict[str, Any] = json.loads(out.read_text(encoding="utf-8"))
    deadline = time.monotonic() + 15
    while _daemons_of(tag) and time.monotonic() < deadline:
        await asyncio.sleep(0.1)
    report["orphans"] = len(_daemons_of(tag))
    return report


def _check_thread_diagnostic(report: dict[str, Any]) -> dict[str, Any]:
    assert report.get("error") is None, report
    assert report.get("join_error") in (None, []), report
    ensemble = [d for d in report["diagnostics"] if d["source"] == "ensemble"]
    assert len(ensemble) == 1, report
    assert report["stopped"] is True and report["orphans"] == 0, report
    return ensemble[0]


async def test_neovim_receives_a_comment_thread_as_a_diagnostic(
    relay: Any, daemons: Callable[..., Any], tmp_path: Path
) -> None:
    """Neovim (UTF-16, its default) gets alice's thread as an 'ensemble' diagnostic on
    the thread's line, with the author and text in the message; no daemon is left."""
    invite = await _alice_thread(relay.url, daemons, "why an emoji here?")
    token = await sign_up(relay.url, "bob", PASSWORD, "Bob")
    report = await _run_nvim(tmp_path, relay.url, token, invite, "utf-16")
    diag = _check_thread_diagnostic(report)
    assert diag["lnum"] == THREAD_LINE == diag["end_lnum"]
    assert diag["message"] == "Alice: why an emoji here?"
    line = SOURCE.splitlines()[THREAD_LINE]
    # Neovim reports byte columns: it converted the daemon's UTF-16 units itself.
    assert diag["col"] == 4
    assert diag["end_col"] == len(line.encode("utf-8"))


async def test_utf8_only_client_gets_byte_columns_on_an_emoji_line(
    relay: Any, daemons: Callable[..., Any], tmp_path: Path
) -> None:
    """A client offering only UTF-8 gets UTF-8 negotiated and byte-exact columns on a
    line with emoji and CJK text (UTF-16 units would end the range early)."""
    invite = await _alice_thread(relay.url, daemons, "encoding check")
    token = await sign_up(relay.url, "bob", PASSWORD, "Bob")
    report = await _run_nvim(tmp_path, relay.url, token, invite, "utf-8")
    assert report["server_encoding"] == "utf-8"
    diag = _check_thread_diagnostic(report)
    line = SOURCE.splitlines()[THREAD_LINE]
    assert len(line.encode("utf-8")) != len(line.encode("utf-16-le")) // 2
    assert (diag["lnum"], diag["col"]) == (THREAD_LINE, 4)
    assert diag["end_col"] == len(line.encode("utf-8"))


async def test_neovim_07_sees_where_a_peer_is(
    relay: Any, daemons: Callable[..., Any], tmp_path: Path
) -> None:
    """Neovim 0.7 cannot draw inlay hints: a peer's caret also arrives as a Hint
    diagnostic "Alice is here" at the caret, which 0.7 draws."""
    invite, alice = await _alice_session(relay.url, daemons, "look here")
    uri = await alice.open("src/greet.py")
    caret = {"line": 5, "character": 4}
    alice.notify(Method.CURSOR, {"uri": uri, "selections": [{"anchor": caret,
                                                              "active": caret}]})
    token = await sign_up(relay.url, "bob", PASSWORD, "Bob")
    report = await _run_nvim(tmp_path, relay.url, token, invite, "utf-16", min_diagnostics=2)
    assert report.get("error") is None, report
    peers = [d for d in report["diagnostics"]
             if d["source"] == "ensemble" and d["message"].startswith("Alice is here")]
    assert len(peers) == 1, report
    # severity 4 is Hint; line 5 "def main():", the caret after "def " (ASCII: col 4)
    assert (peers[0]["severity"], peers[0]["lnum"], peers[0]["col"]) == (4, 5, 4), report
