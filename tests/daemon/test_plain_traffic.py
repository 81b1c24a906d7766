"""A plain LSP client gets diagnostics per changed file, with bursts coalesced."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest

from daemon.protocol import Method

pytestmark = pytest.mark.timeout(240)

DIAGNOSTICS = "textDocument/publishDiagnostics"


async def test_a_burst_of_thread_creations_is_published_coalesced(
    daemons: Any, relay_factory: Any, tmp_path: Path
) -> None:
    """300 thread creations in one file end with all 300 diagnostics shown, in far fewer
    publications than events (each event used to re-send the whole file's set), and
    another open file without threads gets nothing."""
    n = 300
    # the default per-user write budget (120 a minute) would spread the burst over minutes
    relay = relay_factory("--user-writes-per-minute", "100000")
    ws = tmp_path / "ws"
    ws.mkdir()
    (ws / "code.py").write_text("".join(f"value_{i} = {i}\n" for i in range(n)))
    (ws / "other.py").write_text("quiet = True\n")
    alice = await daemons("alice", relay.url, workspace=ws)
    await alice.request(Method.SIGN_UP, {"username": "alice", "password": "correct horse 1"})
    await alice.wait_for(Method.DID_CHANGE_CONNECTION, lambda p: p["state"] == "online")
    await alice.request(Method.CREATE_SESSION, {"name": "burst"})
    uri = await alice.open("code.py")
    other = await alice.open("other.py")
    await alice.request(Method.STATE)
    alice.notes[DIAGNOSTICS].clear()
    # all requests in flight at once, so the events come back as one burst however
    # loaded the machine is (one at a time, each could arrive after the coalescing wait)
    await asyncio.gather(*(alice.request(Method.CREATE_THREAD, {
        "uri": uri, "text": f"thread {i}",
        "range": {"start": {"line": i, "character": 0}, "end": {"line": i, "character": 0}}})
        for i in range(n)))
    final = await alice.wait_for(DIAGNOSTICS, lambda p: p["uri"] == uri
                                 and len(p["diagnostics"]) == n, timeout=180)
    assert sorted(d["range"]["start"]["line"] for d in final["diagnostics"]) == list(range(n))
    mine = [p for p in alice.notes[DIAGNOSTICS] if p["uri"] == uri]
    size = sum(len(json.dumps(p)) for p in mine)
    assert len(mine) < n / 5, f"{len(mine)} publications for {n} events"
    assert size < 8 * 2**20, f"{size} bytes"
    assert not [p for p in alice.notes[DIAGNOSTICS] if p["uri"] == other]
