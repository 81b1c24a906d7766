"""Cursor load benchmark: R sessions x C clients sending cursor updates at H Hz.

Starts the real relay pinned to one core (``taskset -c 0``), pins itself to the
other, signs up R*C users, creates R sessions with C participants each, then
every client sends cursor updates at H Hz for warmup + duration seconds through
its own WebSocket connection. Every cursor carries its send time in ``sent_at``
(one monotonic clock: this process's ``perf_counter`` shifted once onto UNIX
seconds) and a counter in the caret's line, so each receiver knows how late
every peer update is and whether it ends on each peer's latest cursor.
bench/README.md says what each printed figure means.

    python bench/cursor_load.py                      # 10 x 10 x 20 Hz
    python bench/cursor_load.py --sessions 60        # the target: 600 clients
    python bench/cursor_load.py --sweep 10,60,90,120 --json
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import resource
import select
import shutil
import subprocess
import sys
import tempfile
import time
from array import array
from collections import Counter
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent))
from lean_ws import WsConn, WsError

REPO = Path(__file__).resolve().parent.parent
PROTOCOL_VERSION = 1
# Test-only relay options: cheap password hashing keeps the sign-ups short.
DEFAULT_RELAY_ARGS = ["--bcrypt-rounds", "4"]

_perf = time.perf_counter
_OFFSET = time.time() - _perf()


def clock() -> float:
    """Monotonic seconds on the UNIX epoch scale, shared by senders and receivers."""
    return _perf() + _OFFSET


INF = float("inf")
_loads = json.loads
_dumps = json.dumps
# Presence frames are read without building JSON objects when every peer entry has
# exactly one user id, one caret and one send time; any other frame is parsed fully.
_PRESENCE = b'"type":"presence"'
_RX_UID = re.compile(rb'"user_id":"([^"\\]*)"')
_RX_LINE = re.compile(rb'"active":\{"line":(\d+)')
_RX_SENT = re.compile(rb'"sent_at":([-0-9.eE+]+)')


class BenchError(Exception):
    """the benchmark could not set up or run."""


# ---------------------------------------------------------------------------
# Figures collected while running


class Stats:
    """Counters shared by every client (one process, one thread)."""

    def __init__(self) -> None:
        self.ws = INF  # measured window start (clock)
        self.we = INF  # measured window end
        self.sent = 0  # cursor updates sent inside the window
        self.delivered = 0  # peer cursor updates received that were sent in the window
        self.presence_frames_win = 0  # presence frames received during the window
        self.peer_updates_win = 0  # peer entries received during the window
        self.slow_frames = 0  # presence frames that needed a full JSON parse
        self.latencies = array("d")
        self.send_lag = array("d")
        self.echoes = 0
        self.reorders = 0
        self.duplicates = 0
        self.errors: Counter[str] = Counter()
        self.other: Counter[str] = Counter()


STATS = Stats()


class Client:
    """One participant: one relay connection; sends its cursor and tracks its peers'."""

    def __init__(self, index: int, username: str) -> None:
        self.index = index
        self.username = username
        self.user_id = username
        self.uid_b = username.encode()
        self.token = ""
        self.conn = WsConn(self.on_message)
        self.session_id = ""
        self.peers: list[Client] = []
        self.last: dict[bytes, int] = {}  # peer user id -> last caret line seen
        self.line = -1  # last caret line sent
        self.tmpl = b""
        self.inbox: list[dict[str, Any]] = []  # replies and notices (not presence)
        self.next_rid = 0

    # -- receiving (the hot path) ---------------------------------------------

    def on_message(self, payload: bytes, now: float) -> None:
        if _PRESENCE in payload:
            uids = _RX_UID.findall(payload)
            lines = _RX_LINE.findall(payload)
            sents = _RX_SENT.findall(payload)
            n = len(uids)
            if n == len(lines) == len(sents) == payload.count(b'"user_id"') and n:
                self._peers(zip(uids, map(int, lines), map(float, sents), strict=True),
                            n, now)
                return
            d = _loads(payload)
            if d.get("type") == "presence":
                STATS.slow_frames += 1
                self._peers(self._slow_peers(d["peers"]), len(d["peers"]), now)
                return
        else:
            d = _loads(payload)
        kind = d.get("type")
        if kind == "error" and "rid" not in d:
            STATS.errors[str(d.get("code"))] += 1
        self.inbox.append(d)

    @staticmethod
    def _slow_peers(peers: list[dict[str, Any]]) -> list[tuple[bytes, int, float]]:
        out = []
        for p in peers:
            c = p.get("cursor")
            if c is None:
                continue
            sent_at = p.get("sent_at")
            out.append((p["user_id"].encode(), c["selections"][0]["active"]["line"],
                        -1.0 if sent_at is None else float(sent_at)))
        return out

    def _peers(self, entries: Any, n: int, now: float) -> None:
        st = STATS
        ws, we = st.ws, st.we
        if ws <= now < we:
            st.presence_frames_win += 1
            st.peer_updates_win += n
        last = self.last
        me = self.uid_b
        lat_append = st.latencies.append
        delivered = 0
        for uid, line, sent_at in entries:
            if uid == me:
                st.echoes += 1
                continue
            prev = last.get(uid, -1)
            if line <= prev:
                if line == prev:
                    st.duplicates += 1
                else:
                    st.reorders += 1
            last[uid] = line
            if ws <= sent_at < we:
                delivered += 1
                lat_append(now - sent_at)
        st.delivered += delivered

    # -- requests during setup (blocking) --------------------------------------

    def send(self, msg: dict[str, Any]) -> str:
        self.next_rid += 1
        rid = msg["rid"] = f"r{self.next_rid}"
        self.conn.send_text(_dumps(msg).encode())
        return rid

    def reply(self, rid: str, timeout: float = 60.0) -> dict[str, Any]:
        found: list[dict[str, Any]] = []

        def done() -> bool:
            for i, d in enumerate(self.inbox):
                if d.get("rid") == rid:
                    found.append(self.inbox.pop(i))
                    return True
            return False

        self.conn.pump(done, timeout)
        d = found[0]
        if d.get("type") == "error":
            raise BenchError(f"request refused for {self.username}: {d.get('code')}: "
                             f"{d.get('message')}")
        return d

    def request(self, msg: dict[str, Any]) -> dict[str, Any]:
        return self.reply(self.send(msg))

    def drain_inbox(self) -> None:
        for d in self.inbox:
            STATS.other[str(d.get("type"))] += 1
        self.inbox.clear()

    # -- sending ---------------------------------------------------------------

    def prepare_cursor(self) -> None:
        path = f"src/module_{self.index % 50:02d}.py"
        head = _dumps({"type": "cursor", "session_id": self.session_id, "path": path})[:-1]
        sel = (',"selections":[{"anchor":{"line":%d,"character":%d},'
               '"active":{"line":%d,"character":%d}}],"sent_at":%.6f}')
        self.tmpl = (head + sel).encode()

    def send_cursor(self, sent_at: float) -> None:
        self.line = line = self.line + 1
        ch = line % 80
        self.conn.send_text(self.tmpl % (line, ch, line, ch, sent_at))


