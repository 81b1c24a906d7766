"""A deferred action is sent again when the relay says, not every second."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from test_refusals import frames_in
from test_two_daemons import signed_up

pytestmark = pytest.mark.timeout(180)


async def test_a_spent_write_budget_is_retried_after_the_relays_retry_after(
        daemons: Any, relay_factory: Any, tmp_path: Path) -> None:
    """With a budget of 3 writes a minute (one every 20 s), the third chat is refused
    rate_limited with retry_after ~20 s: the daemon sends it again once, when told, and it
    is stored; it does not hammer the relay every second meanwhile."""
    relay = relay_factory("--user-writes-per-minute", "3")
    alice = await signed_up(daemons, relay, "alice", tmp_path)
    await alice.request("ensemble/createSession", {"name": "budget"})  # write 1
    for text in ("one", "two", "three"):  # writes 2 and 3; the third is over budget
        await alice.request("ensemble/sendChat", {"text": text})
    await alice.wait_for("ensemble/didReceiveChat", lambda p: any(
        m["text"] == "three" for m in p["messages"]), timeout=90)
    history = await alice.request("ensemble/chatHistory", {})
    assert [m["text"] for m in history["messages"]][-3:] == ["one", "two", "three"]
    sent = frames_in(relay)["chat_send"]
    assert sent <= 5, f"{sent} chat_send frames for 3 messages: retried without waiting"
