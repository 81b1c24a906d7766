"""Access to persisted threads follows project membership, never a claimed repository.

Written as an outsider would attack the relay: a hand-written client signs up, starts
its own sessions claiming a victim's repository and tries every thread action on the
victim's real ids.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from tests.helpers import RelayRefused, WireClient, connected, new_id, sign_in, user
from wire import (
    Ack,
    Anchor,
    CloseCode,
    CommentDelete,
    CommentEdit,
    CommentReply,
    ErrorCode,
    Event,
    ExportRequest,
    ExportResult,
    InviteCreate,
    InviteResult,
    Ok,
    ParticipantRemove,
    ReactionToggle,
    RepoIdentity,
    SessionCreate,
    SessionEnd,
    SessionJoin,
    SessionList,
    SessionListResult,
    SessionState,
    ThreadCreate,
    ThreadDelete,
    ThreadResolve,
)


def anchor(path: str = "src/app.py") -> Anchor:
    return Anchor(path=path, start_line=1, end_line=1, text=["secret()"], before=["def f():"])


@dataclass
class Victim:
    host: WireClient
    editor: WireClient
    sid: str
    thread_ids: list[str]
    comment_ids: list[str]


async def _victim(url: str, repo: RepoIdentity) -> Victim:
    """alice's session with bob as editor, two threads, replies and a reaction."""
    alice = await connected(url, "alice")
    state = await alice.request(SessionCreate(name="team", repo=repo), SessionState)
    sid = state.session.session_id
    inv = await alice.request(InviteCreate(session_id=sid, role="editor"), InviteResult)
    bob = await connected(url, "bob")
    await bob.join(invite=inv.invite.token)
    threads, comments = [], []
    for author, text in ((alice, "the api key is in vault/7"), (bob, "plan: rewrite auth")):
        tid = new_id()
        await author.request(ThreadCreate(id=tid, session_id=sid, anchor=anchor(), text=text),
                             Ack)
        rid = new_id()
        await author.request(CommentReply(id=rid, session_id=sid, thread_id=tid,
                                          text="internal only"), Ack)
        threads.append(tid)
        comments += [tid, rid]
    await bob.request(ReactionToggle(id=new_id(), session_id=sid, target_id=comments[0],
                                     emoji="+1"), Ack)
    return Victim(alice, bob, sid, threads, comments)


async def _attempts(c: WireClient, sid: str, v: Victim) -> list[tuple[str, str]]:
    """Every thread action on the victim's ids; (action, error code) for each."""
    out = []
    for tid in v.thread_ids:
        for msg in (
            CommentReply(id=new_id(), session_id=sid, thread_id=tid, text="pwned"),
            ThreadResolve(id=new_id(), session_id=sid, thread_id=tid, resolved=True),
            ThreadDelete(id=new_id(), session_id=sid, thread_id=tid),
        ):
            out.append((msg.TYPE, (await c.error(msg)).code))
    for cid in v.comment_ids:
        for msg in (
            CommentEdit(id=new_id(), session_id=sid, comment_id=cid, text="pwned"),
            CommentDelete(id=new_id(), session_id=sid, comment_id=cid),
            ReactionToggle(id=new_id(), session_id=sid, target_id=cid, emoji="-1"),
        ):
            out.append((msg.TYPE, (await c.error(msg)).code))
    return out


async def _assert_locked_out(url: str, token: str, repo: RepoIdentity, v: Victim) -> None:
    """The stranger, on a fresh connection (the rate limit is per connection)."""
    stranger = await WireClient.connect(url, token)
    state = await stranger.request(SessionCreate(name="mine", repo=repo), SessionState)
    assert state.threads == [], repo
    sid = state.session.session_id
    refused = await _attempts(stranger, sid, v)
    assert refused and all(code == ErrorCode.NOT_FOUND for _, code in refused), refused
    export = await stranger.request(ExportRequest(session_id=sid, format="json"), ExportResult)
    assert "internal only" not in export.content and "vault" not in export.content
    assert not [f for f in stranger.take(Event) if f.session_id == v.sid]
    await stranger.close()


async def _assert_intact(v: Victim) -> None:
    """The victim's threads are as the victim left them."""
    state = await v.host.join(session_id=v.sid)
    by_id = {t.id: t for t in state.threads}
    assert sorted(by_id) == sorted(v.thread_ids)
    for t in by_id.values():
        assert not t.resolved
        assert [c.text for c in t.comments][1] == "internal only"
        assert all(not c.deleted and c.edited_at is None for c in t.comments)
    assert by_id[v.thread_ids[0]].comments[0].reactions == {"+1": [v.editor.user_id]}