# ---------------------------------------------------------------------------
# The relay under test


@dataclass
class Relay:
    host: str
    port: int
    proc: subprocess.Popen[bytes] | None = None
    pid: int | None = None
    data_dir: str | None = None

    @classmethod
    def start(cls, core: int | None, extra: list[str], timeout: float = 60.0) -> Relay:
        data_dir = tempfile.mkdtemp(prefix="ensemble-bench-")
        log_path = os.path.join(data_dir, "relay.log")
        cmd = [sys.executable, "-m", "relay", "--host", "127.0.0.1", "--port", "0",
               "--data-dir", os.path.join(data_dir, "data"), "--dev", *extra]
        if core is not None:
            cmd = ["taskset", "-c", str(core), *cmd]
        with open(log_path, "wb") as log:
            proc = subprocess.Popen(cmd, cwd=REPO, stdout=log, stderr=subprocess.STDOUT)
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


def peak_rss_mb(pid: int) -> float | None:
    """VmHWM: the relay's peak resident set since it started."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        return None
    return None


# ---------------------------------------------------------------------------
# Setup (before the measured window): requests are pipelined in batches


@dataclass
class Config:
    sessions: int = 10
    clients: int = 10
    hz: float = 20.0
    duration: float = 15.0
    warmup: float = 3.0
    settle: float = 5.0
    relay_core: int | None = 0
    gen_core: int | None = 1
    relay_args: list[str] = field(default_factory=list)
    relay_url: str | None = None
    relay_pid: int | None = None
    batch: int = 50
    heartbeat: float = 0.0
    profile: str | None = None
    profile_rate: int = 250


def chunks(items: list[Any], n: int) -> list[list[Any]]:
    return [items[i:i + n] for i in range(0, len(items), n)]


def hello(c: Client) -> str:
    return c.send({"type": "hello", "protocol": PROTOCOL_VERSION, "client": "cursor_load"})


def setup(cfg: Config, relay: Relay, log: Any) -> list[list[Client]]:
    tag = "".join(random.choices("abcdefghjkmnpqrstuvwxyz", k=4))
    password = f"bench-password-{tag}-0123456789"
    n = cfg.sessions * cfg.clients
    clients = [Client(i, f"lb{tag}{i:05d}") for i in range(n)]
    t = time.monotonic()
    for group in chunks(clients, cfg.batch):
        rids = []
        for c in group:
            c.conn.connect(relay.host, relay.port, "/auth", {})
            rids.append((hello(c), c.send({"type": "sign_up", "username": c.username,
                                            "password": password})))
        for c, (h, s) in zip(group, rids, strict=True):
            c.reply(h)
            ok = c.reply(s)
            c.token = ok["token"]
            c.user_id = ok.get("user", {}).get("id", c.username)
            c.uid_b = c.user_id.encode()
            c.conn.close()
            c.conn = WsConn(c.on_message)
            c.inbox.clear()
    log(f"signed up {n} users in {time.monotonic() - t:.1f}s")
    t = time.monotonic()
    for group in chunks(clients, cfg.batch):
        rids = []
        for c in group:
            c.conn.connect(relay.host, relay.port, "/ws", {"Authorization": f"Bearer {c.token}"})
            rids.append(hello(c))
        for c, h in zip(group, rids, strict=True):
            c.reply(h)
    log(f"opened {n} connections in {time.monotonic() - t:.1f}s")
    t = time.monotonic()
    sessions = chunks(clients, cfg.clients)
    for r, members in enumerate(sessions):
        host = members[0]
        state = host.request({"type": "session_create", "name": f"bench {r}",
                              "repo": {"name": "bench", "remote": f"example.org/bench/{r}"}})
        sid = host.session_id = state["session"]["session_id"]
        inv = host.request({"type": "invite_create", "session_id": sid, "role": "editor"})
        token = inv["invite"]["token"]
        rids = [(m, m.send({"type": "session_join", "invite": token})) for m in members[1:]]
        for m, rid in rids:
            m.reply(rid)
            m.session_id = sid
        for m in members:
            m.peers = [p for p in members if p is not m]
            m.prepare_cursor()
    log(f"created {cfg.sessions} sessions of {cfg.clients} in {time.monotonic() - t:.1f}s")
    return sessions


# ---------------------------------------------------------------------------
# The measured run: one epoll loop sends on schedule and reads every socket


def snapshot(rproc: psutil.Process | None) -> dict[str, Any]:
    return {
        "wall": clock(),
        "relay_cpu": rproc.cpu_times() if rproc else None,
        "gen_cpu": resource.getrusage(resource.RUSAGE_SELF),
        "cores": psutil.cpu_times(percpu=True),
    }


def convergence(sessions: list[list[Client]]) -> tuple[int, int, int, int]:
    """(receivers converged, receivers, peer cursors converged, peer cursors)."""
    rc = rn = pc = pn = 0
    for members in sessions:
        for m in members:
            last = m.last
            ok = True
            for p in m.peers:
                pn += 1
                if last.get(p.uid_b) == p.line:
                    pc += 1
                else:
                    ok = False
            rn += 1
            rc += ok
    return rc, rn, pc, pn


def run_load(cfg: Config, sessions: list[list[Client]], rproc: psutil.Process | None,
             relay_pid: int | None) -> dict[str, Any]:
    st = STATS
    # Interleave the sessions so that consecutive sends come from different sessions.
    order = [sessions[r][i] for i in range(cfg.clients) for r in range(cfg.sessions)]
    ep = select.epoll()
    conns: dict[int, WsConn] = {}
    IN, OUT = select.EPOLLIN, select.EPOLLOUT

    def want_write(conn: WsConn, on: bool) -> None:
        if conn.sock is not None:
            ep.modify(conn.sock.fileno(), IN | OUT if on else IN)

    for c in order:
        c.drain_inbox()
        c.conn.set_nonblocking()
        c.conn.want_write = want_write
        assert c.conn.sock is not None
        conns[c.conn.sock.fileno()] = c.conn
        ep.register(c.conn.sock.fileno(), IN)
    n = len(order)
    interval = 1.0 / cfg.hz / n
    hb_every = int(cfg.heartbeat * cfg.hz * n) if cfg.heartbeat > 0 else 0
    heartbeat = b'{"type":"heartbeat"}'
    lag_append = st.send_lag.append
    t0 = clock() + 0.1
    st.ws = ws = t0 + cfg.warmup
    st.we = we = ws + cfg.duration
    settle_end = we + cfg.settle
    begin: dict[str, Any] | None = None
    end: dict[str, Any] | None = None
    profiler: subprocess.Popen[bytes] | None = None
    frames_win = updates_win = 0
    conv = (0, 1, 0, 1)
    next_check = we
    closed = 0
    k = 0
    poll = ep.poll
    while True:
        now = clock()
        if end is None:
            due = t0 + k * interval
            while due <= now and due < we:
                t = clock()
                order[k % n].send_cursor(t)
                if ws <= t < we:
                    st.sent += 1
                    lag_append(t - due)
                k += 1
                if hb_every and k % hb_every == 0:
                    for h in order:
                        h.conn.send_text(heartbeat)
                due = t0 + k * interval
            if begin is None and now >= ws:
                begin = snapshot(rproc)
                if cfg.profile and relay_pid:
                    profiler = start_profiler(cfg, relay_pid)
            if due >= we:
                end = snapshot(rproc)
                frames_win, updates_win = st.presence_frames_win, st.peer_updates_win
            timeout = max(0.0, min(due, we) - clock())
        else:
            if now >= next_check:
                conv = convergence(sessions)
                if conv[0] == conv[1] or now >= settle_end:
                    break
                next_check = now + 0.01
            timeout = max(0.0, next_check - now)
        for fd, ev in poll(timeout):
            conn = conns[fd]
            if ev & OUT:
                conn.flush()
            if ev & ~OUT and not conn.read(clock()):
                ep.unregister(fd)
                closed += 1
    settle_time = clock() - we
    if profiler is not None:
        try:
            profiler.wait(60)
        except subprocess.TimeoutExpired:
            profiler.kill()
    ep.close()
    assert begin is not None and end is not None
    return {"begin": begin, "end": end, "conv": conv, "settle": settle_time,
            "frames_win": frames_win, "updates_win": updates_win, "closed": closed,
            "sent_total": k}


def run_once(cfg: Config, log: Any) -> dict[str, Any]:
    global STATS
    STATS = st = Stats()
    if cfg.relay_url:
        m = re.match(r"wss?://([^:/]+):(\d+)", cfg.relay_url)
        if not m:
            raise BenchError(f"bad relay url {cfg.relay_url!r}")
        relay = Relay(m.group(1), int(m.group(2)), pid=cfg.relay_pid)
    else:
        relay = Relay.start(cfg.relay_core, cfg.relay_args)
        log(f"relay pid {relay.pid} on ws://{relay.host}:{relay.port}, core {cfg.relay_core}")
    rproc = psutil.Process(relay.pid) if relay.pid else None
    sessions: list[list[Client]] = []
    try:
        sessions = setup(cfg, relay, log)
        load_before = os.getloadavg()
        log(f"sending: {cfg.sessions * cfg.clients} clients x {cfg.hz:g} Hz, "
            f"warmup {cfg.warmup:g}s, measured {cfg.duration:g}s")
        run = run_load(cfg, sessions, rproc, relay.pid)
        rss_end = round(rproc.memory_info().rss / 2**20, 1) if rproc else None
        peak = peak_rss_mb(relay.pid) if relay.pid else None
        result = summarize(cfg, st, run)
        result["relay"].update(peak_rss_mb=peak, rss_end_mb=rss_end)
        result["conditions"]["loadavg_before"] = [round(x, 2) for x in load_before]
        result["conditions"]["loadavg_after"] = [round(x, 2) for x in os.getloadavg()]
        if cfg.profile:
            result["profile"] = {"file": cfg.profile, "top": profile_top(cfg.profile)}
        return result
    finally:
        for s in sessions:
            for c in s:
                c.conn.close()
        relay.stop()


# ---------------------------------------------------------------------------
# Profiling the relay (py-spy, sampling without pausing it)


def start_profiler(cfg: Config, pid: int) -> subprocess.Popen[bytes]:
    spy = shutil.which("py-spy") or os.path.join(os.path.dirname(sys.executable), "py-spy")
    assert cfg.profile is not None
    cmd = [spy, "record", "--pid", str(pid), "--rate", str(cfg.profile_rate),
           "--duration", str(max(1, int(cfg.duration))), "--nonblocking",
           "--format", "raw", "--output", cfg.profile]
    if cfg.gen_core is not None:
        cmd = ["taskset", "-c", str(cfg.gen_core), *cmd]
    return subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def profile_top(path: str, n: int = 20) -> dict[str, list[tuple[str, float]]]:
    """Self and inclusive share of samples per function, from a py-spy raw file."""
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


# ---------------------------------------------------------------------------
# Figures and output


def cpu_busy(before: Any, after: Any) -> list[float]:
    """Per-core busy fraction between two psutil.cpu_times(percpu=True) samples."""
    out = []
    for a, b in zip(before, after, strict=True):
        total = sum(b) - sum(a)
        idle = (b.idle + b.iowait) - (a.idle + a.iowait)
        out.append(0.0 if total <= 0 else 1.0 - idle / total)
    return out


def percentile(sorted_vals: list[float], q: float) -> float | None:
    if not sorted_vals:
        return None
    return sorted_vals[min(len(sorted_vals) - 1, max(0, round(q * (len(sorted_vals) - 1))))]


def summarize(cfg: Config, st: Stats, run: dict[str, Any]) -> dict[str, Any]:
    begin, end, conv = run["begin"], run["end"], run["conv"]
    wall = end["wall"] - begin["wall"]
    lat = sorted(st.latencies)
    lag = sorted(st.send_lag)

    def ms(v: float | None) -> float | None:
        return None if v is None else round(v * 1000, 3)

    expected = st.sent * (cfg.clients - 1)
    rcpu = None
    if begin["relay_cpu"] is not None:
        a, b = begin["relay_cpu"], end["relay_cpu"]
        rcpu = ((b.user - a.user) + (b.system - a.system)) / wall
    ga, gb = begin["gen_cpu"], end["gen_cpu"]
    gcpu = ((gb.ru_utime - ga.ru_utime) + (gb.ru_stime - ga.ru_stime)) / wall
    lag_p99 = percentile(lag, 0.99)
    saturated = gcpu > 0.9 or (lag_p99 is not None and lag_p99 > 0.005)
    p99 = percentile(lat, 0.99)
    converged = conv[0] == conv[1]
    frames, updates = run["frames_win"], run["updates_win"]
    return {
        "config": {
            "sessions": cfg.sessions, "clients_per_session": cfg.clients, "hz": cfg.hz,
            "clients": cfg.sessions * cfg.clients, "duration_s": cfg.duration,
            "warmup_s": cfg.warmup, "relay_core": cfg.relay_core, "gen_core": cfg.gen_core,
            "relay_args": cfg.relay_args,
        },
        "sent": st.sent,
        "expected_deliveries": expected,
        "delivered": st.delivered,
        "loss_pct": round(100 * (1 - st.delivered / expected), 3) if expected else None,
        "convergence": {
            "receivers_converged": conv[0], "receivers": conv[1],
            "peer_cursors_converged": conv[2], "peer_cursors": conv[3],
            "all_converged": converged, "settle_ms": round(run["settle"] * 1000, 1),
        },
        "latency_ms": {
            "count": len(lat), "p50": ms(percentile(lat, 0.5)),
            "p90": ms(percentile(lat, 0.9)), "p99": ms(p99),
            "p999": ms(percentile(lat, 0.999)), "max": ms(lat[-1] if lat else None),
        },
        "rates": {
            "in_msgs_per_s": round(st.sent / wall, 1),
            "out_peer_updates_per_s": round(updates / wall, 1),
            "out_frames_per_s": round(frames / wall, 1),
            "peers_per_frame": round(updates / frames, 2) if frames else None,
        },
        "relay": {"cpu_pct": None if rcpu is None else round(100 * rcpu, 1)},
        "generator": {
            "cpu_pct": round(100 * gcpu, 1), "send_lag_p99_ms": ms(lag_p99),
            "send_lag_max_ms": ms(lag[-1] if lag else None), "saturated": saturated,
            "slow_path_frames": st.slow_frames,
        },
        "errors": {"by_code": dict(st.errors), "echoes": st.echoes, "reorders": st.reorders,
                   "duplicates": st.duplicates, "connections_closed": run["closed"]},
        "other_frames": dict(st.other),
        "conditions": {
            "core_busy_pct": [round(100 * x, 1) for x in cpu_busy(begin["cores"], end["cores"])],
            "wall_s": round(wall, 3),
        },
        "pass": bool(p99 is not None and p99 < 0.010 and converged and not st.echoes
                     and not run["closed"]),
    }


def fmt(v: Any, unit: str = "") -> str:
    if v is None:
        return "n/a"
    if isinstance(v, float):
        return f"{v:,.2f}{unit}"
    if isinstance(v, int):
        return f"{v:,}{unit}"
    return f"{v}{unit}"


def table(r: dict[str, Any]) -> str:
    c, lat, rates, conv = r["config"], r["latency_ms"], r["rates"], r["convergence"]
    gen, rel, err, cond = r["generator"], r["relay"], r["errors"], r["conditions"]
    rows = [
        ("load", f"{c['sessions']} sessions x {c['clients_per_session']} clients x "
                 f"{c['hz']:g} Hz = {c['clients']} clients, {c['duration_s']:g}s measured"),
        ("sent (cursor updates)", fmt(r["sent"])),
        ("delivered (peer updates)",
         f"{fmt(r['delivered'])} of {fmt(r['expected_deliveries'])} expected"),
        ("loss (coalesced or dropped)", fmt(r["loss_pct"], " %")),
        ("converged receivers",
         f"{conv['receivers_converged']}/{conv['receivers']} ({conv['peer_cursors_converged']}/"
         f"{conv['peer_cursors']} peer cursors), {conv['settle_ms']:g} ms after the last send"),
        ("fan-out latency p50", fmt(lat["p50"], " ms")),
        ("fan-out latency p90", fmt(lat["p90"], " ms")),
        ("fan-out latency p99", fmt(lat["p99"], " ms")),
        ("fan-out latency p99.9", fmt(lat["p999"], " ms")),
        ("fan-out latency max", fmt(lat["max"], " ms")),
        ("msgs/s in (cursor updates)", fmt(rates["in_msgs_per_s"])),
        ("peer updates/s out", fmt(rates["out_peer_updates_per_s"])),
        ("frames/s out", f"{fmt(rates['out_frames_per_s'])} "
                         f"({fmt(rates['peers_per_frame'])} peers per frame)"),
        ("relay CPU", fmt(rel["cpu_pct"], " % of one core")),
        ("relay peak RSS", fmt(rel.get("peak_rss_mb"), " MB")),
        ("generator CPU", fmt(gen["cpu_pct"], " % of one core")
         + ("  SATURATED: latency figures are upper bounds" if gen["saturated"] else "")),
        ("generator send lag p99 / max",
         f"{fmt(gen['send_lag_p99_ms'])} / {fmt(gen['send_lag_max_ms'])} ms"),
        ("errors", f"{err['by_code'] or 'none'}; echoes {err['echoes']}, reorders "
                   f"{err['reorders']}, duplicates {err['duplicates']}, "
                   f"connections closed {err['connections_closed']}"),
        ("cores busy, all processes", " / ".join(f"{b:g}%" for b in cond["core_busy_pct"])),
        ("load average before / after",
         f"{cond.get('loadavg_before')} / {cond.get('loadavg_after')}"),
        ("verdict (p99 < 10 ms, all converged)", "PASS" if r["pass"] else "FAIL"),
    ]
    width = max(len(k) for k, _ in rows)
    out = [f"{k:<{width}}  {v}" for k, v in rows]
    if "profile" in r:
        out.append(f"relay profile ({r['profile']['file']}), share of samples, self:")
        out += [f"  {pct:5.1f}%  {f}" for f, pct in r["profile"]["top"]["self"]]
    return "\n".join(out)


def sweep_table(results: list[dict[str, Any]]) -> str:
    lines = [f"{'sessions':>8} {'clients':>7} {'hz':>4} {'p50 ms':>8} {'p99 ms':>8} "
             f"{'max ms':>8} {'loss %':>7} {'converged':>9} {'relay %':>8} {'gen %':>6}  verdict"]
    for r in results:
        c, lat, cv = r["config"], r["latency_ms"], r["convergence"]
        sat = " (generator saturated)" if r["generator"]["saturated"] else ""
        lines.append(
            f"{c['sessions']:>8} {c['clients']:>7} {c['hz']:>4g} {fmt(lat['p50']):>8} "
            f"{fmt(lat['p99']):>8} {fmt(lat['max']):>8} {fmt(r['loss_pct']):>7} "
            f"{cv['receivers_converged']:>4}/{cv['receivers']:<4} "
            f"{fmt(r['relay']['cpu_pct']):>8} {fmt(r['generator']['cpu_pct']):>6}  "
            f"{'PASS' if r['pass'] else 'FAIL'}{sat}")
    held = [r for r in results if r["pass"] and not r["generator"]["saturated"]]
    if held:
        c = max(held, key=lambda r: r["config"]["clients"])["config"]
        lines.append(f"largest load held with p99 < 10 ms: {c['sessions']} x "
                     f"{c['clients_per_session']} x {c['hz']:g} Hz ({c['clients']} clients)")
    else:
        lines.append("no load held p99 < 10 ms with every client converged")
    return "\n".join(lines)


def parse_args(argv: list[str] | None) -> tuple[Config, argparse.Namespace]:
    ap = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0],
                                 formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    ap.add_argument("--sessions", type=int, default=10, help="R: sessions")
    ap.add_argument("--clients", type=int, default=10, help="C: clients per session")
    ap.add_argument("--hz", type=float, default=20.0, help="H: cursor updates per client per s")
    ap.add_argument("--duration", type=float, default=15.0, help="measured seconds")
    ap.add_argument("--warmup", type=float, default=3.0, help="seconds sent before measuring")
    ap.add_argument("--settle", type=float, default=5.0,
                    help="seconds allowed after the last send for every client to converge")
    ap.add_argument("--sweep", default=None,
                    help="comma list of session counts, one fresh relay and run each")
    ap.add_argument("--json", action="store_true", help="print JSON on stdout instead of tables")
    ap.add_argument("--relay-core", type=int, default=0, help="core the relay is pinned to")
    ap.add_argument("--gen-core", type=int, default=1, help="core the generator is pinned to")
    ap.add_argument("--no-pin", action="store_true", help="pin neither process")
    ap.add_argument("--relay-arg", action="append", default=[],
                    help="extra ensemble-relay argument (repeat): --relay-arg=--rate-burst=200")
    ap.add_argument("--relay-url", default=None,
                    help="use a running relay (ws://host:port) instead of starting one")
    ap.add_argument("--relay-pid", type=int, default=None,
                    help="that relay's pid, for its CPU and memory figures")
    ap.add_argument("--batch", type=int, default=50, help="connections set up per batch")
    ap.add_argument("--heartbeat", type=float, default=0.0,
                    help="seconds between heartbeats of every client (0: none; cursor "
                         "traffic keeps presence alive)")
    ap.add_argument("--profile", default=None,
                    help="record the relay with py-spy during the window into this raw file")
    ap.add_argument("--profile-rate", type=int, default=250, help="py-spy samples per second")
    ap.add_argument("--strict", action="store_true", help="exit 2 when a run fails the target")
    a = ap.parse_args(argv)
    cfg = Config(
        sessions=a.sessions, clients=a.clients, hz=a.hz, duration=a.duration,
        warmup=a.warmup, settle=a.settle,
        relay_core=None if a.no_pin else a.relay_core,
        gen_core=None if a.no_pin else a.gen_core,
        relay_args=[*DEFAULT_RELAY_ARGS, *a.relay_arg],
        relay_url=a.relay_url, relay_pid=a.relay_pid, batch=a.batch,
        heartbeat=a.heartbeat, profile=a.profile, profile_rate=a.profile_rate,
    )
    return cfg, a


def main(argv: list[str] | None = None) -> int:
    cfg, a = parse_args(argv)
    if cfg.clients < 2:
        raise SystemExit("--clients must be at least 2: a cursor needs a peer to see it")
    if cfg.gen_core is not None:
        try:
            os.sched_setaffinity(0, {cfg.gen_core})
        except OSError as exc:
            print(f"cannot pin the generator to core {cfg.gen_core}: {exc}", file=sys.stderr)
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    need = cfg.sessions * cfg.clients + 256
    if soft < need:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(max(need, soft), hard), hard))

    def log(msg: str) -> None:
        print(f"[cursor_load] {msg}", file=sys.stderr, flush=True)

    counts = [int(x) for x in a.sweep.split(",")] if a.sweep else [cfg.sessions]
    results = []
    for r in counts:
        try:
            res = run_once(replace(cfg, sessions=r), log)
        except (BenchError, WsError, OSError) as exc:
            log(f"run with {r} sessions failed: {exc}")
            return 1
        results.append(res)
        if not a.json:
            print(table(res), flush=True)
            print(flush=True)
    if a.json:
        print(json.dumps(results if a.sweep else results[0], indent=2))
    elif a.sweep:
        print(sweep_table(results))
    if a.strict and not all(r["pass"] for r in results):
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
