"""Presence: cursors, viewports, focus, status, viewers, stale expiry; ephemeral fan-out."""

from __future__ import annotations

import json
import time

from tests.helpers import WireClient, connected, user
from wire import (
    CursorUpdate,
    FocusUpdate,
    Heartbeat,
    InviteCreate,
    InviteResult,
    Position,
    PresenceUpdate,
    Range,
    Selection,
    StatusSet,
    UserJoined,
    UserLeft,
    ViewersQuery,
    ViewersResult,
    ViewportUpdate,
)


def sel(line: int, ch: int = 0) -> Selection:
    return Selection(anchor=Position(line=line, character=ch),
                     active=Position(line=line, character=ch + 1))


def peer(frame: PresenceUpdate, uid: str):  # type: ignore[no-untyped-def]
    return next((p for p in frame.peers if p.user_id == uid), None)


async def test_cursor_with_multiple_selections_reaches_peers_but_not_the_sender(trio):
    await trio.editor.send(CursorUpdate(session_id=trio.sid, path="src/a.py",
                                        selections=[sel(1), sel(5, 2)], sent_at=time.time()))
    for c in (trio.host, trio.viewer):
        frame = await c.expect(PresenceUpdate,
                               predicate=lambda f: peer(f, trio.editor.user_id) is not None)
        p = peer(frame, trio.editor.user_id)
        assert p.cursor is not None and p.cursor.path == "src/a.py"
        assert [s.active.line for s in p.cursor.selections] == [1, 5]
        assert p.sent_at is not None
    await trio.editor.barrier()
    assert not [f for f in trio.editor.take(PresenceUpdate)
                if peer(f, trio.editor.user_id) is not None]


async def test_viewport_focus_and_status_are_shared_and_answer_the_viewers_query(trio):
    await trio.editor.send(ViewportUpdate(session_id=trio.sid, path="src/b.py", ranges=[
        Range(start=Position(line=0, character=0), end=Position(line=40, character=0))]))
    await trio.viewer.send(FocusUpdate(session_id=trio.sid, path="src/b.py"))
    await trio.viewer.send(StatusSet(session_id=trio.sid, status="away"))
    await trio.host.expect(PresenceUpdate, predicate=lambda f: any(
        p.status == "away" for p in f.peers))
    res = await trio.host.request(ViewersQuery(session_id=trio.sid, path="src/b.py"),
                                  ViewersResult)
    assert sorted(u.id for u in res.users) == sorted([trio.editor.user_id, trio.viewer.user_id])
    res = await trio.host.request(ViewersQuery(session_id=trio.sid, path="src/c.py"),
                                  ViewersResult)
    assert res.users == []
    await trio.viewer.send(FocusUpdate(session_id=trio.sid, path=None))
    await trio.host.expect(PresenceUpdate, predicate=lambda f: any(
        p.focus == "" for p in f.peers))
    res = await trio.host.request(ViewersQuery(session_id=trio.sid, path="src/b.py"),
                                  ViewersResult)
    assert [u.id for u in res.users] == [trio.editor.user_id]


async def test_join_state_carries_peers_latest_presence(relay, trio):
    await trio.editor.send(CursorUpdate(session_id=trio.sid, path="src/a.py",
                                        selections=[sel(7)]))
    await trio.host.expect(PresenceUpdate)
    inv = await trio.host.request(InviteCreate(session_id=trio.sid), InviteResult)
    late = await connected(relay.url, "late")
    state = await late.join(invite=inv.invite.token)
    p = next(p for p in state.presence if p.user_id == trio.editor.user_id)
    assert p.cursor is not None and p.cursor.selections[0].active.line == 7
    assert all(p.user_id != late.user_id for p in state.presence)


async def test_latest_cursor_wins_when_many_updates_are_sent_fast(trio):
    for line in range(60):
        await trio.editor.send(CursorUpdate(session_id=trio.sid, path="f.py",
                                            selections=[sel(line)]))
    await trio.host.expect(PresenceUpdate, predicate=lambda f: any(
        p.cursor is not None and p.cursor.selections[0].active.line == 59 for p in f.peers))


