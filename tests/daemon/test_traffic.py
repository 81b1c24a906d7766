"""Ephemeral traffic as a peer on the wire sees it: throttled, coalesced, converted."""

from __future__ import annotations

import asyncio
import re
import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from tests.helpers import WireClient, sign_up
from wire import PeerPresence, Position, PresenceUpdate

pytestmark = pytest.mark.timeout(120)

LINE = "s = 'héllo 🎉 wörld'"  # é, ö: 2 UTF-8 bytes, 1 UTF-16 unit; 🎉: 4 bytes, 2 units


async def setup(daemons: Any, relay: Any, tmp_path: Path, **opts: Any
                ) -> tuple[Any, WireClient, str]:
    alice, bob, uri, _ = await setup_session(daemons, relay, tmp_path, **opts)
    return alice, bob, uri


async def setup_session(daemons: Any, relay: Any, tmp_path: Path, **opts: Any
                        ) -> tuple[Any, WireClient, str, str]:
    ws = tmp_path / "ws"
    ws.mkdir()
    (ws / "a.py").write_text("\n".join([LINE] * 50) + "\n")
    alice = await daemons("alice", relay.url, workspace=ws, **opts)
    await alice.request("ensemble/signUp", {"username": "alice", "password": "correct horse 1"})
    await alice.wait_for("ensemble/didChangeConnection", lambda p: p["state"] == "online")
    await alice.request("ensemble/createSession", {"name": "s"})
    invite = await alice.request("ensemble/createInvite", {})
    bob = await WireClient.connect(relay.url, await sign_up(relay.url, "bob"), user_id="bob")
    state = await bob.join(invite=invite["token"])
    uri = await alice.open("a.py")
    return alice, bob, uri, state.session.session_id


def alice_states(bob: WireClient, key: str) -> list[PeerPresence]:
    out: list[PeerPresence] = []
    for frame in bob.take(PresenceUpdate):
        out += [p for p in frame.peers if p.user_id == "alice" and getattr(p, key) is not None]
    return out


def caret(line: int, character: int) -> dict[str, Any]:
    pos = {"line": line, "character": character}
    return {"anchor": pos, "active": pos}


async def wait_cursor(bob: WireClient, pred: Any, timeout: float = 15.0) -> PeerPresence:
    frame = await bob.expect(PresenceUpdate, timeout, lambda f: any(
        p.user_id == "alice" and p.cursor is not None and pred(p) for p in f.peers))
    return next(p for p in frame.peers if p.user_id == "alice" and p.cursor is not None)


async def test_cursor_updates_are_throttled_and_the_latest_goes_out(
        daemons: Any, relay: Any, tmp_path: Path) -> None:
    """200 caret moves in ~1 s at cursor_rate 10 reach the peer as at most ~12 updates,
    ending with the last position; repeating that position sends nothing."""
    alice, bob, uri = await setup(daemons, relay, tmp_path, cursor_rate=10.0)
    start = time.monotonic()
    for i in range(200):
        # the last move has a column no earlier move has, so the wait below matches it alone
        column = 7 if i == 199 else 1
        alice.notify("ensemble/cursor", {"uri": uri, "selections": [caret(i % 50, column)]})
        await asyncio.sleep(0.005)
    elapsed = time.monotonic() - start
    last = await wait_cursor(bob, lambda p: p.cursor.selections[0].active == Position(
        line=199 % 50, character=7))
    seen = 1 + len(alice_states(bob, "cursor"))
    assert seen <= elapsed * 10 + 3, (seen, elapsed)
    assert last.cursor is not None and last.cursor.path == "a.py"
    assert last.cursor.content_hash is not None

    for _ in range(20):
        alice.notify("ensemble/cursor", {"uri": uri, "selections": [caret(199 % 50, 7)]})
    alice.notify("ensemble/cursor", {"uri": "file:///elsewhere/secret.py",
                                     "selections": [caret(3, 0)]})
    # A marker after them: the next cursor bob gets from alice must be the marker. First the
    # coalescing interval (0.1 s) runs out and a daemon round trip passes, so that a wrongly
    # sent frame has left the coalescer and cannot be replaced by the marker.
    await asyncio.sleep(0.3)
    await alice.request("ensemble/state")
    alice.notify("ensemble/cursor", {"uri": uri, "selections": [caret(3, 5)]})
    following = await wait_cursor(bob, lambda p: True)
    assert following.cursor is not None and following.cursor.path == "a.py"
    assert following.cursor.selections[0].active == Position(line=3, character=5)


