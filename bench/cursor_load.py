"""Cursor load benchmark: R sessions x C clients sending cursor updates at H Hz.

Starts the real relay pinned to one core (``taskset -c 0``), pins itself to the
other, signs up R*C users, creates R sessions with C participants each, then
forks the generator's worker processes (bench/load_loop.py), and every client
sends cursor updates at H Hz for warmup + duration seconds through its own
WebSocket connection. Every cursor carries its send time in ``sent_at`` (one
monotonic clock for every worker: ``perf_counter`` shifted once onto UNIX seconds
before the fork) and a counter in the caret's line, so each receiver knows how
late every peer update is and whether it ends on each peer's latest cursor. By
default one run measures even send slots, then random ones.
bench/README.md says what each printed figure means.

    python bench/cursor_load.py                      # 10 x 10 x 20 Hz, even then random
    python bench/cursor_load.py --sessions 40 --phases even --gen-cores 1-3
    python bench/cursor_load.py --sweep 10,60,90,120 --json
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import resource
import subprocess
import sys
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent))
import load_loop
from lean_ws import WsError
from load_loop import Schedule
from participant import Client, Stats, clock
from relay_proc import BenchError, Relay, Watched, peak_rss_mb, profile_top, start_profiler
from report import summarize, sweep_table, table
from sessions import setup

INF = float("inf")
# Test-only relay options: cheap password hashing keeps the sign-ups short.
DEFAULT_RELAY_ARGS = ["--bcrypt-rounds", "4"]


@dataclass
class Config:
    sessions: int = 10
    clients: int = 10
    hz: float = 20.0
    duration: float = 15.0
    warmup: float = 3.0
    settle: float = 5.0
    relay_core: int | None = 0
    nice: int = 0
    rt: bool = False
    gen_core: int | None = 1  # the first generator core (the setup process's)
    gen_cores: list[int] | None = None  # every generator core; None: no pinning
    procs: int = 0  # generator worker processes; 0: one per generator core
    presence: int = 2  # presence encoding the clients ask for in hello
    relay_args: list[str] = field(default_factory=list)
    relay_url: str | None = None
    relay_pid: int | None = None
    relay_checkout: str | None = None  # another checkout whose relay runs (A/B runs)
    batch: int = 50
    heartbeat: float = 0.0
    profile: str | None = None
    profile_rate: int = 250
    phases: str = "even"
    seed: int = 1
    chat_every: float = 0.0  # seconds between chat messages of each session (0: none)


# ---------------------------------------------------------------------------
# The measured run: one epoll loop sends on schedule and reads every socket


def snapshot(watched: list[Watched]) -> dict[str, Any]:
    return {
        "wall": clock(),
        "cpu": {w.name: w.sample() for w in watched},
        "cores": psutil.cpu_times(percpu=True),
    }


def chat_plan(cfg: Config, sessions: list[list[Client]], order: list[Client],
              t0: float, we: float) -> list[tuple[float, int]]:
    """Every chat message of the run, (due, sender's index in ``order``), by due: session
    r sends every ``chat_every`` seconds, the sessions' slots spread over that period,
    the sender rotating through the members."""
    if cfg.chat_every <= 0:
        return []
    index = {id(c): j for j, c in enumerate(order)}
    plan = []
    for r, members in enumerate(sessions):
        m = 0
        while (due := t0 + (m + (r + 0.5) / len(sessions)) * cfg.chat_every) < we:
            plan.append((due, index[id(members[(m + r) % len(members)])]))
            m += 1
    return sorted(plan)


def run_load(cfg: Config, st: Stats, sessions: list[list[Client]], watched: list[Watched],
             relay_pid: int | None) -> dict[str, Any]:
    # Every client sends in its own slot of the 1/H period. "even": the sessions
    # interleaved, so a session's clients are exactly period/C apart (no two updates
    # of a session ever close together); "random": each client's slot drawn at random
    # (fixed seed), as independent editors are, so a session's updates sometimes
    # arrive close together and sometimes far apart.
    order = [sessions[r][i] for i in range(cfg.clients) for r in range(cfg.sessions)]
    if cfg.phases == "random":
        random.Random(cfg.seed).shuffle(order)
    n = len(order)
    t0 = clock() + 0.3  # the workers start meanwhile
    ws = t0 + cfg.warmup
    we = ws + cfg.duration
    sched = Schedule(t0=t0, interval=1.0 / cfg.hz / n, n=n, ws=ws, we=we,
                     settle_end=we + cfg.settle, heartbeat=cfg.heartbeat,
                     chats=chat_plan(cfg, sessions, order, t0, we))
    st.ws, st.we = ws, we
    profiler: list[subprocess.Popen[bytes]] = []

    def at_start() -> dict[str, Any]:
        snap = snapshot(watched)
        if cfg.profile and relay_pid:
            profiler.append(start_profiler(relay_pid, cfg.profile, cfg.profile_rate,
                                           cfg.duration, cfg.gen_core))
        return snap

    procs = cfg.procs or max(1, len(cfg.gen_cores or [0]))
    out = load_loop.run(order, sched, procs, cfg.gen_cores, at_start, lambda: snapshot(watched))
    for p in profiler:
        try:
            p.wait(60)
        except subprocess.TimeoutExpired:
            p.kill()
    run = load_loop.merge(st, out["workers"])
    run.update(begin=out["begin"], end=out["end"], settle=out["settle"],
               sent_total=sched.sends(), procs=len(out["workers"]))
    return run


_SAMPLE = json.dumps({"type": "presence", "session_id": "s" * 32, "peers": [{
    "cursor": {"path": "src/module_01.py", "selections": [
        {"anchor": {"line": 120, "character": 8}, "active": {"line": 120, "character": 8}}]},
    "sent_at": 1795641768.4697917, "user_id": "lbabcd00012"}]}, separators=(",", ":")).encode()


def calibrate() -> float:
    """Microseconds one json.loads of a typical presence frame takes on this core now.

    A yardstick for the machine at the time of the run: on a shared machine it
    shows how much other work slowed this core down (about 3 us when idle).
    """
    rounds = []
    for _ in range(7):
        t = time.perf_counter()
        for _ in range(1000):
            json.loads(_SAMPLE)
        rounds.append((time.perf_counter() - t) / 1000)
    return round(sorted(rounds)[3] * 1e6, 2)  # the median round


def run_once(cfg: Config, log: Any) -> dict[str, Any]:
    st = Stats()
    if cfg.relay_url:
        m = re.match(r"wss?://([^:/]+):(\d+)", cfg.relay_url)
        if not m:
            raise BenchError(f"bad relay url {cfg.relay_url!r}")
        relay = Relay(m.group(1), int(m.group(2)), pid=cfg.relay_pid)
    else:
        relay = Relay.start(cfg.relay_core, cfg.relay_args, cfg.nice, cfg.rt,
                            checkout=Path(cfg.relay_checkout) if cfg.relay_checkout else None)
        log(f"relay pid {relay.pid} on ws://{relay.host}:{relay.port}, core {cfg.relay_core}")
    rproc = psutil.Process(relay.pid) if relay.pid else None
    sessions: list[list[Client]] = []
    try:
        sessions = setup(cfg, [relay], st, log)
        watched = [Watched("relay", relay.pid)] if relay.pid else []
        result = measure(cfg, st, sessions, watched, log, relay.pid)
        rss_end = round(rproc.memory_info().rss / 2**20, 1) if rproc else None
        peak = peak_rss_mb(relay.pid) if relay.pid else None
        result["relay"].update(peak_rss_mb=peak, rss_end_mb=rss_end)
        if cfg.profile:
            result["profile"] = {"file": cfg.profile, "top": profile_top(cfg.profile)}
        return result
    finally:
        close_all(sessions)
        relay.stop()


def close_all(sessions: list[list[Client]]) -> None:
    for s in sessions:
        for c in s:
            c.conn.close()


def measure(cfg: Config, st: Stats, sessions: list[list[Client]], watched: list[Watched],
            log: Any, profile_pid: int | None = None) -> dict[str, Any]:
    """The measured run on clients already set up, and its figures (report.summarize)."""
    load_before = os.getloadavg()
    speed = calibrate()
    log(f"sending: {cfg.sessions * cfg.clients} clients x {cfg.hz:g} Hz, "
        f"warmup {cfg.warmup:g}s, measured {cfg.duration:g}s")
    run = run_load(cfg, st, sessions, watched, profile_pid)
    result = summarize(cfg, st, run)
    result["conditions"]["loadavg_before"] = [round(x, 2) for x in load_before]
    result["conditions"]["json_loads_us"] = speed
    result["conditions"]["loadavg_after"] = [round(x, 2) for x in os.getloadavg()]
    if cfg.relay_checkout:
        result["conditions"]["relay_checkout"] = checkout_name(cfg.relay_checkout)
    return result


def checkout_name(path: str) -> str:
    """``path`` and the commit checked out there."""
    head = subprocess.run(["git", "-C", path, "rev-parse", "--short", "HEAD"],
                          capture_output=True, text=True, check=False).stdout.strip()
    return f"{path} at {head}" if head else path


def load_args(ap: argparse.ArgumentParser) -> None:
    """The flags of the load itself, shared by this benchmark and the cluster one."""
    ap.add_argument("--sessions", type=int, default=10, help="R: sessions")
    ap.add_argument("--clients", type=int, default=10, help="C: clients per session")
    ap.add_argument("--hz", type=float, default=20.0, help="H: cursor updates per client per s")
    ap.add_argument("--duration", type=float, default=15.0, help="measured seconds")
    ap.add_argument("--warmup", type=float, default=3.0, help="seconds sent before measuring")
    ap.add_argument("--settle", type=float, default=5.0,
                    help="seconds allowed after the last send for every client to converge")
    ap.add_argument("--sweep", default=None,
                    help="comma list of session counts, one fresh relay and run each")
    ap.add_argument("--repeat", type=int, default=1,
                    help="runs of each load (a fresh relay each time)")
    ap.add_argument("--json", action="store_true", help="print JSON on stdout instead of tables")
    ap.add_argument("--gen-cores", default=None,
                    help="cores of the generator's worker processes, e.g. 1-7 or 1,2,3")
    ap.add_argument("--procs", type=int, default=0,
                    help="generator worker processes (default: one per generator core)")
    ap.add_argument("--presence", type=int, choices=(1, 2), default=2,
                    help="presence encoding the clients ask for: 2 compact (as the daemon "
                         "does), 1 the named form (clients from before encoding 2)")
    ap.add_argument("--no-pin", action="store_true", help="pin no process")
    ap.add_argument("--relay-arg", action="append", default=[],
                    help="extra ensemble-relay argument (repeat): --relay-arg=--rate-burst=200")
    ap.add_argument("--batch", type=int, default=50, help="connections set up per batch")
    ap.add_argument("--heartbeat", type=float, default=0.0,
                    help="seconds between heartbeats of every client (0: none; cursor "
                         "traffic keeps presence alive)")
    ap.add_argument("--phases", choices=("both", "even", "random"), default="both",
                    help="send slots of the clients in the period: even (a session's clients "
                         "exactly 1/(H*C) s apart), random (drawn per client, as independent "
                         "editors; kinder to a batching relay), or both, one after the other")
    ap.add_argument("--seed", type=int, default=1, help="seed of the random send slots")
    ap.add_argument("--strict", action="store_true", help="exit 2 when a run fails the target")


def load_config(a: argparse.Namespace, **more: Any) -> Config:
    return Config(
        sessions=a.sessions, clients=a.clients, hz=a.hz, duration=a.duration,
        warmup=a.warmup, settle=a.settle, procs=a.procs, presence=a.presence,
        relay_args=[*DEFAULT_RELAY_ARGS, *a.relay_arg], batch=a.batch,
        heartbeat=a.heartbeat, phases=a.phases, seed=a.seed, **more,
    )


def parse_args(argv: list[str] | None) -> tuple[Config, argparse.Namespace]:
    ap = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0],
                                 formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    load_args(ap)
    ap.add_argument("--relay-core", type=int, default=0, help="core the relay is pinned to")
    ap.add_argument("--gen-core", type=int, default=1,
                    help="core the generator is pinned to (with --gen-cores: its setup; "
                         "without: its only core)")
    ap.add_argument("--rt", action="store_true",
                    help="run the relay and the generator as real-time (SCHED_RR 1) tasks, ahead "
                         "of all other work (needs root; short runs only on a shared machine)")
    ap.add_argument("--nice", type=int, default=0,
                    help="scheduling niceness of the relay and the generator (negative: ahead "
                         "of other work on a shared machine; needs root)")
    ap.add_argument("--relay-url", default=None,
                    help="use a running relay (ws://host:port) instead of starting one")
    ap.add_argument("--relay-pid", type=int, default=None,
                    help="that relay's pid, for its CPU and memory figures")
    ap.add_argument("--relay-checkout", default=None,
                    help="start the relay of this checkout of the repository (e.g. a git "
                         "worktree of an older commit) instead of this one's: A/B runs with "
                         "the same generator")
    ap.add_argument("--profile", default=None,
                    help="record the relay with py-spy during the window into this raw file")
    ap.add_argument("--profile-rate", type=int, default=250, help="py-spy samples per second")
    ap.add_argument("--chat-every", type=float, default=0.0,
                    help="also send one chat message per session every this many seconds "
                         "(0: none)")
    a = ap.parse_args(argv)
    cfg = load_config(
        a, relay_core=None if a.no_pin else a.relay_core, nice=a.nice, rt=a.rt,
        gen_core=None if a.no_pin else a.gen_core,
        gen_cores=None if a.no_pin else cores(a.gen_cores) if a.gen_cores else [a.gen_core],
        relay_url=a.relay_url, relay_pid=a.relay_pid, relay_checkout=a.relay_checkout,
        profile=a.profile,
        profile_rate=a.profile_rate, chat_every=a.chat_every)
    return cfg, a


def cores(spec: str) -> list[int]:
    """``1-3,5`` -> [1, 2, 3, 5]"""
    out: list[int] = []
    for part in spec.split(","):
        lo, _, hi = part.partition("-")
        out += range(int(lo), int(hi or lo) + 1)
    return out


def loads(a: argparse.Namespace, cfg: Config) -> list[tuple[int, str]]:
    """(sessions, send slots) of every run, in order: the sweep, each repeated, each phase."""
    counts = [int(x) for x in a.sweep.split(",")] if a.sweep else [cfg.sessions]
    phases = ["even", "random"] if cfg.phases == "both" else [cfg.phases]
    return [(r, ph) for r in counts for _ in range(max(1, a.repeat)) for ph in phases]


def prepare(cfg: Config, clients: int) -> None:
    """Pin this (the setup) process, set its priority, allow ``clients`` open sockets."""
    if cfg.clients < 2:
        raise SystemExit("--clients must be at least 2: a cursor needs a peer to see it")
    if cfg.gen_core is not None:
        try:
            os.sched_setaffinity(0, {cfg.gen_core})
        except OSError as exc:
            print(f"cannot pin the generator to core {cfg.gen_core}: {exc}", file=sys.stderr)
    if cfg.nice:
        try:
            os.setpriority(os.PRIO_PROCESS, 0, cfg.nice)
            # With autogroup scheduling, niceness only ranks processes inside their
            # group; the group's own niceness ranks it against other sessions' work.
            if os.path.exists("/proc/self/autogroup"):
                Path("/proc/self/autogroup").write_text(str(cfg.nice))
        except OSError as exc:
            raise SystemExit(f"cannot set niceness {cfg.nice}: {exc}") from exc
    if cfg.rt:
        try:
            os.sched_setscheduler(0, os.SCHED_RR, os.sched_param(1))
        except OSError as exc:
            raise SystemExit(f"cannot become a real-time task: {exc}") from exc
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    need = clients + 256
    if soft < need:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(max(need, soft), hard), hard))


def main(argv: list[str] | None = None) -> int:
    cfg, a = parse_args(argv)
    runs = loads(a, cfg)
    prepare(cfg, max(r for r, _ in runs) * cfg.clients)

    def log(msg: str) -> None:
        print(f"[cursor_load] {msg}", file=sys.stderr, flush=True)

    results = []
    for r, phase in runs:
        try:
            res = run_once(replace(cfg, sessions=r, phases=phase), log)
        except (BenchError, WsError, OSError) as exc:
            log(f"run with {r} sessions failed: {exc}")
            return 1
        results.append(res)
        if not a.json:
            print(table(res), flush=True)
            print(flush=True)
    if a.json:
        print(json.dumps(results if len(results) > 1 else results[0], indent=2))
    elif len(results) > 1:
        print(sweep_table(results))
    if a.strict and not all(r["pass"] for r in results):
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
