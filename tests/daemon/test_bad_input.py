"""Bad input becomes clear LSP errors; the daemon stays up and responsive."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.timeout(120)

RANGE0 = {"start": {"line": 0, "character": 0}, "end": {"line": 0, "character": 0}}


async def test_requests_before_sign_in_fail_with_not_signed_in(daemons: Any, relay: Any
                                                               ) -> None:
    """Without a token every relay-bound request answers -32803 with code not_signed_in."""
    d = await daemons("alice", relay.url)
    for method, params in [("ensemble/createSession", {"name": "x"}),
                           ("ensemble/sendChat", {"text": "hi"}),
                           ("ensemble/listSessions", {}),
                           ("ensemble/joinSession", {"invite": "nope"})]:
        exc = await d.error_of(method, params)
        assert exc.code == -32803 and exc.data == {"code": "not_signed_in"}, method
        assert "sign in" in str(exc)
    state = await d.request("ensemble/state")
    assert state["connection"]["state"] == "signed_out"


async def test_requests_outside_a_session_fail_with_not_in_session(daemons: Any, relay: Any
                                                                   ) -> None:
    """Signed in but in no session: session requests answer not_in_session."""
    d = await daemons("alice", relay.url)
    await d.request("ensemble/signUp", {"username": "alice", "password": "correct horse 1"})
    for method, params in [("ensemble/sendChat", {"text": "hi"}),
                           ("ensemble/threads", {}),
                           ("ensemble/createInvite", {}),
                           ("ensemble/follow", {"user_id": "bob"})]:
        exc = await d.error_of(method, params)
        assert exc.code == -32803 and exc.data == {"code": "not_in_session"}, method


async def test_malformed_params_and_positions(daemons: Any, relay: Any, tmp_path: Path) -> None:
    """Wrong types, missing fields, bad ranges and unknown files give -32602 / unknown_file."""
    ws = tmp_path / "ws"
    ws.mkdir()
    (ws / "a.py").write_text("x = 1\ny = 2\n")
    d = await daemons("alice", relay.url, workspace=ws)
    await d.request("ensemble/signUp", {"username": "alice", "password": "correct horse 1"})
    await d.wait_for("ensemble/didChangeConnection", lambda p: p["state"] == "online")
    await d.request("ensemble/createSession", {"name": "s"})
    uri = await d.open("a.py")

    exc = await d.error_of("ensemble/sendChat", {"text": 42})
    assert exc.code == -32602 and "params.text: expected string" in str(exc)
    exc = await d.error_of("ensemble/createThread", {"uri": uri, "text": "t"})
    assert exc.code == -32602 and "params.range" in str(exc)
    exc = await d.error_of("ensemble/createThread", {"uri": uri, "text": "t", "range": {
        "start": {"line": 40, "character": 0}, "end": {"line": 41, "character": 0}}})
    assert exc.code == -32602 and "not inside the file" in str(exc)
    exc = await d.error_of("ensemble/createThread", {"uri": uri, "text": "t", "range": {
        "start": {"line": -1, "character": 0}, "end": {"line": 0, "character": 0}}})
    assert exc.code == -32602
    exc = await d.error_of("ensemble/createThread",
                           {"uri": "file:///etc/passwd", "text": "t", "range": RANGE0})
    assert exc.code == -32803 and exc.data == {"code": "unknown_file"}
    exc = await d.error_of("ensemble/setStatus", {"status": "sleeping"})
    assert exc.code == -32602 and "'active'" in str(exc)
    exc = await d.error_of("ensemble/sendChat", {"text": "   "})
    assert exc.code == -32602
    exc = await d.error_of("ensemble/joinSession", {})
    assert exc.code == -32602
    exc = await d.error_of("ensemble/joinSession", {"invite": "not-a-real-invite"})
    assert exc.code == -32803 and exc.data["code"] in ("invite_invalid", "not_found")

    d.notify("ensemble/cursor", {"uri": uri, "selections": [
        {"anchor": {"line": -3, "character": 0}, "active": {"line": 0, "character": 0}}]})
    err = await d.wait_for("ensemble/didError", lambda p: p["method"] == "ensemble/cursor")
    assert err["code"] == "invalid_params" and "negative" in err["message"]
    d.notify("ensemble/cursor", {"uri": uri, "selections": [
        {"anchor": {"line": 999, "character": 0}, "active": {"line": 999, "character": 0}}]})
    err = await d.wait_for("ensemble/didError", lambda p: "past the end" in p["message"])
    assert err["code"] == "invalid_params" and err["method"] == "ensemble/cursor"
    d.notify("ensemble/viewport", {"uri": uri, "ranges": "all"})
    err = await d.wait_for("ensemble/didError", lambda p: p["method"] == "ensemble/viewport")
    assert err["code"] == "invalid_params"
    # still alive and answering
    state = await d.request("ensemble/state")
    assert state["session"] is not None and state["outbox"] == 0


async def test_relay_down_keeps_daemon_responsive_and_offline(daemons: Any, tmp_path: Path
                                                              ) -> None:
    """No relay at the URL: the daemon answers at once, reports offline with a retry time,
    queues durable actions only inside a session and keeps them."""
    d = await daemons("alice", "ws://127.0.0.1:9", token="not-checked-offline")
    off = await d.wait_for("ensemble/didChangeConnection", lambda p: p["state"] == "offline")
    assert off["next_retry_at"] is not None and "reach" in off.get("detail", "")
    exc = await d.error_of("ensemble/createSession", {"name": "x"})
    assert exc.data == {"code": "offline"}
    exc = await d.error_of("ensemble/signIn", {"username": "alice", "password": "x" * 10})
    assert exc.data == {"code": "offline"}
    state = await d.request("ensemble/state")
    assert state["connection"]["state"] in ("offline", "connecting") and state["outbox"] == 0


async def test_rejected_token_ends_signed_out_without_retrying(daemons: Any, relay: Any) -> None:
    """A token the relay refuses leaves the daemon signed out (no retry loop), and signing in
    afterwards works."""
    d = await daemons("alice", relay.url, token="forged.token.value")
    out = await d.wait_for("ensemble/didChangeConnection",
                           lambda p: p["state"] == "signed_out" and p.get("detail"))
    assert "token" in out["detail"]
    exc = await d.error_of("ensemble/listSessions")
    assert exc.data == {"code": "not_signed_in"}
    await d.request("ensemble/signUp", {"username": "alice", "password": "correct horse 1"})
    await d.wait_for("ensemble/didChangeConnection", lambda p: p["state"] == "online")
    assert await d.request("ensemble/listSessions") == []
