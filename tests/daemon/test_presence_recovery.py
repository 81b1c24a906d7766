"""Presence comes back whole after a relay restart, without anyone moving."""

from __future__ import annotations

import contextlib
import time
from pathlib import Path
from typing import Any

import pytest
from daemon_harness import DaemonClient
from test_two_daemons import pair

pytestmark = pytest.mark.timeout(180)


CONN = "ensemble/didChangeConnection"
SESSION = "ensemble/didChangeSession"


def placed(view: dict[str, Any]) -> bool:
    """alice's cursor (line 1), viewport (to line 6) and focused file are all known."""
    sels = view.get("selections") or []
    visible = view.get("visible") or []
    return (view["online"] and view.get("path") == "app.py" and bool(sels)
            and sels[0]["active"]["line"] == 1 and bool(visible)
            and visible[0]["end"]["line"] == 6 and bool(view.get("focus_uri")))


async def alice_view(d: DaemonClient) -> dict[str, Any] | None:
    state = await d.request("ensemble/state")
    return next((v for v in state["peers"] if v["user"]["id"] == "alice"), None)


async def eventually_placed(d: DaemonClient, timeout: float = 30.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    view: dict[str, Any] | None = None
    while time.monotonic() < deadline:
        mark = len(d.notes["ensemble/didChangePeers"])
        view = await alice_view(d)
        if view is not None and placed(view):
            return view
        with contextlib.suppress(AssertionError):  # no further change: report the last view
            await d.wait_for("ensemble/didChangePeers", after=mark,
                             timeout=max(0.1, deadline - time.monotonic()))
    raise AssertionError(f"{d.name} never saw alice placed again; last view: {view}")


async def test_presence_is_resent_after_a_relay_restart(daemons: Any, relay: Any,
                                                        tmp_path: Path) -> None:
    """The relay restarts (losing all presence); alice does not move; bob sees her cursor,
    file and viewport again, and so does a peer who joins only after the restart."""
    alice, bob = await pair(daemons, relay, tmp_path, bob_role="viewer")
    uri = await alice.open("app.py")
    alice.notify("ensemble/focus", {"uri": uri})
    alice.notify("ensemble/viewport", {"uri": uri, "ranges": [
        {"start": {"line": 0, "character": 0}, "end": {"line": 6, "character": 0}}]})
    alice.notify("ensemble/cursor", {"uri": uri, "selections": [
        {"anchor": {"line": 1, "character": 4}, "active": {"line": 1, "character": 9}}]})
    await bob.wait_for("ensemble/didChangePeers", lambda p: any(
        v["user"]["id"] == "alice" and placed(v) for v in p["peers"]))

    marks = {d.name: {m: len(d.notes[m]) for m in (CONN, SESSION)} for d in (alice, bob)}
    relay.restart(same_port=True, kill=True)
    for d in (alice, bob):
        await d.wait_for(CONN, lambda p: p["state"] == "offline", after=marks[d.name][CONN])
        await d.wait_for(CONN, lambda p: p["state"] == "online", after=marks[d.name][CONN])
        # back in the session after the restart
        await d.wait_for(SESSION, lambda p: p.get("session") is not None,
                         after=marks[d.name][SESSION])

    view = await eventually_placed(bob)
    assert view["uri"] == bob.uri("app.py") and view["focus_uri"] == bob.uri("app.py")

    # a peer who (re)loads after the restart gets alice's presence from the relay
    carol_ws = tmp_path / "ws-carol"
    carol_ws.mkdir()
    (carol_ws / "app.py").write_text((alice.workspace / "app.py").read_text())
    carol: DaemonClient = await daemons("carol", relay.url, workspace=carol_ws)
    await carol.request("ensemble/signUp", {"username": "carol", "password": "correct horse 1"})
    await carol.wait_for("ensemble/didChangeConnection", lambda p: p["state"] == "online")
    invite = await alice.request("ensemble/createInvite", {"role": "viewer"})
    await carol.request("ensemble/joinSession", {"link": invite["link"]})
    await eventually_placed(carol)
