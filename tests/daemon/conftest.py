"""Fixtures for daemon tests: a real relay process and real daemon processes."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from daemon_harness import ROOT, DaemonClient


class RelayProcess:
    """``python -m relay`` on 127.0.0.1; restartable on the same port and data."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self.port = 0
        self.proc: subprocess.Popen[bytes] | None = None
        self.log = data_dir.parent / "relay.log"

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.port}"

    def start(self) -> None:
        env = dict(os.environ, PYTHONPATH=str(ROOT))
        offset = self.log.stat().st_size if self.log.exists() else 0
        out = open(self.log, "ab")  # noqa: SIM115 - kept open for the process
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "relay", "--host", "127.0.0.1", "--port", str(self.port),
             "--data-dir", str(self.data_dir), "--dev", "--bcrypt-rounds", "4",
             "--presence-timeout", "10"],
            stdout=subprocess.DEVNULL, stderr=out, env=env, cwd=str(ROOT),
        )
        out.close()
        deadline = time.monotonic() + 30
        pattern = re.compile(rb"listening on ws://127\.0\.0\.1:(\d+)")
        while time.monotonic() < deadline:
            m = pattern.search(self.log.read_bytes()[offset:])
            if m is not None:
                self.port = int(m.group(1))
                return
            if self.proc.poll() is not None:
                raise RuntimeError("relay exited:\n" + self.log.read_text()[-3000:])
            time.sleep(0.05)
        raise RuntimeError("relay did not start:\n" + self.log.read_text()[-3000:])

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None

    def restart(self) -> None:
        self.stop()
        self.start()


@pytest.fixture
def relay_proc(tmp_path: Path) -> Iterator[RelayProcess]:
    relay = RelayProcess(tmp_path / "relay")
    relay.start()
    yield relay
    relay.stop()


@pytest.fixture
async def daemons(tmp_path: Path) -> AsyncIterator[Callable[..., Any]]:
    """Factory of started daemons (each with its own workspace copy and data folder)."""
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
    await asyncio.gather(*(c.stop() for c in started), return_exceptions=True)
