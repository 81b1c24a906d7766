"""Deleting a thread through two real daemons: the host's delete drops it everywhere."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from test_two_daemons import pair

pytestmark = pytest.mark.timeout(180)


async def test_host_deletes_a_thread_and_the_peer_daemon_drops_it(daemons: Any, relay: Any,
                                                                  tmp_path: Path) -> None:
    """An editor's deleteThread is refused (forbidden, locally); the host's removes the
    thread from both daemons (didChangeThreads.removed, ensemble/threads)."""
    alice, bob = await pair(daemons, relay, tmp_path)
    uri = await alice.open("app.py")
    tids = []
    for line in (0, 5):
        created = await alice.request("ensemble/createThread", {
            "uri": uri, "text": f"line {line}",
            "range": {"start": {"line": line, "character": 0},
                      "end": {"line": line, "character": 0}}})
        tids.append(created["id"])
    gone, kept = tids
    await bob.wait_for("ensemble/didChangeThreads", lambda p: any(
        t["thread"]["id"] == kept for t in p["threads"]))

    # an editor's delete is refused at once with the relay's code, nothing queued
    exc = await bob.error_of("ensemble/deleteThread", {"thread_id": gone})
    assert exc.data["code"] == "forbidden"

    await alice.request("ensemble/deleteThread", {"thread_id": gone})
    for d in (alice, bob):
        await d.wait_for("ensemble/didChangeThreads", lambda p: gone in p["removed"])
        listed = await d.request("ensemble/threads", {})
        assert [t["thread"]["id"] for t in listed["threads"]] == [kept]
    await alice.wait_for("ensemble/didChangeOutbox", lambda p: p["pending"] == 0)