async def test_utf8_client_columns_are_utf16_on_the_wire(daemons: Any, relay: Any,
                                                         tmp_path: Path) -> None:
    """A UTF-8 client's caret after the emoji becomes the matching UTF-16 column."""
    alice, bob, uri = await setup(daemons, relay, tmp_path, encodings=["utf-8"])
    utf8_col = len(LINE[: LINE.index("🎉") + 1].encode("utf-8"))  # just after the emoji
    utf16_col = len(LINE[: LINE.index("🎉") + 1].encode("utf-16-le")) // 2
    assert (utf8_col, utf16_col) == (16, 13)
    alice.notify("ensemble/cursor", {"uri": uri, "selections": [caret(4, utf8_col)]})
    got = await wait_cursor(bob, lambda p: p.cursor.selections[0].active.line == 4)
    assert got.cursor is not None and got.cursor.selections[0].active.character == utf16_col


async def test_idle_and_away_after_inactivity_then_active_again(
        daemons: Any, relay: Any, tmp_path: Path) -> None:
    """Without activity the status goes idle then away; activity brings back active."""
    alice, bob, uri = await setup(daemons, relay, tmp_path, idle_after=0.6, away_after=1.5)
    # mark the start: a caret move is activity; statuses before it are not looked at
    alice.notify("ensemble/cursor", {"uri": uri, "selections": [caret(42, 0)]})
    await wait_cursor(bob, lambda p: p.cursor.selections[0].active.line == 42)
    bob.take(PresenceUpdate)
    seen: list[str] = []
    deadline = time.monotonic() + 30
    while seen[-3:] != ["idle", "away", "active"]:
        assert time.monotonic() < deadline, seen
        frame = await bob.expect(PresenceUpdate, 30)
        for p in frame.peers:
            if p.user_id == "alice" and p.status is not None:
                seen.append(p.status)
                if p.status == "away":
                    alice.notify("ensemble/activity", {})
    assert seen.index("idle") < seen.index("away")
    # alice's own editor hears of each automatic change too, for her own row
    for status in ("idle", "away", "active"):
        await alice.wait_for("ensemble/didChangeSession", lambda p, s=status: bool(
            p.get("session")) and p["session"]["you"]["status"] == s)


def _frames_out(relay: Any, kind: str) -> int:
    with urllib.request.urlopen(relay.http_url + "/metrics", timeout=10) as resp:
        text = resp.read().decode()
    m = re.search(rf'^ensemble_messages_out_total{{type="{kind}"}} (\d+)$', text, re.M)
    return int(m.group(1)) if m else 0


async def test_daemon_reads_peers_in_the_compact_presence_encoding(
        daemons: Any, relay: Any, tmp_path: Path) -> None:
    """The daemon asks for presence encoding 2; a peer's cursor, viewport and status reach
    the editor from `p` frames, while the peer (an encoding-1 client) gets `presence`."""
    alice, bob, uri, sid = await setup_session(daemons, relay, tmp_path)
    assert bob.welcome is not None and bob.welcome.presence is None
    await bob.send({"type": "cursor", "session_id": sid, "path": "a.py",
                    "selections": [caret(7, 3)], "sent_at": time.time()})
    await bob.send({"type": "viewport", "session_id": sid, "path": "a.py",
                    "ranges": [{"start": {"line": 2, "character": 0},
                                "end": {"line": 30, "character": 0}}]})
    await bob.send({"type": "status", "session_id": sid, "status": "idle"})

    def bob_seen(p: Any) -> bool:
        return any(v["user"]["id"] == "bob" and v.get("selections")
                   and v["selections"][0]["active"] == {"line": 7, "character": 3}
                   and v.get("visible") and v["status"] == "idle" for v in p["peers"])

    peers = await alice.wait_for("ensemble/didChangePeers", bob_seen)
    view = next(v for v in peers["peers"] if v["user"]["id"] == "bob")
    assert view["visible"][0]["start"]["line"] == 2 and view["visible"][0]["end"]["line"] == 30
    assert _frames_out(relay, "p") >= 1  # what alice's daemon got
    alice.notify("ensemble/cursor", {"uri": uri, "selections": [caret(5, 1)]})
    await wait_cursor(bob, lambda p: p.cursor.selections[0].active.line == 5)
    assert any(r.startswith('{"type":"presence"') for r in bob.raw)
    assert not any(r.startswith('{"type":"p",') for r in bob.raw)

