"""A chat message written while another process holds the relay's database is refused
with storage_busy, kept in the outbox and sent again with the same id: stored once."""

from __future__ import annotations

import asyncio
import sqlite3
import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from tests.daemon.test_outbox import host_history

pytestmark = pytest.mark.timeout(240)


def _storage_busy_refusals(http_url: str) -> float:
    body = urllib.request.urlopen(http_url + "/metrics", timeout=10).read().decode()
    for line in body.splitlines():
        if line.startswith('ensemble_errors_total{code="storage_busy"}'):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


async def test_a_write_refused_while_the_database_is_locked_is_sent_again(
        daemons: Any, relay: Any, tmp_path: Path) -> None:
    alice = await daemons("alice", relay.url, data_dir=tmp_path / "data-alice")
    await alice.request("ensemble/signUp", {"username": "alice", "password": "correct horse 1"})
    await alice.wait_for("ensemble/didChangeConnection", lambda p: p["state"] == "online")
    view = await alice.request("ensemble/createSession", {"name": "locked"})
    sid = view["session"]["session_id"]

    holder = sqlite3.connect(Path(relay.data_dir) / "relay.sqlite3", isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    try:
        queued = await alice.request("ensemble/sendChat", {"text": "written while locked"})
        await alice.wait_for("ensemble/didChangeOutbox", lambda p: p["pending"] == 1)
        deadline = time.monotonic() + 30
        while await asyncio.to_thread(_storage_busy_refusals, relay.http_url) < 1:
            assert time.monotonic() < deadline, "the relay never refused the write"
            await asyncio.sleep(0.1)
        state = await alice.request("ensemble/state")
        assert state["outbox"] == 1  # refused, not dropped
        seen = len(alice.notes["ensemble/didChangeOutbox"])
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    deadline = time.monotonic() + 60
    while not any(p["pending"] == 0 for p in alice.notes["ensemble/didChangeOutbox"][seen:]):
        assert time.monotonic() < deadline, "the outbox never drained"
        await asyncio.sleep(0.1)
    page = await host_history(relay.url, sid)
    assert [(m.id, m.text) for m in page.messages] == [(queued["id"], "written while locked")]
