"""Several relay URLs, with real relays: the daemon skips a dead one, fails over to another
after a SIGKILL and lands on the session's relay.

Two relay processes on one SQLite data folder are no cluster (events and presence stay in
each process), but both see every session, account and stored event: what the daemon
does with several URLs can be watched on them.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import pytest

from daemon.session.relays import relay_order
from tests.services import free_port

pytestmark = pytest.mark.timeout(180)

CONN = "ensemble/didChangeConnection"
OUTBOX = "ensemble/didChangeOutbox"
CHAT = "ensemble/didReceiveChat"


async def signed_up(daemons: Any, name: str, urls: list[str]) -> Any:
    d = await daemons(name, urls[0], relay_urls=urls)
    await d.request("ensemble/signUp", {"username": name, "password": "correct horse 1"})
    await d.wait_for(CONN, lambda p: p["state"] == "online")
    return d


def online_at(url: str) -> Any:
    return lambda p: p["state"] == "online" and p["relay_url"] == url


async def test_a_closed_port_first_is_skipped_at_once(daemons: Any, relay: Any) -> None:
    """With a closed port listed first, sign-up and the connection go to the second URL,
    without waiting a backoff in between; the editor is told which relay is connected."""
    dead = f"ws://127.0.0.1:{free_port()}"
    d = await daemons("alice", dead, relay_urls=[dead, relay.url])
    await d.request("ensemble/signUp", {"username": "alice", "password": "correct horse 1"})
    await d.wait_for(CONN, online_at(relay.url))
    states = [(p["state"], p["relay_url"]) for p in d.notes[CONN]]
    assert ("connecting", dead) in states and ("offline", dead) not in states
    state = await d.request("ensemble/state")
    assert state["connection"]["relay_url"] == relay.url


async def test_sigkilled_relay_fails_over_and_the_outbox_is_acked(
        daemons: Any, relay_factory: Any, tmp_path: Path) -> None:
    """The relay is SIGKILLed while the daemon is in a session; a message written while
    disconnected is acked once the daemon has failed over to the other URL (a relay on the
    same data started after the first died), after rejoining the session there."""
    data = tmp_path / "relay-data"
    first = relay_factory(data_dir=data)
    port = free_port()
    other = f"ws://127.0.0.1:{port}"
    alice = await signed_up(daemons, "alice", [first.url, other])
    view = await alice.request("ensemble/createSession", {"name": "failover"})
    sid = view["session"]["session_id"]
    # the session's relay may be the closed one: the daemon then stays where it is
    state = await alice.request("ensemble/state")
    assert state["connection"]["state"] == "online"
    assert state["connection"]["relay_url"] == first.url
    before = await alice.request("ensemble/sendChat", {"text": "before"})
    await alice.wait_for(CHAT, lambda p: any(m["id"] == before["id"] for m in p["messages"]))

    mark = len(alice.notes[CONN])
    first.kill()
    await alice.wait_for(CONN, lambda p: p["state"] == "offline", after=mark)
    during = await alice.request("ensemble/sendChat", {"text": "during"})
    await alice.wait_for(OUTBOX, lambda p: p["pending"] == 1)

    second = relay_factory(data_dir=data, port=port)
    await alice.wait_for(CONN, online_at(other), after=mark, timeout=30)
    await alice.wait_for(OUTBOX, lambda p: p["pending"] == 0, timeout=30)
    got = await alice.wait_for(CHAT, lambda p: any(m["id"] == during["id"]
                                                   for m in p["messages"]))
    [msg] = [m for m in got["messages"] if m["id"] == during["id"]]
    assert msg["seq"] > 0 and msg["text"] == "during"
    state = await alice.request("ensemble/state")
    assert state["session"]["session"]["session_id"] == sid
    assert state["connection"] == {**state["connection"], "state": "online", "relay_url": other}
    # the connection for the session named it in the query, and the relay took it
    assert any(f"{other}/ws?session={sid}" in line for line in alice.stderr_lines())
    assert second.running()


async def test_participants_meet_on_the_sessions_relay(
        daemons: Any, relay_factory: Any, tmp_path: Path) -> None:
    """Whichever relay a participant creates or joins the session on, it ends on the
    session's first relay, where bob's chat and cursor reach alice live (the two relays
    share only the database). Alice leaves before bob joins and comes back after him:
    these relays are no cluster, so one that holds the session in memory would not learn
    of a member the other one added."""
    data = tmp_path / "relay-data"
    a, b = relay_factory(data_dir=data), relay_factory(data_dir=data)
    alice = await signed_up(daemons, "alice", [a.url, b.url])
    assert alice.last(CONN)["relay_url"] == a.url
    view = await alice.request("ensemble/createSession", {"name": "affinity"})
    sid = view["session"]["session_id"]
    home = relay_order([a.url, b.url], sid)[0]
    other = b.url if home == a.url else a.url
    assert relay_order([other, home], sid)[0] == home
    await connected_in(alice, home, sid)
    invite = await alice.request("ensemble/createInvite", {"role": "editor"})
    await alice.request("ensemble/leaveSession", {})

    bob = await signed_up(daemons, "bob", [other, home])
    assert bob.last(CONN)["relay_url"] == other
    joined = await bob.request("ensemble/joinSession", {"link": invite["link"]})
    assert joined["session"]["session_id"] == sid
    await connected_in(bob, home, sid)
    await alice.request("ensemble/joinSession", {"session_id": sid})
    await connected_in(alice, home, sid)

    (bob.workspace / "app.py").write_text("x = 1\ny = 2\n")
    uri = await bob.open("app.py")
    bob.notify("ensemble/cursor", {"uri": uri, "selections": [
        {"anchor": {"line": 1, "character": 1}, "active": {"line": 1, "character": 1}}]})
    await alice.wait_for("ensemble/didChangePeers", lambda p: any(
        v["user"]["id"] == "bob" and v.get("selections")
        and v["selections"][0]["active"]["line"] == 1 for v in p["peers"]))
    queued = await bob.request("ensemble/sendChat", {"text": "same relay"})
    await alice.wait_for(CHAT, lambda p: any(m["id"] == queued["id"] for m in p["messages"]))


async def connected_in(d: Any, url: str, sid: str) -> None:
    """``d`` is online at ``url`` and in session ``sid``, as ``ensemble/state`` says."""
    state = await d.request("ensemble/state")
    assert state["connection"]["state"] == "online", d.name
    assert state["connection"]["relay_url"] == url, d.name
    assert (state.get("session") or {}).get("session", {}).get("session_id") == sid, d.name


async def test_a_move_waits_for_the_sessions_relay_to_learn_of_the_join(
        daemons: Any, relay_factory: Any, tmp_path: Path) -> None:
    """Bob joins by invite on one relay and moves to the session's relay, which does not
    know him yet (it holds the session in memory): the rejoin there is retried instead of
    forgetting the session, and succeeds once that relay learns of the join (here: it
    loads the session again after alice, its only client, left)."""
    data = tmp_path / "relay-data"
    a, b = relay_factory(data_dir=data), relay_factory(data_dir=data)
    alice = await signed_up(daemons, "alice", [a.url, b.url])
    view = await alice.request("ensemble/createSession", {"name": "late news"})
    sid = view["session"]["session_id"]
    home = relay_order([a.url, b.url], sid)[0]
    other = b.url if home == a.url else a.url
    await connected_in(alice, home, sid)
    invite = await alice.request("ensemble/createInvite", {"role": "editor"})

    bob = await signed_up(daemons, "bob", [other, home])
    joining = asyncio.ensure_future(bob.request("ensemble/joinSession", {"link": invite["link"]}))
    await logged(bob, "does not know the join yet")
    assert not joining.done()
    await alice.request("ensemble/leaveSession", {})
    joined = await joining
    assert joined["session"]["session_id"] == sid
    await connected_in(bob, home, sid)
    await alice.request("ensemble/joinSession", {"session_id": sid})
    queued = await bob.request("ensemble/sendChat", {"text": "made it"})
    await alice.wait_for(CHAT, lambda p: any(m["id"] == queued["id"] for m in p["messages"]))


async def logged(d: Any, text: str, timeout: float = 20.0) -> None:
    """Wait until ``d`` has written ``text`` to its log."""
    deadline = time.monotonic() + timeout
    while not any(text in line for line in d.stderr_lines()):
        assert time.monotonic() < deadline, f"{d.name} did not log {text!r} in {timeout}s"
        await asyncio.sleep(0.05)
