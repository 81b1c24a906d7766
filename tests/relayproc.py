"""Run the real relay as a subprocess on port 0 (used by the fixtures in tests/conftest.py)."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LISTEN_RE = re.compile(r"ensemble-relay listening on ws://([\d.]+):(\d+)")
START_TIMEOUT = 30.0

# Fast test settings: bcrypt cost 4 is accepted only through this explicit flag.
TEST_ARGS = ("--bcrypt-rounds", "4")


class RelayProcess:
    """A relay subprocess. ``url`` is ws://127.0.0.1:PORT (paths /ws and /auth below it)."""

    def __init__(self, data_dir: Path, args: tuple[str, ...] = (),
                 env: dict[str, str] | None = None) -> None:
        self.data_dir = Path(data_dir)
        self.args = tuple(args)
        self.env = env or {}
        self.proc: subprocess.Popen[str] | None = None
        self.port = 0
        self.lines: list[str] = []
        self._listening = threading.Event()
        self._reader: threading.Thread | None = None

    # -- lifecycle

    def start(self, port: int = 0) -> RelayProcess:
        env = {**os.environ, **self.env}
        env.setdefault("ENSEMBLE_LOG_LEVEL", "info")
        cmd = [sys.executable, "-m", "relay", "--host", "127.0.0.1", "--port", str(port),
               "--data-dir", str(self.data_dir), "--dev", *TEST_ARGS, *self.args]
        self._listening.clear()
        self.proc = subprocess.Popen(
            cmd, cwd=ROOT, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE, text=True, bufsize=1,
        )
        self._reader = threading.Thread(target=self._read, args=(self.proc,), daemon=True)
        self._reader.start()
        if not self._listening.wait(START_TIMEOUT):
            self.kill()
            raise RuntimeError("relay did not start:\n" + self.log())
        if self.proc.poll() is not None:
            raise RuntimeError("relay exited at start:\n" + self.log())
        return self

    def _read(self, proc: subprocess.Popen[str]) -> None:
        assert proc.stderr is not None
        for line in proc.stderr:
            self.lines.append(line.rstrip("\n"))
            m = LISTEN_RE.search(line)
            if m:
                self.port = int(m.group(2))
                self._listening.set()
        self._listening.set()  # exited: unblock start()

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.port}"

    @property
    def http_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def stop(self, timeout: float = 15.0) -> int:
        """SIGTERM (graceful shutdown) and wait; returns the exit code."""
        if self.proc is None:
            return 0
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            code = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            code = self.proc.wait()
        self._join()
        return code

    def kill(self) -> None:
        """SIGKILL: no shutdown code runs."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait()
        self._join()

    def restart(self, same_port: bool = False, kill: bool = False) -> RelayProcess:
        """Stop (or SIGKILL) and start again on the same data folder."""
        port = self.port if same_port else 0
        if kill:
            self.kill()
        else:
            self.stop()
        deadline = time.monotonic() + 10
        while True:
            try:
                return self.start(port)
            except RuntimeError:
                if not same_port or time.monotonic() > deadline:
                    raise

    def _join(self) -> None:
        if self._reader is not None:
            self._reader.join(5)

    def log(self) -> str:
        return "\n".join(self.lines)
