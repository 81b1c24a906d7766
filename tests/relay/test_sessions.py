"""Sessions, invites, joining, leaving, ending."""

from __future__ import annotations

import asyncio

from tests.helpers import RelayRefused, WireClient, connected, metric, new_id
from wire import (
    Ack,
    ChatSend,
    CursorUpdate,
    ErrorCode,
    Event,
    InviteCreate,
    InviteList,
    InviteListResult,
    InviteResult,
    InviteRevoke,
    Ok,
    Position,
    Selection,
    SessionEnd,
    SessionJoin,
    SessionLeave,
    SessionList,
    SessionListResult,
    UserJoined,
    UserLeft,
)


async def _invite(host: WireClient, sid: str, role: str = "editor", **kw: object) -> str:
    res = await host.request(InviteCreate(session_id=sid, role=role, **kw), InviteResult)  # type: ignore[arg-type]
    return res.invite.token


async def test_creator_is_host_and_session_records_repository_identity(relay):
    alice = await connected(relay.url, "alice")
    state = await alice.create_session("review", remote="git@github.com:Acme/App.git",
                                       root_commit="abc123")
    assert state.you.role == "host" and state.session.role == "host"
    assert state.session.host.id == alice.user_id
    assert state.session.repo.remote == "git@github.com:Acme/App.git"
    assert state.session.repo.root_commit == "abc123"
    assert state.session.name == "review"
    await alice.close()


async def test_session_list_returns_my_sessions_only(relay):
    alice = await connected(relay.url, "alice")
    bob = await connected(relay.url, "bob")
    s1 = (await alice.create_session("one")).session.session_id
    s2 = (await bob.create_session("two")).session.session_id
    mine = await alice.request(SessionList(), SessionListResult)
    ids = {s.session_id for s in mine.sessions}
    assert s1 in ids and s2 not in ids
    await bob.join(invite=await _invite(alice, s1))
    theirs = await bob.request(SessionList(), SessionListResult)
    roles = {s.session_id: s.role for s in theirs.sessions}
    assert roles == {s1: "editor", s2: "host"}


async def test_join_by_invite_gives_the_invite_role_and_announces_the_participant(relay):
    alice = await connected(relay.url, "alice")
    sid = (await alice.create_session()).session.session_id
    token = await _invite(alice, sid, "viewer")
    bob = await connected(relay.url, "bob")
    state = await bob.join(invite=token)
    assert state.you.role == "viewer"
    assert {p.user.id for p in state.participants} == {alice.user_id, bob.user_id}
    joined = await alice.expect(UserJoined)
    assert joined.participant.user.id == bob.user_id
    event = await alice.expect(Event, predicate=lambda e: e.kind == "participant_joined")
    assert event.participant is not None and event.participant.role == "viewer"


async def test_member_rejoins_by_session_id_and_non_member_cannot(relay):
    alice = await connected(relay.url, "alice")
    sid = (await alice.create_session()).session.session_id
    bob = await connected(relay.url, "bob")
    err = await bob.error(SessionJoin(session_id=sid))
    assert err.code == ErrorCode.NOT_IN_SESSION
    await bob.join(invite=await _invite(alice, sid))
    await bob.close()
    again = await WireClient.connect(relay.url, await _token_of(relay, bob))
    state = await again.join(session_id=sid)
    assert state.you.role == "editor"


async def _token_of(relay, client: WireClient) -> str:
    from tests.helpers import sign_in
    return await sign_in(relay.url, client.user_id)


async def test_join_unknown_session_is_session_not_found(relay):
    alice = await connected(relay.url)
    err = await alice.error(SessionJoin(session_id="nope"))
    assert err.code == ErrorCode.SESSION_NOT_FOUND


async def test_invalid_invite_token_is_refused(relay):
    alice = await connected(relay.url)
    err = await alice.error(SessionJoin(invite="not-a-token"))
    assert err.code == ErrorCode.INVITE_INVALID


async def test_join_needs_a_session_id_or_an_invite(relay):
    alice = await connected(relay.url)
    err = await alice.error(SessionJoin())
    assert err.code == ErrorCode.BAD_MESSAGE


async def test_expired_invite_is_refused(relay):
    alice = await connected(relay.url, "alice")
    sid = (await alice.create_session()).session.session_id
    token = await _invite(alice, sid, expires_in=0.001)
    bob = await connected(relay.url, "bob")
    err = await bob.error(SessionJoin(invite=token))
    assert err.code == ErrorCode.INVITE_EXPIRED


async def test_revoked_invite_is_refused_and_listed_as_revoked(relay):
    alice = await connected(relay.url, "alice")
    sid = (await alice.create_session()).session.session_id
    res = await alice.request(InviteCreate(session_id=sid), InviteResult)
    await alice.request(InviteRevoke(session_id=sid, invite_id=res.invite.invite_id), Ok)
    listed = await alice.request(InviteList(session_id=sid), InviteListResult)
    assert [i.revoked for i in listed.invites] == [True]
    bob = await connected(relay.url, "bob")
    err = await bob.error(SessionJoin(invite=res.invite.token))
    assert err.code == ErrorCode.INVITE_INVALID
    err = await alice.error(InviteRevoke(session_id=sid, invite_id="missing"))
    assert err.code == ErrorCode.NOT_FOUND


async def test_invite_with_max_uses_runs_out(relay):
    alice = await connected(relay.url, "alice")
    sid = (await alice.create_session()).session.session_id
    token = await _invite(alice, sid, max_uses=1)
    bob = await connected(relay.url, "bob")
    await bob.join(invite=token)
    carol = await connected(relay.url, "carol")
    err = await carol.error(SessionJoin(invite=token))
    assert err.code == ErrorCode.INVITE_INVALID


