"""Two real daemons (alice, bob) against a real relay: what one does reaches the other."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from daemon_harness import DaemonClient

pytestmark = pytest.mark.timeout(180)

CODE = "def main():\n    print('héllo 🎉')\n    return 1\n\n\nclass App:\n    pass\n"


async def signed_up(make: Any, relay: Any, name: str, tmp_path: Path, **opts: Any
                    ) -> DaemonClient:
    ws = tmp_path / f"ws-{name}"
    ws.mkdir()
    (ws / "app.py").write_text(CODE)
    d: DaemonClient = await make(name, relay.url, workspace=ws, **opts)
    res = await d.request("ensemble/signUp", {"username": name, "password": "correct horse 1",
                                              "display_name": name.title()})
    assert res["user"]["id"] == name and res["token"]
    await d.wait_for("ensemble/didChangeConnection", lambda p: p["state"] == "online")
    return d


async def pair(make: Any, relay: Any, tmp_path: Path, bob_role: str = "editor",
               **opts: Any) -> tuple[DaemonClient, DaemonClient]:
    alice = await signed_up(make, relay, "alice", tmp_path, **opts)
    bob = await signed_up(make, relay, "bob", tmp_path, **opts)
    view = await alice.request("ensemble/createSession", {"name": "pairing"})
    assert view["you"]["role"] == "host"
    invite = await alice.request("ensemble/createInvite", {"role": bob_role})
    assert invite["link"].startswith("vscode://ensemble.ensemble/join?relay=ws%3A%2F%2F127.0.0.1")
    joined = await bob.request("ensemble/joinSession", {"link": invite["link"]})
    assert joined["session"]["session_id"] == view["session"]["session_id"]
    assert joined["you"]["role"] == bob_role
    assert joined["repo_mismatch"] is False
    await alice.wait_for("ensemble/didChangePeers", lambda p: any(
        v["user"]["id"] == "bob" and v["online"] for v in p["peers"]))
    return alice, bob


async def test_cursor_viewport_and_status_reach_the_peer(daemons: Any, relay: Any,
                                                         tmp_path: Path) -> None:
    """Alice's cursor, viewport and status show up in bob's peers, placed in his copy."""
    alice, bob = await pair(daemons, relay, tmp_path)
    uri = await alice.open("app.py")
    alice.notify("ensemble/cursor", {"uri": uri, "selections": [
        {"anchor": {"line": 1, "character": 4}, "active": {"line": 1, "character": 9}}]})
    alice.notify("ensemble/viewport", {"uri": uri, "ranges": [
        {"start": {"line": 0, "character": 0}, "end": {"line": 6, "character": 0}}]})

    def alice_at_line_1(p: Any) -> bool:
        return any(v["user"]["id"] == "alice" and v.get("selections")
                   and v["selections"][0]["active"]["line"] == 1 and v.get("visible")
                   for v in p["peers"])

    peers = await bob.wait_for("ensemble/didChangePeers", alice_at_line_1)
    view = next(v for v in peers["peers"] if v["user"]["id"] == "alice")
    assert view["uri"] == bob.uri("app.py") and view["path"] == "app.py"
    assert view["approximate"] is False
    assert view["visible"][0]["end"]["line"] == 6
    assert 0 <= view["color"] < 12

    await alice.request("ensemble/setStatus", {"status": "away"})
    await bob.wait_for("ensemble/didChangePeers", lambda p: any(
        v["user"]["id"] == "alice" and v["status"] == "away" for v in p["peers"]))


async def test_chat_edit_delete_react_and_mentions(daemons: Any, relay: Any,
                                                   tmp_path: Path) -> None:
    """Chat messages, edits, reactions, deletions and @mentions arrive on the other side."""
    alice, bob = await pair(daemons, relay, tmp_path)
    queued = await alice.request("ensemble/sendChat", {"text": "hello @bob"})
    msg_id = queued["id"]
    got = await bob.wait_for("ensemble/didReceiveChat", lambda p: any(
        m["id"] == msg_id for m in p["messages"]))
    assert got["messages"][-1]["text"] == "hello @bob"
    mention = await bob.wait_for("ensemble/didReceiveMention")
    assert mention["mention"]["by"]["id"] == "alice"
    await alice.wait_for("ensemble/didChangeOutbox", lambda p: p["pending"] == 0)

    await alice.request("ensemble/editChat", {"target_id": msg_id, "text": "hello bob"})
    await bob.wait_for("ensemble/didReceiveChat", lambda p: any(
        m["id"] == msg_id and m["text"] == "hello bob" for m in p["messages"]))
    await bob.request("ensemble/react", {"target_id": msg_id, "emoji": "👍"})
    await alice.wait_for("ensemble/didReceiveChat", lambda p: any(
        m["id"] == msg_id and m.get("reactions", {}).get("👍") == ["bob"]
        for m in p["messages"]))
    await alice.request("ensemble/deleteChat", {"target_id": msg_id})
    await bob.wait_for("ensemble/didReceiveChat", lambda p: any(
        m["id"] == msg_id and m.get("deleted") for m in p["messages"]))
    history = await bob.request("ensemble/chatHistory", {"limit": 10})
    assert [m["id"] for m in history["messages"]] == [msg_id]


async def test_threads_replies_reactions_and_resolve(daemons: Any, relay: Any,
                                                     tmp_path: Path) -> None:
    """A thread created by alice is placed in bob's file; replies, reactions, resolve follow."""
    alice, bob = await pair(daemons, relay, tmp_path)
    uri = await alice.open("app.py")
    # bob's copy has two extra lines on top: the thread must move with the code
    (bob.workspace / "app.py").write_text("import os\nimport sys\n" + CODE)
    created = await alice.request("ensemble/createThread", {
        "uri": uri, "text": "why print? @bob",
        "range": {"start": {"line": 5, "character": 0}, "end": {"line": 6, "character": 0}}})
    tid = created["id"]
    changed = await bob.wait_for("ensemble/didChangeThreads", lambda p: any(
        t["thread"]["id"] == tid for t in p["threads"]))
    placed = next(t for t in changed["threads"] if t["thread"]["id"] == tid)
    assert placed["range"]["start"]["line"] == 7 and placed["moved"] is True
    assert placed["uri"] == bob.uri("app.py")
    await bob.wait_for("ensemble/didReceiveMention", lambda p: p["mention"]["thread_id"] == tid)

    reply = await bob.request("ensemble/reply", {"thread_id": tid, "text": "debugging"})
    await alice.wait_for("ensemble/didChangeThreads", lambda p: any(
        len(t["thread"]["comments"]) == 2 for t in p["threads"] if t["thread"]["id"] == tid))
    await alice.request("ensemble/react", {"target_id": reply["id"], "emoji": "🎉"})
    await bob.request("ensemble/editComment", {"target_id": reply["id"], "text": "still"})
    await alice.wait_for("ensemble/didChangeThreads", lambda p: any(
        c["text"] == "still" for t in p["threads"] for c in t["thread"]["comments"]))
    await bob.wait_for("ensemble/didChangeThreads", lambda p: any(
        c.get("reactions", {}).get("🎉") == ["alice"]
        for t in p["threads"] for c in t["thread"]["comments"]))
    await alice.request("ensemble/deleteComment", {"target_id": tid})
    await alice.request("ensemble/resolveThread", {"thread_id": tid, "resolved": True})
    await bob.wait_for("ensemble/didChangeThreads", lambda p: any(
        t["thread"]["resolved"] for t in p["threads"] if t["thread"]["id"] == tid))
    listed = await bob.request("ensemble/threads", {"uri": bob.uri("app.py")})
    assert [t["thread"]["id"] for t in listed["threads"]] == [tid]
    assert listed["threads"][0]["thread"]["comments"][0]["deleted"] is True


