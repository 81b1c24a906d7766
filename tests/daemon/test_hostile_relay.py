"""Whatever the relay or a peer sends, the daemon keeps working: bad items are left out
and reported, peers' positions are clamped, and no peer makes it read outside the
workspace. The relay is real; a proxy in front of it (tamper_proxy) rewrites frames
where a test needs what a buggy or compromised relay would send."""

from __future__ import annotations

import copy
import os
from pathlib import Path
from typing import Any

import pytest
from tamper_proxy import TamperProxy

from daemon.protocol import Method
from tests.helpers import WireClient, connected, new_id, sign_up, unique_name
from wire import (
    Ack,
    Anchor,
    ChatSend,
    CursorUpdate,
    InviteCreate,
    InviteResult,
    Position,
    Selection,
    ThreadCreate,
)

pytestmark = pytest.mark.timeout(120)

SOURCE = "x = 1\ny = 2\n"


def _sel(line: int, character: int) -> dict[str, Any]:
    pos = {"line": line, "character": character}
    return {"anchor": pos, "active": pos}


async def _bob_session(relay_url: str) -> tuple[WireClient, str, str, str]:
    """Bob's session with one good thread on a.py; returns (bob, session id, thread id,
    invite token)."""
    bob = await connected(relay_url, "bob")
    sid = (await bob.create_session()).session.session_id
    anchor = Anchor(path="a.py", start_line=1, end_line=1, text=["y = 2"], before=["x = 1"],
                    after=[""])
    good = ThreadCreate(id=new_id(), session_id=sid, anchor=anchor, text="good thread")
    await bob.send(good)
    await bob.expect(Ack, predicate=lambda a: a.id == good.id)
    invite = await bob.request(InviteCreate(session_id=sid, role="editor"), InviteResult)
    return bob, sid, good.id, invite.invite.token


async def test_bad_items_in_session_state_and_history_are_left_out_and_reported(
    relay: Any, daemons: Any, tmp_path: Path
) -> None:
    """A thread whose path holds a NUL byte, items of the wrong type, unknown fields and
    cursors at line -5 and 10**30 neither fail joinSession nor ensemble/threads: the good
    thread, chat and peers come through, the bad items are reported as bad_item."""
    bob, sid, good_id, token = await _bob_session(relay.url)
    for text in ("first", "second"):
        msg = ChatSend(id=new_id(), session_id=sid, text=text)
        await bob.send(msg)
        await bob.expect(Ack, predicate=lambda a, m=msg: a.id == m.id)  # type: ignore[misc]
    carol = await connected(relay.url, "carol")
    await carol.join(invite=token)
    proxy = await TamperProxy(relay.url).start()

    def rewrite(frame: dict[str, Any]) -> dict[str, Any]:
        if frame.get("type") == "session_state":
            nul = copy.deepcopy(frame["threads"][0])
            nul["id"] = "nul-thread"
            nul["anchor"]["path"] = "a\x00.py"
            frame["threads"] += [nul, {"id": "wrong-thread", "anchor": "not an anchor"}]
            frame["chat"].append({"id": "bad-chat", "text": 5})
            frame["presence"] = [
                {"user_id": bob.user_id, "cursor": {"path": "a.py", "selections": [
                    _sel(-5, 0), _sel(10**30, 10**30)]}},
                {"user_id": carol.user_id, "cursor": {"path": "a.py",
                                                      "selections": [_sel(0, 3)]}},
                {"user_id": "ghost", "cursor": "nowhere"},
            ]
            frame["surprise"] = {"unknown": "field"}
        if frame.get("type") == "history_page":
            frame["messages"].insert(0, {"id": "bad-history", "seq": "one"})
        return frame

    proxy.rewrite = rewrite
    alice_name = unique_name("alice")
    ws = tmp_path / "ws-alice"
    ws.mkdir()
    (ws / "a.py").write_text(SOURCE)
    alice = await daemons("alice", proxy.url, await sign_up(relay.url, alice_name),
                          workspace=ws)
    await alice.wait_for(Method.DID_CHANGE_CONNECTION, lambda p: p["state"] == "online")
    uri = await alice.open("a.py")
    view = await alice.request(Method.JOIN_SESSION, {"invite": token})
    assert view["session"]["session_id"] == sid

    shown = await alice.wait_for(Method.DID_CHANGE_THREADS, lambda p: p["threads"])
    assert [t["thread"]["id"] for t in shown["threads"]] == [good_id]
    listed = await alice.request(Method.THREADS, {})
    assert [t["thread"]["id"] for t in listed["threads"]] == [good_id]
    err = await alice.wait_for(Method.DID_ERROR, lambda p: p["code"] == "bad_item"
                               and "session_state" in p["message"])
    assert "threads[" in err["message"] and "chat[" in err["message"]
    await alice.wait_for(Method.DID_ERROR, lambda p: p["code"] == "bad_item"
                         and "nul-thread" in p["message"])

    peers = {p["user"]["id"]: p for p in (await alice.request(Method.STATE))["peers"]}
    assert peers[carol.user_id]["selections"] == [_sel(0, 3)]
    # -5 is no position: dropped; 10**30 is clamped into the open file (end of last line)
    assert peers[bob.user_id]["uri"] == uri
    assert peers[bob.user_id]["selections"] == [_sel(2, 0)]

    page = await alice.request(Method.CHAT_HISTORY, {})
    assert [m["text"] for m in page["messages"]] == ["first", "second"]
    await alice.wait_for(Method.DID_ERROR, lambda p: p["code"] == "bad_item"
                         and "history_page" in p["message"])
    await proxy.close()


async def test_peer_cannot_make_the_daemon_read_through_a_symlink_out_of_the_workspace(
    relay: Any, daemons: Any, tmp_path: Path
) -> None:
    """A link in the workspace to a folder outside it: a peer's thread anchored there is
    not placed (its file is never read) and a peer's cursor there has no local file."""
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_text("TOKEN=hunter2\n")
    ws = tmp_path / "ws-alice"
    ws.mkdir()
    (ws / "a.py").write_text(SOURCE)
    os.symlink(outside, ws / "link")
    bob, sid, good_id, token = await _bob_session(relay.url)
    anchor = Anchor(path="link/secret.txt", start_line=0, end_line=0, text=["TOKEN=hunter2"],
                    before=[], after=[""])
    probe = ThreadCreate(id=new_id(), session_id=sid, anchor=anchor, text="probe")
    await bob.send(probe)
    await bob.expect(Ack, predicate=lambda a: a.id == probe.id)
    alice = await daemons("alice", relay.url, await sign_up(relay.url, unique_name("alice")),
                          workspace=ws)
    await alice.wait_for(Method.DID_CHANGE_CONNECTION, lambda p: p["state"] == "online")
    await alice.request(Method.JOIN_SESSION, {"invite": token})
    await bob.send(CursorUpdate(session_id=sid, path="link/secret.txt", selections=[
        Selection(anchor=Position(line=0, character=3), active=Position(line=0, character=3))]))
    await alice.wait_for(Method.DID_CHANGE_PEERS, lambda p: any(
        v["user"]["id"] == bob.user_id and v.get("path") == "link/secret.txt"
        for v in p["peers"]))
    listed = await alice.request(Method.THREADS, {})
    assert [t["thread"]["id"] for t in listed["threads"]] == [good_id]
    peers = {p["user"]["id"]: p for p in (await alice.request(Method.STATE))["peers"]}
    assert peers[bob.user_id].get("uri") is None
