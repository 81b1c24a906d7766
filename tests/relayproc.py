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

from websockets.sync.client import connect

from tests import health

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
        self.exit_codes: list[int] = []  # of every stop() (SIGTERM); kill() adds none
        self.checked = 0  # lines already held to a test (the shared relay's windows)
        self._killed = False  # the current process was ended by kill()
        self._listening = threading.Event()
        self._reader: threading.Thread | None = None

    # -- lifecycle

    def start(self, port: int = 0) -> RelayProcess:
        env = {**os.environ, **self.env}
        env.setdefault("ENSEMBLE_LOG_LEVEL", "info")
        cmd = [sys.executable, "-m", "relay", "--host", "127.0.0.1", "--port", str(port),
               "--data-dir", str(self.data_dir), "--dev", *TEST_ARGS, *self.args]
        self._listening.clear()
        self._killed = False
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

    def stop(self, timeout: float = 30.0) -> int:
        """SIGTERM (graceful shutdown) and wait; returns the exit code."""
        if self.proc is None:
            return 0
        if self.proc.poll() is not None and self._killed:
            return self.proc.returncode  # a kill() the test asked for: not a stop
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            code = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            code = -signal.SIGTERM * 1000  # did not stop in time: never a clean exit
            self.lines.append(f"relay did not stop within {timeout}s of SIGTERM")
        self._join()
        self.exit_codes.append(code)
        return code

    def kill(self) -> None:
        """SIGKILL: no shutdown code runs."""
        if self.proc is not None and self.proc.poll() is None:
            self._killed = True
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

    # -- health (see tests/health.py)

    _OPENED = re.compile(r"msg=\"connection opened\" conn=(\d+) path=/auth user=-")

    def sync_log(self, timeout: float = 10.0) -> int:
        """Make the relay log a marker and wait for it: everything it logged before is in
        ``lines``. Returns the number of lines up to the marker."""
        start = len(self.lines)
        with connect(self.url + "/auth", open_timeout=timeout, compression=None):
            pass  # opened and closed without a hello: two info lines
        deadline = time.monotonic() + timeout
        conn = None
        while time.monotonic() < deadline:
            for i in range(start, len(self.lines)):
                m = self._OPENED.search(self.lines[i])
                if m:
                    conn = m.group(1)
                elif conn is not None and "connection closed" in self.lines[i] \
                        and f" conn={conn} " in self.lines[i] + " ":
                    return i + 1
            time.sleep(0.02)
        raise AssertionError(f"the relay did not log its marker connection in {timeout}s")

    def health(self, allow: health.Allowance, since: int = 0, until: int | None = None,
               exits: bool = True) -> list[str]:
        """Errors and tracebacks in lines[since:until] (not allowed by ``allow``), and every
        stop() that did not exit with 0 (when ``exits``)."""
        what = f"relay {self.data_dir.name} (pid {self.proc.pid if self.proc else '-'})"
        return health.check(what, self.lines[since:until], allow,
                            self.exit_codes if exits else ())