async def test_viewer_cannot_create_thread(daemons: Any, relay: Any,
                                           tmp_path: Path) -> None:
    """A viewer's thread is refused at once with the relay's code, before the outbox."""
    _alice, bob = await pair(daemons, relay, tmp_path, bob_role="viewer")
    uri = await bob.open("app.py")
    exc = await bob.error_of("ensemble/createThread", {
        "uri": uri, "text": "can I?",
        "range": {"start": {"line": 0, "character": 0}, "end": {"line": 0, "character": 0}}})
    assert exc.code == -32803 and exc.data["code"] == "forbidden"
    assert (await bob.request("ensemble/state"))["outbox"] == 0
    exc = await bob.error_of("ensemble/setRole", {"user_id": "alice", "role": "viewer"})
    assert exc.code == -32803 and exc.data["code"] == "forbidden"


async def test_follow_and_who_is_viewing(daemons: Any, relay: Any, tmp_path: Path) -> None:
    """Follow reports the followed user; who-is-viewing lists peers in a file."""
    alice, bob = await pair(daemons, relay, tmp_path)
    uri = await alice.open("app.py")
    alice.notify("ensemble/focus", {"uri": uri})
    alice.notify("ensemble/viewport", {"uri": uri, "ranges": [
        {"start": {"line": 0, "character": 0}, "end": {"line": 3, "character": 0}}]})
    await bob.request("ensemble/follow", {"user_id": "alice"})
    await bob.wait_for("ensemble/didChangeFollow", lambda p: p.get("user_id") == "alice")
    await bob.wait_for("ensemble/didChangePeers", lambda p: any(
        v["user"]["id"] == "alice" and v.get("focus_uri") == bob.uri("app.py")
        for v in p["peers"]))
    viewers = await bob.request("ensemble/whoIsViewing", {"uri": bob.uri("app.py")})
    assert [u["id"] for u in viewers["users"]] == ["alice"]
    exc = await bob.error_of("ensemble/follow", {"user_id": "nobody"})
    assert exc.data["code"] == "not_found"


