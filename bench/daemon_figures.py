"""Daemon figures: start-to-initialized, RSS idle and with 1,000 threads,
editor-event-to-wire latency, CPU at 20 cursor updates per second.

Starts a real relay (tests/relayproc.py) and real daemon processes driven over
stdio by pygls's LanguageClient (tests/daemon/daemon_harness.py); a plain
WebSocket client (tests/helpers.py) is the peer that watches the wire.

    .venv/bin/python bench/daemon_figures.py [--starts 10] [--threads 1000] [--cpu-seconds 10]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests" / "daemon")]

import psutil  # noqa: E402
from daemon_harness import DaemonClient  # noqa: E402

from tests.helpers import WireClient, new_id, sign_up  # noqa: E402
from tests.relayproc import RelayProcess  # noqa: E402
from wire import (  # noqa: E402
    Ack,
    Anchor,
    Error,
    PresenceUpdate,
    ThreadCreate,
)

FILE_LINES = [f"def f{i}(x):\n    return x + {i}\n" for i in range(600)]


def rss_mib(pid: int) -> float:
    return psutil.Process(pid).memory_info().rss / 2**20


async def start_times(relay: RelayProcess, tmp: Path, n: int) -> tuple[list[float], list[float]]:
    wall, cpu = [], []
    for i in range(n):
        d = DaemonClient(f"s{i}", tmp / "ws", tmp / f"data-s{i}")
        await d.start(relay.url)
        assert d.init_seconds is not None and d.init_cpu is not None
        wall.append(d.init_seconds)
        cpu.append(d.init_cpu)
        await d.stop()
    return wall, cpu


async def main(args: argparse.Namespace) -> None:
    tmp = Path(tempfile.mkdtemp(prefix="daemon-bench-"))
    ws = tmp / "ws"
    ws.mkdir()
    (ws / "big.py").write_text("".join(FILE_LINES))
    # generous frame rate limits: the peer writes the 1,000 threads in bulk
    relay = RelayProcess(tmp / "relay", ("--rate-per-second", "2000", "--rate-burst", "4000",
                                         "--user-writes-per-minute", "100000"))
    relay.start()
    try:
        await run(args, relay, tmp, ws)
    finally:
        relay.stop()


async def run(args: argparse.Namespace, relay: RelayProcess, tmp: Path, ws: Path) -> None:
    starts, cpu = await start_times(relay, tmp, args.starts)
    print(f"start-to-initialized: median {statistics.median(starts) * 1000:.0f} ms, "
          f"min {min(starts) * 1000:.0f} ms, max {max(starts) * 1000:.0f} ms "
          f"({len(starts)} starts; spawn to initialize answered); daemon CPU until then: "
          f"median {statistics.median(cpu) * 1000:.0f} ms; load average "
          f"{os.getloadavg()[0]:.1f}")

    alice = DaemonClient("alice", ws, tmp / "data-alice")
    await alice.start(relay.url, native_ui=True, log_level="warning")
    pid = alice.proc.pid
    signed = await alice.request("ensemble/signUp", {"username": "alice",
                                                      "password": "correct horse 1"})
    await alice.wait_for("ensemble/didChangeConnection", lambda p: p["state"] == "online")
    view = await alice.request("ensemble/createSession", {"name": "bench"})
    sid = view["session"]["session_id"]
    invite = await alice.request("ensemble/createInvite", {})
    uri = await alice.open("big.py")
    await asyncio.sleep(2.0)  # settle before sampling memory
    idle = rss_mib(pid)
    print(f"idle RSS (signed in, in a session, one open file): {idle:.1f} MiB")

    peer = await WireClient.connect(relay.url, await sign_up(relay.url, "bob"), user_id="bob")
    await peer.join(invite=invite["token"])

    # 1,000 threads written by the peer, then a fresh daemon joins and places them
    t0 = time.perf_counter()
    all_lines = "".join(FILE_LINES).splitlines()
    pending: dict[str, ThreadCreate] = {}
    for i in range(args.threads):
        line = (i * 7) % len(all_lines)
        anchor = Anchor(path="big.py", start_line=line, end_line=line, text=[all_lines[line]],
                        before=all_lines[max(0, line - 3):line],
                        after=all_lines[line + 1:line + 4])
        msg = ThreadCreate(id=new_id(), session_id=sid, anchor=anchor,
                           text=f"thread {i}: is this right?")
        pending[msg.id] = msg
    while pending:  # send in paced batches; re-send what was refused (rate limit)
        for msg in list(pending.values())[:100]:
            await peer.send(msg)
        await peer.barrier()
        for ack in peer.take(Ack):
            pending.pop(ack.id, None)
        peer.take(Error)
    print(f"(wrote {args.threads} threads through the relay in {time.perf_counter() - t0:.1f} s)")
    await alice.stop()

    alice2 = DaemonClient("alice", ws, tmp / "data-alice")
    await alice2.start(relay.url, signed["token"], native_ui=True, log_level="warning")
    t1 = time.perf_counter()
    await alice2.wait_for("ensemble/didChangeThreads",
                          lambda p: len(p["threads"]) >= args.threads, timeout=120)
    joined = time.perf_counter() - t1
    uri = await alice2.open("big.py")
    t2 = time.perf_counter()
    listed = await alice2.request("ensemble/threads", {"uri": uri}, timeout=120)
    placed = time.perf_counter() - t2
    await asyncio.sleep(1.0)
    print(f"RSS with {len(listed['threads'])} comment threads: {rss_mib(alice2.proc.pid):.1f} MiB "
          f"(rejoin and place all: {joined:.2f} s; ensemble/threads for the file: "
          f"{placed * 1000:.0f} ms)")

    # editor event -> wire: notify at t, the peer sees the frame; the daemon's sent_at
    # (same machine clock) splits daemon time from relay time
    peer.take(PresenceUpdate)
    daemon_ms, total_ms = [], []
    for i in range(args.samples):
        sent = time.time()
        alice2.notify("ensemble/cursor", {"uri": uri, "selections": [
            {"anchor": {"line": i % 500, "character": 2}, "active": {"line": i % 500,
                                                                     "character": 2}}]})
        want = i % 500
        frame = await peer.expect(PresenceUpdate, 10, lambda f, want=want: any(
            p.cursor is not None and p.cursor.selections[0].active.line == want
            for p in f.peers))
        got = time.time()
        pres = next(p for p in frame.peers if p.cursor is not None)
        if pres.sent_at is not None:
            daemon_ms.append((pres.sent_at - sent) * 1000)
        total_ms.append((got - sent) * 1000)
        await asyncio.sleep(0.06)  # above the 20/s throttle interval: no throttling delay
    print(f"editor-event-to-wire (editor notify -> daemon sends, sent_at): "
          f"median {statistics.median(daemon_ms):.2f} ms, p95 "
          f"{sorted(daemon_ms)[int(len(daemon_ms) * 0.95)]:.2f} ms")
    print(f"editor-event-to-peer (through the relay to a WebSocket peer): median "
          f"{statistics.median(total_ms):.2f} ms, p95 "
          f"{sorted(total_ms)[int(len(total_ms) * 0.95)]:.2f} ms ({len(total_ms)} samples)")

    proc = psutil.Process(alice2.proc.pid)
    proc.cpu_percent(None)
    c0 = proc.cpu_times()
    w0 = time.perf_counter()
    i = 0
    while time.perf_counter() - w0 < args.cpu_seconds:
        alice2.notify("ensemble/cursor", {"uri": uri, "selections": [
            {"anchor": {"line": i % 500, "character": i % 9},
             "active": {"line": i % 500, "character": i % 9}}]})
        i += 1
        await asyncio.sleep(max(0.0, w0 + i / 20.0 - time.perf_counter()))
    wall = time.perf_counter() - w0
    c1 = proc.cpu_times()
    cpu = (c1.user + c1.system - c0.user - c0.system) / wall * 100
    print(f"CPU at 20 cursor updates/s: {cpu:.1f} % of one core "
          f"({i} updates in {wall:.1f} s, 1,000 threads loaded)")
    await alice2.stop()
    await peer.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--starts", type=int, default=10)
    parser.add_argument("--threads", type=int, default=1000)
    parser.add_argument("--samples", type=int, default=100)
    parser.add_argument("--cpu-seconds", type=float, default=10.0)
    asyncio.run(main(parser.parse_args()))
