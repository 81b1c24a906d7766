"""The database never stalls the relay: a lock held by another process delays only the
writes that need it (refused with storage_busy after --storage-wait, then retried with
the same id), /healthz and presence keep answering; storage that cannot be written is
refused at start (one line, exit 3) and reported by /healthz at run time (503)."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from tests.relay.conftest import make_trio
from tests.relayproc import ROOT, TEST_ARGS
from wire import (
    Ack,
    ChatSend,
    CursorUpdate,
    Error,
    HistoryFetch,
    HistoryPage,
    Position,
    PresenceUpdate,
    Selection,
)

FAST = 0.2  # what "keeps answering" means here, in seconds


def _healthz(url: str) -> tuple[int, dict[str, object], float]:
    t0 = time.monotonic()
    try:
        with urllib.request.urlopen(url + "/healthz", timeout=10) as resp:
            status, body = resp.status, resp.read()
    except urllib.error.HTTPError as exc:
        status, body = exc.code, exc.read()
    return status, json.loads(body), time.monotonic() - t0


async def test_a_database_locked_elsewhere_stalls_nothing_and_the_write_is_retried(
        relay_factory):
    relay = relay_factory()  # --storage-wait 2 (the default)
    trio = await make_trio(relay.url)
    sid = trio.sid
    holder = sqlite3.connect(Path(relay.data_dir) / "relay.sqlite3", isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")  # another process holds the database
    try:
        mid = "held-" + os.urandom(4).hex()
        t0 = time.monotonic()
        await trio.editor.send(ChatSend(id=mid, session_id=sid, text="while locked", rid="w"))
        await asyncio.sleep(0.1)  # the write now waits for the lock
        # /healthz and presence keep answering while the write waits.
        slowest = 0.0
        for _ in range(3):
            status, body, took = await asyncio.to_thread(_healthz, relay.http_url)
            assert status == 200 and took < FAST, (status, body, took)
            slowest = max(slowest, took)
        sel = [Selection(anchor=Position(line=1, character=0), active=Position(line=1,
                                                                               character=2))]
        sent = time.monotonic()
        await trio.host.send(CursorUpdate(session_id=sid, path="a.py", selections=sel))
        await trio.viewer.expect(PresenceUpdate, 5, lambda p: any(e.cursor for e in p.peers))
        presence = time.monotonic() - sent
        assert presence < FAST
        err = await trio.editor.expect(Error, 10, lambda e: e.id == mid)
        waited = time.monotonic() - t0
        assert err.code == "storage_busy" and err.rid == "w"
        assert err.retry_after is not None and err.retry_after > 0
        assert 1.0 < waited < 5.0, waited
        print(f"\nlocked database: /healthz within {slowest * 1000:.0f} ms, presence within "
              f"{presence * 1000:.0f} ms, the write refused after {waited:.2f} s")
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    # The outbox sends the same id again: stored once.
    ack = await trio.editor.request(ChatSend(id=mid, session_id=sid, text="while locked"), Ack)
    assert ack.id == mid
    page = await trio.host.request(HistoryFetch(session_id=sid), HistoryPage)
    assert [m.id for m in page.messages].count(mid) == 1
    status, body, _ = await asyncio.to_thread(_healthz, relay.http_url)
    assert status == 200 and body["storage"] == "ok"
    await trio.close()


# -- storage that cannot be written


def _can_mount() -> bool:
    if os.geteuid() != 0 or not shutil.which("unshare") or not shutil.which("nsenter"):
        return False
    done = subprocess.run(["unshare", "-m", "true"], capture_output=True, check=False)
    return done.returncode == 0


MOUNT = _can_mount()


def _relay_cmd(data_dir: Path, mount: str = "") -> list[str]:
    """The relay on ``data_dir``; as root, in its own mount namespace where the folder is
    a read-only bind mount (``mount="ro"``) or a 4 MiB tmpfs (``"small"``)."""
    relay = [sys.executable, "-m", "relay", "--host", "127.0.0.1", "--port", "0", "--data-dir",
             str(data_dir), *TEST_ARGS]
    if mount == "small":
        relay += ["--storage-probe-interval", "0.2"]
    if not MOUNT or not mount:
        return relay
    d = str(data_dir)
    setup = (f"mount --bind {d} {d} && mount -o remount,ro,bind {d}" if mount == "ro"
             else f"mount -t tmpfs -o size=4m tmpfs {d}")
    return ["unshare", "-m", "sh", "-c", f'{setup} && exec "$@"', "relay", *relay]


def _make_readonly(data_dir: Path) -> None:
    for p in (data_dir, *data_dir.iterdir()):
        p.chmod(0o555 if p.is_dir() else 0o444)


def _fill(data_dir: Path, pid: int, full: bool) -> None:
    """Make the relay's data folder unwritable at run time: as root, fill its tmpfs (every
    write then fails with ENOSPC); otherwise take the write permission away."""
    if not MOUNT:
        if full:
            _make_readonly(data_dir)
        else:
            data_dir.chmod(0o755)
        return
    filler = data_dir / "filler"
    script = f"cat /dev/zero > {filler}; true" if full else f"rm -f {filler}"
    subprocess.run(["nsenter", "-t", str(pid), "-m", "sh", "-c", script], check=True,
                   capture_output=True)


def _env() -> dict[str, str]:
    return {**os.environ, "ENSEMBLE_JWT_SECRET": "s" * 32, "PYTHONPATH": str(ROOT)}


needs_readonly = pytest.mark.skipif(
    os.geteuid() == 0 and not MOUNT,
    reason="as root, a read-only folder needs unshare/nsenter (mount namespaces)")


def _start_and_stop(data_dir: Path) -> None:
    """Create the database once with a normal relay run."""
    proc = subprocess.Popen(_relay_cmd(data_dir), cwd=ROOT, env=_env(),
                            stderr=subprocess.PIPE, text=True)
    assert proc.stderr is not None
    for line in proc.stderr:
        if "listening on" in line:
            break
    proc.terminate()
    proc.wait(15)


@needs_readonly
@pytest.mark.parametrize("existing", [False, True], ids=["empty", "existing-database"])
def test_a_read_only_data_folder_fails_fast_with_one_line(tmp_path, existing):
    data = tmp_path / "data"
    data.mkdir()
    if existing:
        _start_and_stop(data)
    if not MOUNT:
        _make_readonly(data)
    try:
        done = subprocess.run(_relay_cmd(data, "ro"), cwd=ROOT, env=_env(), capture_output=True,
                              text=True, timeout=60, check=False)
    finally:
        for p in (data, *data.iterdir()):
            p.chmod(0o755 if p.is_dir() else 0o644)
    errors = [line for line in done.stderr.splitlines() if "error" in line]
    assert done.returncode == 3, done.stderr
    assert "Traceback" not in done.stderr
    assert len(errors) == 1 and errors[0].startswith("ensemble-relay: error: storage unusable")


def _wait_healthz(url: str, want: int) -> tuple[int, dict[str, object], float]:
    deadline = time.monotonic() + 10
    while True:
        status, body, took = _healthz(url)
        if status == want:
            return status, body, took
        assert time.monotonic() < deadline, f"healthz kept answering {status} {body}"
        time.sleep(0.1)


@needs_readonly
def test_healthz_reports_storage_that_became_unwritable(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    proc = subprocess.Popen(_relay_cmd(data, "small"), cwd=ROOT, env=_env(),
                            stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stderr is not None
        url = ""
        for line in proc.stderr:
            if "listening on ws://" in line:
                url = "http://" + line.rsplit("ws://", 1)[1].strip()
                break
        assert url, "relay did not start"
        status, body, _ = _healthz(url)
        assert status == 200 and body["status"] == "ok"
        _fill(data, proc.pid, True)
        status, body, took = _wait_healthz(url, 503)
        assert body["status"] == "unavailable" and "cannot be written" in str(body["reason"])
        assert took < FAST
        _fill(data, proc.pid, False)
        status, body, _ = _wait_healthz(url, 200)
        assert body["status"] == "ok"
    finally:
        proc.kill()
        proc.wait()
        for p in (data, *data.iterdir()):
            p.chmod(0o755 if p.is_dir() else 0o644)