async def test_cursor_in_a_file_that_differs_is_approximate(daemons: Any, relay: Any,
                                                            tmp_path: Path) -> None:
    """Bob's copy of the file differs from alice's: her cursor is shown as approximate;
    once his copy matches (edited in the editor) it is exact again."""
    alice, bob = await pair(daemons, relay, tmp_path)
    (bob.workspace / "app.py").write_text(CODE + "# bob's local change\n")
    uri = await alice.open("app.py")
    bob_uri = await bob.open("app.py")
    alice.notify("ensemble/cursor", {"uri": uri, "selections": [
        {"anchor": {"line": 2, "character": 4}, "active": {"line": 2, "character": 4}}]})
    peers = await bob.wait_for("ensemble/didChangePeers", lambda p: any(
        v["user"]["id"] == "alice" and v.get("selections") for v in p["peers"]))
    assert next(v for v in peers["peers"] if v["user"]["id"] == "alice")["approximate"] is True

    from lsprotocol import types as lsp
    bob.client.text_document_did_change(lsp.DidChangeTextDocumentParams(
        text_document=lsp.VersionedTextDocumentIdentifier(uri=bob_uri, version=2),
        content_changes=[lsp.TextDocumentContentChangeWholeDocument(text=CODE)]))
    await bob.wait_for("ensemble/didChangePeers", lambda p: any(
        v["user"]["id"] == "alice" and v.get("selections") and v["approximate"] is False
        for v in p["peers"]))


async def test_heartbeats_keep_an_inactive_peer_online(daemons: Any, relay_factory: Any,
                                                       tmp_path: Path) -> None:
    """With a 1.5 s presence timeout and no editor activity at all, heartbeats keep alice
    online for bob over several timeouts."""
    relay = relay_factory("--presence-timeout", "1.5")
    _alice, bob = await pair(daemons, relay, tmp_path)
    marks = len(bob.notes["ensemble/didChangePeers"])
    # an absence can only be observed over time: watch for 3 presence timeouts
    with pytest.raises(AssertionError):
        await bob.wait_for("ensemble/didChangePeers", lambda p: any(
            v["user"]["id"] == "alice" and not v["online"] for v in p["peers"]), timeout=4.5)
    assert all(v["online"] for p in bob.notes["ensemble/didChangePeers"][marks:]
               for v in p["peers"] if v["user"]["id"] == "alice")
    state = await bob.request("ensemble/state")
    assert [v["online"] for v in state["peers"]] == [True]


async def test_threads_follow_local_edits_before_saving(daemons: Any, relay: Any,
                                                        tmp_path: Path) -> None:
    """Lines typed above a thread in the editor (not saved) move it down in step."""
    alice, bob = await pair(daemons, relay, tmp_path)
    uri = await alice.open("app.py")
    created = await alice.request("ensemble/createThread", {
        "uri": uri, "text": "look here",
        "range": {"start": {"line": 5, "character": 0}, "end": {"line": 5, "character": 0}}})
    bob_uri = await bob.open("app.py")
    await bob.wait_for("ensemble/didChangeThreads", lambda p: any(
        t["thread"]["id"] == created["id"] for t in p["threads"]))

    from lsprotocol import types as lsp
    top = lsp.Range(start=lsp.Position(line=0, character=0),
                    end=lsp.Position(line=0, character=0))
    bob.client.text_document_did_change(lsp.DidChangeTextDocumentParams(
        text_document=lsp.VersionedTextDocumentIdentifier(uri=bob_uri, version=2),
        content_changes=[lsp.TextDocumentContentChangePartial(range=top,
                                                               text="# one\n# two\n")]))
    moved = await bob.wait_for("ensemble/didChangeThreads", lambda p: any(
        t["thread"]["id"] == created["id"] and t["range"]
        and t["range"]["start"]["line"] == 7 for t in p["threads"]))
    assert moved["threads"][0]["outdated"] is False
    listed = await bob.request("ensemble/threads", {"uri": bob_uri})
    assert listed["threads"][0]["range"]["start"]["line"] == 7


async def test_plain_client_sees_peer_carets_as_inlay_hints(daemons: Any, relay: Any,
                                                            tmp_path: Path) -> None:
    """A client without the extension asks for inlay hints and gets the peer's caret."""
    from lsprotocol import types as lsp

    alice, bob = await pair(daemons, relay, tmp_path)
    uri = await alice.open("app.py")
    bob_uri = await bob.open("app.py")
    alice.notify("ensemble/cursor", {"uri": uri, "selections": [
        {"anchor": {"line": 2, "character": 4}, "active": {"line": 2, "character": 4}}]})
    await bob.wait_for("ensemble/didChangePeers", lambda p: any(
        v["user"]["id"] == "alice" and v.get("selections") for v in p["peers"]))
    hints = await bob.client.text_document_inlay_hint_async(lsp.InlayHintParams(
        text_document=lsp.TextDocumentIdentifier(uri=bob_uri),
        range=lsp.Range(start=lsp.Position(line=0, character=0),
                        end=lsp.Position(line=7, character=0))))
    assert [(h.position.line, h.position.character, h.label) for h in hints] == [
        (2, 4, "◀ Alice")]
