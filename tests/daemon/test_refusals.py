"""What the relay refuses never shows: the daemon refuses locally what it knows the relay
would refuse (same code, nothing queued or sent), and after a refusal it could not
predict it tells the editor the refused id and the current state of the target."""

from __future__ import annotations

import re
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from daemon_harness import DaemonClient
from test_two_daemons import pair

pytestmark = pytest.mark.timeout(180)

DURABLE = ("chat_send", "chat_edit", "chat_delete", "reaction_toggle", "thread_create",
           "comment_reply", "comment_edit", "comment_delete", "thread_resolve")


def frames_in(relay: Any) -> dict[str, int]:
    """Durable frames the relay received so far, by type (its /metrics)."""
    with urllib.request.urlopen(relay.http_url + "/metrics", timeout=10) as resp:
        text = resp.read().decode()
    out = dict.fromkeys(DURABLE, 0)
    for kind, n in re.findall(r'ensemble_messages_in_total\{type="(\w+)"\} (\d+)', text):
        if kind in out:
            out[kind] = int(n)
    return out


async def code_of(d: DaemonClient, method: str, params: dict[str, Any]) -> str:
    exc = await d.error_of(method, params)
    code: str = exc.data["code"]
    return code


async def alice_chat_and_thread(alice: DaemonClient, bob: DaemonClient) -> tuple[str, str]:
    uri = await alice.open("app.py")
    msg = (await alice.request("ensemble/sendChat", {"text": "hello"}))["id"]
    tid = (await alice.request("ensemble/createThread", {
        "uri": uri, "text": "look here",
        "range": {"start": {"line": 0, "character": 0}, "end": {"line": 0, "character": 0}},
    }))["id"]
    await bob.wait_for("ensemble/didReceiveChat", lambda p: any(
        m["id"] == msg and m["seq"] > 0 for m in p["messages"]))
    await bob.wait_for("ensemble/didChangeThreads", lambda p: any(
        t["thread"]["id"] == tid for t in p["threads"]))
    await alice.wait_for("ensemble/didChangeOutbox", lambda p: p["pending"] == 0)
    return msg, tid


async def test_what_the_relay_would_refuse_is_refused_before_the_outbox(
        daemons: Any, relay: Any, tmp_path: Path) -> None:
    """A viewer's thread, reply and resolve, editing or deleting another's message or
    comment: refused at once with the relay's code; nothing queued, nothing sent."""
    alice, bob = await pair(daemons, relay, tmp_path, bob_role="viewer")
    msg, tid = await alice_chat_and_thread(alice, bob)
    uri = await bob.open("app.py")
    before = frames_in(relay)
    outbox_notes = len(bob.notes["ensemble/didChangeOutbox"])
    expected = [
        ("ensemble/editChat", {"target_id": msg, "text": "mine now"}, "not_author"),
        ("ensemble/deleteChat", {"target_id": msg}, "not_author"),
        ("ensemble/createThread", {"uri": uri, "text": "can I?", "range": {
            "start": {"line": 0, "character": 0}, "end": {"line": 0, "character": 0}}},
         "forbidden"),
        ("ensemble/reply", {"thread_id": tid, "text": "me too"}, "forbidden"),
        ("ensemble/resolveThread", {"thread_id": tid, "resolved": True}, "forbidden"),
        ("ensemble/editComment", {"target_id": tid, "text": "changed"}, "forbidden"),
        ("ensemble/deleteComment", {"target_id": tid}, "not_author"),
        ("ensemble/deleteThread", {"thread_id": tid}, "forbidden"),
    ]
    for method, params, code in expected:
        assert await code_of(bob, method, params) == code, method
    # a viewer may chat and react: those still go out
    ok = await bob.request("ensemble/react", {"target_id": msg, "emoji": "👍"})
    await alice.wait_for("ensemble/didReceiveChat", lambda p: any(
        m["id"] == msg and m.get("reactions", {}).get("👍") == ["bob"] for m in p["messages"]))
    assert ok["id"]
    after = frames_in(relay)
    assert {k: after[k] - before[k] for k in DURABLE if after[k] != before[k]} == {
        "reaction_toggle": 1}
    # only the reaction was ever queued
    assert all(p["pending"] <= 1 for p in bob.notes["ensemble/didChangeOutbox"][outbox_notes:])
    state = await bob.request("ensemble/state")
    assert state["outbox"] == 0
    assert not [e for e in bob.notes["ensemble/didError"] if e.get("id")]


async def test_a_refusal_the_daemon_cannot_predict_rolls_back(daemons: Any, relay: Any,
                                                              tmp_path: Path) -> None:
    """Bob edits his message and his comment after the host deleted them (the relay
    answers not_found): the editor gets the refused id, and the message and thread as
    they are now, so the optimistic edit is undone at once."""
    alice, bob = await pair(daemons, relay, tmp_path)
    uri = await bob.open("app.py")
    msg = (await bob.request("ensemble/sendChat", {"text": "typo"}))["id"]
    tid = (await bob.request("ensemble/createThread", {
        "uri": uri, "text": "first",
        "range": {"start": {"line": 0, "character": 0}, "end": {"line": 0, "character": 0}},
    }))["id"]
    reply = (await bob.request("ensemble/reply", {"thread_id": tid, "text": "second"}))["id"]
    await alice.wait_for("ensemble/didChangeThreads", lambda p: any(
        len(t["thread"]["comments"]) == 2 for t in p["threads"] if t["thread"]["id"] == tid))
    await alice.wait_for("ensemble/didReceiveChat", lambda p: any(
        m["id"] == msg for m in p["messages"]))
    await alice.request("ensemble/deleteChat", {"target_id": msg})
    await alice.request("ensemble/deleteComment", {"target_id": reply})
    await bob.wait_for("ensemble/didReceiveChat", lambda p: any(
        m["id"] == msg and m["deleted"] for m in p["messages"]))
    await bob.wait_for("ensemble/didChangeThreads", lambda p: any(
        c["id"] == reply and c.get("deleted") for t in p["threads"]
        for c in t["thread"]["comments"]))

    chats = len(bob.notes["ensemble/didReceiveChat"])
    threads = len(bob.notes["ensemble/didChangeThreads"])
    edit = (await bob.request("ensemble/editChat", {"target_id": msg, "text": "fixed"}))["id"]
    err = await bob.wait_for("ensemble/didError", lambda p: p.get("id") == edit)
    assert err["code"] == "not_found" and err["method"] == "ensemble/editChat"
    assert edit not in err["message"]  # ids are not for people
    restored = await bob.wait_for("ensemble/didReceiveChat", lambda p: any(
        m["id"] == msg for m in p["messages"]), after=chats)
    assert [m["deleted"] for m in restored["messages"] if m["id"] == msg] == [True]

    edit2 = (await bob.request("ensemble/editComment",
                               {"target_id": reply, "text": "changed"}))["id"]
    err2 = await bob.wait_for("ensemble/didError", lambda p: p.get("id") == edit2)
    assert err2["code"] == "not_found" and err2["method"] == "ensemble/editComment"
    thread = await bob.wait_for("ensemble/didChangeThreads", lambda p: any(
        t["thread"]["id"] == tid for t in p["threads"]), after=threads)
    comments = next(t for t in thread["threads"] if t["thread"]["id"] == tid)["thread"]["comments"]
    assert [(c["id"], c["text"], c.get("deleted")) for c in comments] == [
        (tid, "first", False), (reply, "", True)]
    await bob.wait_for("ensemble/didChangeOutbox", lambda p: p["pending"] == 0)
