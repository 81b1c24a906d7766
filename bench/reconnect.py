"""Recovery time: the relay is killed, stays down a while, and starts again; how long
until a daemon is back in its session (rejoined), counted from the relay listening again.

Starts a real relay (tests/relayproc.py) and one real daemon driven over stdio
(tests/daemon/daemon_harness.py) that creates a session, then repeats the outage.

    .venv/bin/python bench/reconnect.py [--runs 10] [--down 8] [--cap 5]

``--cap`` sets ENSEMBLE_RECONNECT_MAX for the daemon (default 5, the daemon's own
default; the daemon before decorrelated jitter had 30).
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

from daemon_harness import DaemonClient  # noqa: E402

from tests.relayproc import RelayProcess  # noqa: E402

SESSION = "ensemble/didChangeSession"


async def measure(runs: int, down: float) -> list[float]:
    with tempfile.TemporaryDirectory(prefix="ens-rc-") as tmp:
        base = Path(tmp)
        relay = RelayProcess(base / "relay").start()
        (base / "ws").mkdir()
        d = DaemonClient("alice", base / "ws", base / "data")
        try:
            await d.start(relay.url)
            await d.request("ensemble/signUp", {"username": "alice",
                                                "password": "correct horse 1"})
            await d.wait_for("ensemble/didChangeConnection", lambda p: p["state"] == "online")
            await d.request("ensemble/createSession", {"name": "bench"})
            out: list[float] = []
            for i in range(runs):
                relay.kill()
                await asyncio.sleep(down)  # the outage being simulated
                mark = len(d.notes[SESSION])
                relay.start(relay.port)
                t0 = time.monotonic()
                await d.wait_for(SESSION, lambda p: p.get("session") is not None, after=mark,
                                 timeout=120)
                out.append(time.monotonic() - t0)
                print(f"run {i + 1}: back in the session {out[-1]:.2f} s after the relay",
                      flush=True)
            return out
        finally:
            await d.stop()
            relay.kill()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=10)
    ap.add_argument("--down", type=float, default=8.0, help="seconds the relay stays down")
    ap.add_argument("--cap", type=float, default=None, help="ENSEMBLE_RECONNECT_MAX")
    args = ap.parse_args()
    # the test harness would default the cap to 1 s: always name it
    os.environ["ENSEMBLE_RECONNECT_MAX"] = str(args.cap if args.cap is not None else 5.0)
    times = asyncio.run(measure(args.runs, args.down))
    print(f"relay down {args.down:g} s, cap {os.environ['ENSEMBLE_RECONNECT_MAX']} s, "
          f"{len(times)} runs: min {min(times):.2f} s, median {statistics.median(times):.2f} s, "
          f"max {max(times):.2f} s")


if __name__ == "__main__":
    main()