async def test_invalid_path_is_refused(trio):
    err = await trio.editor.error(CursorUpdate(session_id=trio.sid, path="/abs/path.py",
                                               selections=[sel(0)]))
    assert err.code == "invalid_value"


async def test_silent_peer_expires_as_timeout_and_returns_on_its_next_frame(relay_factory):
    relay = relay_factory("--presence-timeout", "1")
    host = await connected(relay.url, "host")
    sid = (await host.create_session()).session.session_id
    inv = await host.request(InviteCreate(session_id=sid), InviteResult)
    quiet = await connected(relay.url, "quiet")
    await quiet.join(invite=inv.invite.token)
    # The host keeps itself alive with heartbeats while the other stays silent.
    deadline = time.monotonic() + 10
    left = None
    while left is None and time.monotonic() < deadline:
        await host.send(Heartbeat())
        try:
            left = await host.expect(UserLeft, timeout=0.3)
        except AssertionError:
            continue
    assert left is not None and left.user_id == quiet.user_id and left.reason == "timeout"
    await quiet.send(Heartbeat())
    joined = await host.expect(UserJoined, predicate=lambda j: j.participant.user.id
                               == quiet.user_id)
    assert joined.participant.online


async def test_heartbeats_keep_presence_alive(relay_factory):
    relay = relay_factory("--presence-timeout", "1.2")
    host = await connected(relay.url, "host")
    sid = (await host.create_session()).session.session_id
    inv = await host.request(InviteCreate(session_id=sid), InviteResult)
    busy = await connected(relay.url, "busy")
    await busy.join(invite=inv.invite.token)
    end = time.monotonic() + 2.0
    while time.monotonic() < end:
        await busy.send(Heartbeat())
        await host.send(Heartbeat())
        try:
            left = await host.expect(UserLeft, timeout=0.2)
        except AssertionError:
            continue  # nobody left within this beat: keep beating
        raise AssertionError(f"{left.user_id} timed out despite heartbeats")




async def test_presence_encoding_is_negotiated_at_hello_old_clients_keep_the_named_form(relay):
    old = await connected(relay.url, "old")
    assert old.welcome is not None and old.welcome.presence is None
    sid = (await old.create_session()).session.session_id
    name, token = await user(relay.url, "new")
    new = await WireClient.connect(relay.url, token, user_id=name, presence=2)
    assert new.welcome is not None and new.welcome.presence == 2
    invite = (await old.request(InviteCreate(session_id=sid), InviteResult)).invite.token
    await new.join(invite=invite)
    future_name, future_token = await user(relay.url, "future")
    future = await WireClient.connect(relay.url, future_token, user_id=future_name, presence=9)
    assert future.welcome is not None and future.welcome.presence == 2  # the newest it has

    at = 1764000000.5
    await new.send(CursorUpdate(session_id=sid, path="src/ä.py", selections=[sel(3, 4)],
                                sent_at=at, content_hash="c" * 40))
    got = await old.expect(PresenceUpdate, predicate=lambda f: peer(f, name) is not None)
    await old.send(CursorUpdate(session_id=sid, path="src/ä.py", selections=[sel(3, 4)],
                                sent_at=at, content_hash="c" * 40))
    short = await new.expect(PresenceUpdate, predicate=lambda f: peer(f, old.user_id) is not None)
    assert short.session_id == sid
    p = peer(short, old.user_id)
    assert p.cursor.path == "src/ä.py" and p.cursor.content_hash == "c" * 40
    assert [(s.anchor.character, s.active.character) for s in p.cursor.selections] == [(4, 5)]
    assert p.sent_at == at
    named = next(r for r in old.raw if r.startswith('{"type":"presence"') and name in r)
    compact = next(r for r in new.raw if r.startswith('{"type":"p",') and old.user_id in r)
    assert compact.count(sid) == 1 and '"user_id"' not in compact
    assert json.loads(compact) == {"type": "p", "s": sid, "p": [
        {"c": ["src/ä.py", [3, 4, 3, 5], "c" * 40], "t": at, "u": old.user_id}]}
    assert len(compact.encode()) < len(named.encode()) * 0.6
    assert peer(got, name).cursor.selections[0].active.character == 5
    for c in (old, new, future):
        await c.close()
