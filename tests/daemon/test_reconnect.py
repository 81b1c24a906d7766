"""Recovery is quick: the editor can end the backoff wait (ensemble/reconnect)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.timeout(180)

CONN = "ensemble/didChangeConnection"


async def test_reconnect_notification_ends_the_backoff_wait(
        daemons: Any, relay: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """With a long backoff pending (every wait at least 30 s), ensemble/reconnect brings
    the daemon back online as soon as the relay is up, long before the announced retry."""
    monkeypatch.setenv("ENSEMBLE_RECONNECT_MIN", "30")
    monkeypatch.setenv("ENSEMBLE_RECONNECT_MAX", "120")
    d = await daemons("alice", relay.url)
    await d.request("ensemble/signUp", {"username": "alice", "password": "correct horse 1"})
    await d.wait_for(CONN, lambda p: p["state"] == "online")
    mark = len(d.notes[CONN])
    relay.kill()
    long_wait = await d.wait_for(CONN, lambda p: p["state"] == "offline", after=mark)
    assert long_wait["next_retry_at"] - time.time() > 25, long_wait
    relay.start(relay.port)
    back = len(d.notes[CONN])
    d.notify("ensemble/reconnect")
    await d.wait_for(CONN, lambda p: p["state"] == "online", after=back, timeout=10)
    assert time.time() < long_wait["next_retry_at"] - 5


async def test_reconnect_is_harmless_when_online_or_signed_out(daemons: Any, relay: Any) -> None:
    """ensemble/reconnect while online or signed out changes nothing and reports no error."""
    d = await daemons("bob", relay.url)
    d.notify("ensemble/reconnect")
    await d.request("ensemble/signUp", {"username": "bob", "password": "correct horse 1"})
    await d.wait_for(CONN, lambda p: p["state"] == "online")
    mark = len(d.notes[CONN])
    d.notify("ensemble/reconnect")
    state = await d.request("ensemble/state")  # answered after the notification
    assert state["connection"]["state"] == "online"
    assert len(d.notes[CONN]) == mark and not d.notes["ensemble/didError"]
