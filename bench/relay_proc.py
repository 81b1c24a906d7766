"""The relay under test as a child process: start pinned, figures, py-spy profile.

Also what any process under test needs: pinning every thread (and child) of a process
that is already running to cores, and its CPU seconds read from /proc at the window's
edges (``Watched``).
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import psutil

REPO = Path(__file__).resolve().parent.parent


class BenchError(Exception):
    """the benchmark could not set up or run."""


@dataclass
class Relay:
    host: str
    port: int
    proc: subprocess.Popen[bytes] | None = None
    pid: int | None = None
    data_dir: str | None = None

    @classmethod
    def start(cls, core: int | None, extra: list[str], nice: int = 0, rt: bool = False,
              timeout: float = 60.0, env: dict[str, str] | None = None,
              checkout: Path | None = None) -> Relay:
        """``checkout``: run the relay of that checkout of the repository (a git worktree
        of another commit, for A/B runs) instead of this one's."""
        data_dir = tempfile.mkdtemp(prefix="ensemble-bench-")
        log_path = os.path.join(data_dir, "relay.log")
        cmd = [sys.executable, "-m", "relay", "--host", "127.0.0.1", "--port", "0",
               "--data-dir", os.path.join(data_dir, "data"), "--dev", *extra]
        if core is not None:
            cmd = ["taskset", "-c", str(core), *cmd]
        if rt:
            cmd = ["chrt", "--rr", "1", *cmd]
        with open(log_path, "wb") as log:
            proc = subprocess.Popen(
                cmd, cwd=checkout or REPO, stdout=log, stderr=subprocess.STDOUT,
                env={**os.environ, **env} if env else None,
                preexec_fn=lambda: os.setpriority(os.PRIO_PROCESS, 0, nice),  # absolute value
            )
        deadline = time.monotonic() + timeout
        pat = re.compile(rb"listening on ws://([0-9.]+):(\d+)")
        while time.monotonic() < deadline:
            m = pat.search(Path(log_path).read_bytes())
            if m:
                return cls(m.group(1).decode(), int(m.group(2)), proc, proc.pid, data_dir)
            if proc.poll() is not None:
                break
            time.sleep(0.05)
        proc.kill()
        tail = Path(log_path).read_text(errors="replace")[-2000:]
        shutil.rmtree(data_dir, ignore_errors=True)
        raise BenchError(f"relay did not start ({' '.join(cmd)}):\n{tail}")

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        if self.data_dir:
            shutil.rmtree(self.data_dir, ignore_errors=True)


@dataclass
class Watched:
    """A process whose CPU time a run reports: ``tree`` adds its children (PostgreSQL's
    backends are processes of their own)."""

    name: str
    pid: int
    tree: bool = False

    def sample(self) -> dict[int, float]:
        """User + system CPU seconds of the process (every thread) and, with ``tree``, of
        each live child, by pid: /proc/<pid>/stat through psutil."""
        out: dict[int, float] = {}
        try:
            proc = psutil.Process(self.pid)
            procs = [proc, *(proc.children(recursive=True) if self.tree else [])]
        except psutil.Error:
            return out
        for p in procs:
            try:
                t = p.cpu_times()
            except psutil.Error:
                continue
            out[p.pid] = t.user + t.system
        return out


def cpu_between(before: dict[int, float], after: dict[int, float]) -> float:
    """CPU seconds spent between two ``Watched.sample``s (a child born in between counts
    from zero; one that ended in between is lost)."""
    return sum(t - before.get(pid, 0.0) for pid, t in after.items())


def pin(pid: int, cores: list[int] | None, tree: bool = False) -> None:
    """Pin every thread of a running process (and, with ``tree``, of its children) to
    ``cores``; children forked later inherit the affinity."""
    if not cores:
        return
    pids = [pid]
    if tree:
        pids += [c.pid for c in psutil.Process(pid).children(recursive=True)]
    for p in pids:
        for task in Path(f"/proc/{p}/task").iterdir():
            with contextlib.suppress(OSError):  # the thread ended meanwhile
                os.sched_setaffinity(int(task.name), set(cores))


def peak_rss_mb(pid: int) -> float | None:
    """VmHWM: the relay's peak resident set since it started."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        return None
    return None


def start_profiler(pid: int, out: str, rate: int, duration: float,
                   core: int | None) -> subprocess.Popen[bytes]:
    """Sample the relay into a raw collapsed-stack file.

    py-spy pauses the relay for each sample (a few tens of microseconds): without
    that, stacks read from a busy process come out torn. The latency figures of a
    profiled run are therefore a little worse than an unprofiled one's.
    """
    spy = shutil.which("py-spy") or os.path.join(os.path.dirname(sys.executable), "py-spy")
    cmd = [spy, "record", "--pid", str(pid), "--rate", str(rate),
           "--duration", str(max(1, int(duration))),
           "--format", "raw", "--output", out]
    if core is not None:
        cmd = ["taskset", "-c", str(core), *cmd]
    return subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def profile_top(path: str, n: int = 20) -> dict[str, list[tuple[str, float]]]:
    """Self and inclusive share of the event loop thread's samples per function.

    Reads a py-spy raw (collapsed stacks) file; line numbers are dropped.
    """
    self_c: Counter[str] = Counter()
    incl: Counter[str] = Counter()
    total = 0
    try:
        lines = Path(path).read_text().splitlines()
    except OSError:
        return {"self": [], "inclusive": []}
    for line in lines:
        stack, _, count = line.rpartition(" ")
        if not count.isdigit():
            continue
        c = int(count)
        if stack.startswith("Thread._bootstrap"):
            continue  # worker threads (the store's executor): idle under cursor load
        total += c
        frames = [re.sub(r" \((?:.*/)?([^/:]+)(?::\d+)?\)$", r" (\1)", f)
                  for f in stack.split(";")]
        self_c[frames[-1]] += c
        for f in set(frames):
            incl[f] += c
    if not total:
        return {"self": [], "inclusive": []}
    return {
        "self": [(f, round(100 * c / total, 1)) for f, c in self_c.most_common(n)],
        "inclusive": [(f, round(100 * c / total, 1)) for f, c in incl.most_common(n)],
    }


