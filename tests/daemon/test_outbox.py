"""The durable outbox: nothing typed is lost, nothing is stored twice."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from daemon.session.outbox import Outbox
from tests.helpers import WireClient, sign_up
from wire import ChatSend, HistoryFetch, HistoryPage

pytestmark = pytest.mark.timeout(240)


async def test_outbox_survives_relay_down_daemon_kill_and_relay_restart(
        daemons: Any, relay: Any, tmp_path: Path) -> None:
    """Relay stopped, messages written, daemon SIGKILLed and restarted, relay started again:
    every message arrives exactly once, in order."""
    ws = tmp_path / "ws-alice"
    ws.mkdir()
    (ws / "notes.md").write_text("# notes\n\nfirst point\nsecond point\n")
    data = tmp_path / "data-alice"
    alice = await daemons("alice", relay.url, workspace=ws, data_dir=data)
    signed = await alice.request("ensemble/signUp", {"username": "alice",
                                                      "password": "correct horse 1"})
    token = signed["token"]
    await alice.wait_for("ensemble/didChangeConnection", lambda p: p["state"] == "online")
    view = await alice.request("ensemble/createSession", {"name": "durable"})
    sid = view["session"]["session_id"]
    invite = await alice.request("ensemble/createInvite", {"role": "editor"})

    bob = await WireClient.connect(relay.url, await sign_up(relay.url, "bob"), user_id="bob")
    await bob.join(invite=invite["token"])

    port = relay.port
    relay.stop()
    offline = await alice.wait_for("ensemble/didChangeConnection",
                                   lambda p: p["state"] == "offline")
    assert offline["next_retry_at"] is not None
    uri = await alice.open("notes.md")
    texts = [f"offline message {i}" for i in range(5)]
    ids = [(await alice.request("ensemble/sendChat", {"text": t}))["id"] for t in texts]
    thread = await alice.request("ensemble/createThread", {
        "uri": uri, "text": "offline thread",
        "range": {"start": {"line": 2, "character": 0}, "end": {"line": 2, "character": 0}}})
    await alice.wait_for("ensemble/didChangeOutbox", lambda p: p["pending"] == 6)

    await alice.kill()
    await bob.close()

    alice2 = await daemons("alice", relay.url, token, workspace=ws, data_dir=data)
    await alice2.wait_for("ensemble/didChangeOutbox", lambda p: p["pending"] == 6)
    state = await alice2.request("ensemble/state")
    assert state["outbox"] == 6 and state["connection"]["state"] in ("connecting", "offline")

    relay.start(port)
    await alice2.wait_for("ensemble/didChangeConnection", lambda p: p["state"] == "online")
    await alice2.wait_for("ensemble/didChangeSession",
                          lambda p: p.get("session", {}).get("session", {})
                          .get("session_id") == sid)
    await alice2.wait_for("ensemble/didChangeOutbox", lambda p: p["pending"] == 0, timeout=60)

    page = await host_history(relay.url, sid)
    got = [m.text for m in page.messages if m.text.startswith("offline message")]
    assert got == texts
    assert [m.id for m in page.messages if m.id in ids] == ids
    threads = await alice2.request("ensemble/threads", {})
    assert [t["thread"]["id"] for t in threads["threads"]] == [thread["id"]]


async def host_history(url: str, sid: str) -> HistoryPage:
    """The session's chat as the relay stored it, read by its host on a fresh connection."""
    from tests.helpers import sign_in

    host = await WireClient.connect(url, await sign_in(url, "alice", "correct horse 1"),
                                    user_id="alice")
    try:
        await host.join(session_id=sid)
        return await host.request(HistoryFetch(session_id=sid, limit=100), HistoryPage)
    finally:
        await host.close()


async def test_resent_action_whose_ack_was_lost_is_stored_once(
        daemons: Any, relay: Any, tmp_path: Path) -> None:
    """An action the relay stored but whose ack never arrived is re-sent after a restart
    with the same id: it is acked again, stored once, and leaves the outbox."""
    data = tmp_path / "data-alice"
    alice = await daemons("alice", relay.url, data_dir=data)
    signed = await alice.request("ensemble/signUp", {"username": "alice",
                                                      "password": "correct horse 1"})
    await alice.wait_for("ensemble/didChangeConnection", lambda p: p["state"] == "online")
    view = await alice.request("ensemble/createSession", {"name": "s"})
    sid = view["session"]["session_id"]
    queued = await alice.request("ensemble/sendChat", {"text": "only once"})
    await alice.wait_for("ensemble/didChangeOutbox", lambda p: p["pending"] == 0)
    await alice.stop()

    # the ack was "lost": the same action is back in the outbox file
    [db] = data.glob("outbox-*.sqlite3")
    box = Outbox(db)
    box.add(ChatSend(id=queued["id"], session_id=sid, text="only once"), "ensemble/sendChat")
    assert box.count() == 1
    box.close()

    alice2 = await daemons("alice", relay.url, signed["token"], data_dir=data)
    await alice2.wait_for("ensemble/didChangeOutbox", lambda p: p["pending"] == 1)
    await alice2.wait_for("ensemble/didChangeOutbox", lambda p: p["pending"] == 0, timeout=60)
    page = await host_history(relay.url, sid)
    assert [m.text for m in page.messages] == ["only once"]