async def test_a_stranger_claiming_the_root_commit_sees_and_changes_no_thread(relay):
    root = uuid.uuid4().hex
    v = await _victim(relay.url, RepoIdentity(root_commit=root, remote="github.com/acme/x"))
    _, token = await user(relay.url, "mallory")
    for claimed in (root, root.upper(), f"  {root} "):
        await _assert_locked_out(relay.url, token, RepoIdentity(root_commit=claimed), v)
    mallory = await WireClient.connect(relay.url, token)
    # Naming the victim's project outright is refused too.
    err = await mallory.error(SessionCreate(name="x", repo=RepoIdentity(root_commit=root),
                                            project_id=(await v.host.join(
                                                session_id=v.sid)).session.project_id))
    assert err.code == ErrorCode.FORBIDDEN
    await _assert_intact(v)


async def test_a_stranger_claiming_the_remote_in_any_spelling_sees_and_changes_no_thread(relay):
    name = "w" + uuid.uuid4().hex[:8]
    v = await _victim(relay.url, RepoIdentity(remote=f"https://github.com/Acme/{name}.git"))
    _, token = await user(relay.url, "mallory")
    spellings = [
        f"github.com/acme/{name}",
        f"https://github.com/acme/{name}",
        f"git@github.com:acme/{name}.git",
        f"HTTPS://GITHUB.COM/ACME/{name.upper()}",
        f"https://github.com/acme/{name}.git",
        f"https://github.com/acme/{name}/",
        f"https://mallory@github.com/acme/{name}",
        f"ssh://git@github.com:22/acme/{name}.git",
        f"https://github.com:443/acme/{name}",
    ]
    for remote in spellings:
        await _assert_locked_out(relay.url, token, RepoIdentity(remote=remote), v)
    await _assert_intact(v)


async def test_a_stranger_cannot_write_into_threads_of_an_ended_session(relay):
    root = uuid.uuid4().hex
    v = await _victim(relay.url, RepoIdentity(root_commit=root))
    await v.host.request(SessionEnd(session_id=v.sid), Ok)
    _, token = await user(relay.url, "mallory")
    await _assert_locked_out(relay.url, token, RepoIdentity(root_commit=root), v)
    mallory = await WireClient.connect(relay.url, token)
    # A second account of the stranger, invited into the stranger's own session, fares no
    # better: membership in the stranger's project grants nothing in the victim's.
    state = await mallory.request(SessionCreate(name="again", repo=RepoIdentity(
        root_commit=root)), SessionState)
    sid = state.session.session_id
    inv = await mallory.request(InviteCreate(session_id=sid, role="editor"), InviteResult)
    eve = await connected(relay.url, "eve")
    joined = await eve.join(invite=inv.invite.token)
    assert joined.threads == []
    refused = await _attempts(eve, sid, v)
    assert all(code in (ErrorCode.NOT_FOUND, ErrorCode.FORBIDDEN) for _, code in refused)
    assert {code for action, code in refused if action != "thread_delete"} == {
        ErrorCode.NOT_FOUND}


async def test_the_owner_gets_the_threads_back_in_a_new_session_and_so_does_an_invited_editor(
        relay):
    root = uuid.uuid4().hex
    v = await _victim(relay.url, RepoIdentity(root_commit=root))
    first = await v.host.join(session_id=v.sid)
    await v.host.request(SessionEnd(session_id=v.sid), Ok)
    later = await v.host.request(SessionCreate(name="next day", repo=RepoIdentity(
        root_commit=root.upper(), remote="github.com/acme/other")), SessionState)
    assert later.session.project_id == first.session.project_id is not None
    assert sorted(t.id for t in later.threads) == sorted(v.thread_ids)
    sid = later.session.session_id
    carol = await connected(relay.url, "carol")
    inv = await v.host.request(InviteCreate(session_id=sid, role="editor"), InviteResult)
    joined = await carol.join(invite=inv.invite.token)
    assert sorted(t.id for t in joined.threads) == sorted(v.thread_ids)
    await carol.request(CommentReply(id=new_id(), session_id=sid, thread_id=v.thread_ids[0],
                                     text="still relevant"), Ack)
    # The owner may name the project explicitly; another repository starts a new one.
    named = await v.host.request(SessionCreate(name="named", repo=RepoIdentity(),
                                               project_id=later.session.project_id),
                                 SessionState)
    assert named.session.project_id == later.session.project_id
    assert sorted(t.id for t in named.threads) == sorted(v.thread_ids)
    fresh = await v.host.request(SessionCreate(name="elsewhere", repo=RepoIdentity(
        root_commit=uuid.uuid4().hex)), SessionState)
    assert fresh.threads == [] and fresh.session.project_id != later.session.project_id
    try:
        await v.host.request(SessionCreate(name="x", repo=RepoIdentity(),
                                           project_id="no-such-project"), SessionState)
        raise AssertionError("an unknown project was accepted")
    except RelayRefused as exc:
        assert exc.code == ErrorCode.NOT_FOUND


