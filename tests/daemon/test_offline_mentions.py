"""Mentions made while a user was away reach the editor when the user joins again."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from test_two_daemons import pair

pytestmark = pytest.mark.timeout(180)


async def test_mention_made_while_away_is_notified_once_on_rejoin(daemons: Any, relay: Any,
                                                                   tmp_path: Path) -> None:
    """Bob leaves; alice mentions him in chat; bob rejoins and gets didReceiveMention once."""
    alice, bob = await pair(daemons, relay, tmp_path)
    session_id = alice.last("ensemble/didChangeSession")["session"]["session"]["session_id"]
    await bob.request("ensemble/leaveSession", {})
    await alice.wait_for("ensemble/didChangePeers", lambda p: any(
        v["user"]["id"] == "bob" and not v["online"] for v in p["peers"]))

    queued = await alice.request("ensemble/sendChat", {"text": "@bob look at this when back"})
    await alice.wait_for("ensemble/didChangeOutbox", lambda p: p["pending"] == 0)
    assert not bob.notes["ensemble/didReceiveMention"]

    await bob.request("ensemble/joinSession", {"session_id": session_id})
    got = await bob.wait_for("ensemble/didReceiveMention")
    assert got["mention"]["by"]["id"] == "alice"
    assert got["mention"]["message_id"] == queued["id"]

    # a later join does not repeat it: the relay hands each pending mention over once
    await bob.request("ensemble/leaveSession", {})
    await bob.request("ensemble/joinSession", {"session_id": session_id})
    await bob.wait_for("ensemble/didChangeSession", lambda p: p.get("session") is not None)
    await bob.request("ensemble/state", {})
    assert len(bob.notes["ensemble/didReceiveMention"]) == 1
