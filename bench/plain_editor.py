"""Daemon figures for a plain LSP editor: diagnostics traffic for 1,000 thread creations,
and per-keystroke time in a 10 MB document.

Starts a real relay (tests/relayproc.py) and a real daemon driven over stdio
(tests/daemon/daemon_harness.py) with native UI off, as Neovim or Helix run it.

- threads: 1,000 ``ensemble/createThread`` requests on 1,000 lines of one open
  file; prints the time until the editor holds all 1,000 diagnostics, the
  ``textDocument/publishDiagnostics`` notifications received and their bytes
  (JSON as sent).
- keystrokes: one-character ``didChange`` edits in a 10 MB document; prints the
  time per keystroke (the last edit is followed by a request that answers only
  after every edit was applied).

``--daemon-root DIR`` runs the daemon from another checkout (the relay, the
harness and this script stay the current ones), to compare with an older daemon:

    git archive <commit> | tar -x -C /tmp/old
    .venv/bin/python bench/plain_editor.py --daemon-root /tmp/old
    .venv/bin/python bench/plain_editor.py
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests" / "daemon")]

import daemon_harness  # noqa: E402
from daemon_harness import DaemonClient  # noqa: E402

from tests.relayproc import RelayProcess  # noqa: E402

DIAGNOSTICS = "textDocument/publishDiagnostics"


async def threads(relay: RelayProcess, tmp: Path, n: int) -> None:
    ws = tmp / "ws-threads"
    ws.mkdir()
    (ws / "code.py").write_text("".join(f"value_{i} = {i}\n" for i in range(n)))
    alice = DaemonClient("alice", ws, tmp / "data-alice")
    await alice.start(relay.url, log_level="warning")
    await alice.request("ensemble/signUp", {"username": "alice", "password": "correct horse 1"})
    await alice.wait_for("ensemble/didChangeConnection", lambda p: p["state"] == "online")
    await alice.request("ensemble/createSession", {"name": "bench"})
    uri = await alice.open("code.py")
    await alice.request("ensemble/state")
    alice.notes[DIAGNOSTICS].clear()
    t0 = time.perf_counter()
    for i in range(n):
        await alice.request("ensemble/createThread", {
            "uri": uri, "text": f"thread {i}: is this right?",
            "range": {"start": {"line": i, "character": 0}, "end": {"line": i, "character": 0}}})
    sent = time.perf_counter() - t0
    await alice.wait_for(DIAGNOSTICS, lambda p: p["uri"] == uri and len(p["diagnostics"]) >= n,
                         timeout=600)
    done = time.perf_counter() - t0
    await asyncio.sleep(1.0)  # anything still coming counts too
    notes = alice.notes[DIAGNOSTICS]
    size = sum(len(json.dumps({"jsonrpc": "2.0", "method": DIAGNOSTICS, "params": p},
                              separators=(",", ":"), ensure_ascii=False).encode())
               for p in notes)
    print(f"{n} thread creations (plain client): all {n} diagnostics shown after {done:.2f} s "
          f"(requests answered in {sent:.2f} s); {len(notes)} publishDiagnostics, "
          f"{size / 2**20:.2f} MiB")
    await alice.stop()


async def keystrokes(relay: RelayProcess, tmp: Path, count: int, mib: int) -> None:
    ws = tmp / "ws-keys"
    ws.mkdir()
    line = "x = 'abcdefghijklmnopqrstuvwxyz0123456789' + \"ABCDEFGHIJKLMNOPQRSTUVWXYZ\"\n"
    text = line * (mib * 2**20 // len(line))
    (ws / "big.py").write_text(text)
    d = DaemonClient("kim", ws, tmp / "data-kim")
    await d.start(relay.url, log_level="warning")
    uri = await d.open("big.py", text)
    await d.request("ensemble/state", timeout=120)
    middle = text.count("\n") // 2
    t0 = time.perf_counter()
    for i in range(count):
        d.type_char(uri, middle, i, version=2 + i)
    await d.request("ensemble/state", timeout=600)
    per = (time.perf_counter() - t0) / count
    print(f"keystrokes in a {len(text) / 2**20:.1f} MiB document: {per * 1000:.2f} ms each "
          f"({count} one-character edits)")
    await d.stop()


async def main(args: argparse.Namespace) -> None:
    if args.daemon_root:
        daemon_harness.ROOT = Path(args.daemon_root).resolve()
    tmp = Path(tempfile.mkdtemp(prefix="plain-bench-"))
    relay = RelayProcess(tmp / "relay", ("--rate-per-second", "5000", "--rate-burst", "10000"))
    relay.start()
    try:
        if args.threads:
            await threads(relay, tmp, args.threads)
        if args.keystrokes:
            await keystrokes(relay, tmp, args.keystrokes, args.mib)
    finally:
        relay.stop()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=1000)
    parser.add_argument("--keystrokes", type=int, default=200)
    parser.add_argument("--mib", type=int, default=10)
    parser.add_argument("--daemon-root", default=None)
    asyncio.run(main(parser.parse_args()))