async def test_a_removed_member_loses_the_whole_project_until_a_new_invite(relay):
    """Removal revokes old and later threads, every live session of the project and every
    invite made before it; only an invite made after it lets the member back in."""
    root = uuid.uuid4().hex
    v = await _victim(relay.url, RepoIdentity(root_commit=root))
    alice, bob_name = v.host, v.editor.user_id
    # A second live session of the same project, which bob joined too.
    s2 = (await alice.request(SessionCreate(name="second", repo=RepoIdentity(root_commit=root)),
                              SessionState)).session.session_id
    old_s1 = await alice.request(InviteCreate(session_id=v.sid, role="editor"), InviteResult)
    old_s2 = await alice.request(InviteCreate(session_id=s2, role="editor"), InviteResult)
    token = await sign_in(relay.url, bob_name)
    bob2 = await WireClient.connect(relay.url, token)
    await bob2.join(invite=old_s2.invite.token)

    await alice.request(ParticipantRemove(session_id=v.sid, user_id=bob_name), Ok)
    assert await v.editor.wait_closed() == CloseCode.REMOVED
    assert await bob2.wait_closed() == CloseCode.REMOVED  # closed in the other session too
    later = new_id()
    await alice.request(ThreadCreate(id=later, session_id=s2, anchor=anchor(), text="after"), Ack)

    bob = await WireClient.connect(relay.url, token)
    listed = await bob.request(SessionList(), SessionListResult)
    assert {s.session_id for s in listed.sessions} & {v.sid, s2} == set()
    for sid in (v.sid, s2):
        assert (await bob.error(SessionJoin(session_id=sid))).code == ErrorCode.REMOVED
    for inv in (old_s1, old_s2):
        assert (await bob.error(SessionJoin(invite=inv.invite.token))).code == ErrorCode.REMOVED
    # Claiming the repository in a session of bob's own shows nothing either.
    own = await bob.request(SessionCreate(name="own", repo=RepoIdentity(root_commit=root)),
                            SessionState)
    assert own.threads == []
    for tid in (*v.thread_ids, later):
        err = await bob.error(CommentReply(id=new_id(), session_id=own.session.session_id,
                                           thread_id=tid, text="still here?"))
        assert err.code == ErrorCode.NOT_FOUND

    fresh = await alice.request(InviteCreate(session_id=s2, role="viewer"), InviteResult)
    back = await bob.join(invite=fresh.invite.token)
    assert sorted(t.id for t in back.threads) == sorted([*v.thread_ids, later])
    assert back.you.role == "viewer"


async def test_the_host_can_still_revoke_a_member_of_an_ended_session(relay):
    """A member of an ended session reads the project's later threads there, until the host
    removes them: removal stays possible after the end."""
    root = uuid.uuid4().hex
    v = await _victim(relay.url, RepoIdentity(root_commit=root))
    await v.host.request(SessionEnd(session_id=v.sid), Ok)
    s2 = (await v.host.request(SessionCreate(name="next", repo=RepoIdentity(root_commit=root)),
                               SessionState)).session.session_id
    later = new_id()
    await v.host.request(ThreadCreate(id=later, session_id=s2, anchor=anchor(), text="new"), Ack)
    again = await v.editor.join(session_id=v.sid)
    assert later in {t.id for t in again.threads}
    await v.host.join(session_id=v.sid)
    await v.host.request(ParticipantRemove(session_id=v.sid, user_id=v.editor.user_id), Ok)
    assert await v.editor.wait_closed() == CloseCode.REMOVED
    bob = await WireClient.connect(relay.url, await sign_in(relay.url, v.editor.user_id))
    assert (await bob.error(SessionJoin(session_id=v.sid))).code == ErrorCode.REMOVED