async def test_invite_with_bad_expiry_or_uses_is_invalid_value(relay):
    alice = await connected(relay.url)
    sid = (await alice.create_session()).session.session_id
    assert (await alice.error(InviteCreate(session_id=sid, expires_in=-1))).code \
        == ErrorCode.INVALID_VALUE
    assert (await alice.error(InviteCreate(session_id=sid, max_uses=0))).code \
        == ErrorCode.INVALID_VALUE


async def test_leave_announces_user_left_and_stops_delivery(relay):
    alice = await connected(relay.url, "alice")
    sid = (await alice.create_session()).session.session_id
    bob = await connected(relay.url, "bob")
    await bob.join(invite=await _invite(alice, sid))
    await bob.request(SessionLeave(session_id=sid), Ok)
    left = await alice.expect(UserLeft)
    assert left.user_id == bob.user_id and left.reason == "left"
    err = await bob.error(ChatSend(id=new_id(), session_id=sid, text="hi"))
    assert err.code == ErrorCode.NOT_IN_SESSION


async def test_disconnect_announces_user_left_disconnected(relay):
    alice = await connected(relay.url, "alice")
    sid = (await alice.create_session()).session.session_id
    bob = await connected(relay.url, "bob")
    await bob.join(invite=await _invite(alice, sid))
    await bob.close()
    left = await alice.expect(UserLeft)
    assert left.reason == "disconnected"


async def _session_clients_become(relay, n: int) -> None:
    """Wait until the relay has handled connects and disconnects down to ``n`` clients."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 10
    while (now := await asyncio.to_thread(metric, relay.http_url, "ensemble_session_clients")
           ) != n:
        assert loop.time() < deadline, f"{now} session clients, waiting for {n}"
        await asyncio.sleep(0.02)


async def test_second_window_of_same_user_keeps_user_online(relay_factory):
    """Closing one of bob's two windows announces nothing and leaves him online; closing the
    second announces exactly one user_left."""
    relay = relay_factory()  # its own relay: the client count below is this test's alone
    alice = await connected(relay.url, "alice")
    sid = (await alice.create_session()).session.session_id
    bob1 = await connected(relay.url, "bob")
    await bob1.join(invite=await _invite(alice, sid))
    bob2 = await WireClient.connect(relay.url, await _token_of(relay, bob1))
    await bob2.join(session_id=sid)
    await _session_clients_become(relay, 3)
    await bob1.close()
    await _session_clients_become(relay, 2)  # the relay has handled the first close
    state = await alice.join(session_id=sid)
    assert [p.online for p in state.participants if p.user.id == bob1.user_id] == [True]
    await alice.barrier()
    assert alice.take(UserLeft) == []
    await bob2.close()
    assert (await alice.expect(UserLeft)).user_id == bob1.user_id
    await _session_clients_become(relay, 1)
    await alice.barrier()
    assert alice.take(UserLeft) == []  # one user_left, not one per window


async def test_end_session_makes_it_read_only_for_everyone(relay):
    alice = await connected(relay.url, "alice")
    sid = (await alice.create_session()).session.session_id
    bob = await connected(relay.url, "bob")
    await bob.join(invite=await _invite(alice, sid))
    await alice.request(ChatSend(id=new_id(), session_id=sid, text="before"), Ack)
    await alice.request(SessionEnd(session_id=sid), Ok)
    ended = await bob.expect(Event, predicate=lambda e: e.kind == "session_ended")
    assert ended.actor.id == alice.user_id
    err = await bob.error(ChatSend(id=new_id(), session_id=sid, text="after"))
    assert err.code == ErrorCode.SESSION_ENDED
    err = await bob.error(CursorUpdate(session_id=sid, path="a.py", selections=[
        Selection(anchor=Position(line=0, character=0), active=Position(line=0, character=0))]))
    assert err.code == ErrorCode.SESSION_ENDED
    err = await alice.error(InviteCreate(session_id=sid))
    assert err.code == ErrorCode.SESSION_ENDED
    # Still readable: sockets stay and history is there.
    state = await bob.join(session_id=sid)
    assert state.session.ended_at is not None
    assert [m.text for m in state.chat] == ["before"]
    listed = await alice.request(SessionList(), SessionListResult)
    assert listed.sessions[0].ended_at is not None


async def test_session_full_refuses_more_online_participants(relay_factory):
    relay = relay_factory("--max-participants", "2")
    alice = await connected(relay.url, "alice")
    sid = (await alice.create_session()).session.session_id
    token = await _invite(alice, sid)
    bob = await connected(relay.url, "bob")
    await bob.join(invite=token)
    carol = await connected(relay.url, "carol")
    err = await carol.error(SessionJoin(invite=token))
    assert err.code == ErrorCode.SESSION_FULL
    await bob.close()
    await alice.expect(UserLeft)
    await carol.join(invite=token)


async def test_bad_session_name_is_invalid_value(relay):
    alice = await connected(relay.url)
    from wire import RepoIdentity, SessionCreate
    err = await alice.error(SessionCreate(name="  ", repo=RepoIdentity()))
    assert err.code == ErrorCode.INVALID_VALUE


async def test_request_errors_are_not_raised_as_replies(relay):
    alice = await connected(relay.url)
    try:
        await alice.request(SessionJoin(session_id="x"), Ok)
    except RelayRefused as exc:
        assert exc.code == ErrorCode.SESSION_NOT_FOUND
    else:
        raise AssertionError("join of a missing session succeeded")
