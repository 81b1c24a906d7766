"""Migration 2 (projects) on a database written with the schema before it."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import bcrypt

from relay.adapters.sqlite_migrations import MIGRATIONS
from relay.adapters.sqlite_store import SqliteStore
from tests.helpers import WireClient, sign_in
from tests.relayproc import RelayProcess
from wire import (
    Anchor,
    Comment,
    ErrorCode,
    InviteCreate,
    InviteResult,
    RepoIdentity,
    SessionCreate,
    SessionJoin,
    SessionState,
    Thread,
    UserRef,
)
from wire.schema import to_wire

PASSWORD = "correct horse"
ROOT = "commit:abc123"

# (id, host, repo_key, created_at, ended)
SESSIONS = [
    ("s1", "alice", ROOT, 10.0, True),
    ("s2", "alice", ROOT, 20.0, False),
    ("s3", "mallory", ROOT, 30.0, False),  # a stranger who claimed alice's repository
    ("s4", "alice", "remote:github.com/acme/other", 40.0, False),
]
# (session, user, role, joined_at, removed_at)
MEMBERS = [
    ("s1", "alice", "host", 10.0, None), ("s1", "bob", "editor", 11.0, None),
    ("s1", "carol", "editor", 12.0, 15.0),
    ("s2", "alice", "host", 20.0, None), ("s2", "bob", "viewer", 21.0, None),
    ("s3", "mallory", "host", 30.0, None),
    ("s4", "alice", "host", 40.0, None), ("s4", "carol", "editor", 41.0, None),
]
THREADS = [("t1", "s1"), ("t2", "s2"), ("t3", "s3"), ("t4", "s4")]


def _old_database(path: Path) -> None:
    """A database as the relay wrote it before projects existed (migration 1 only)."""
    db = sqlite3.connect(path)
    db.execute("CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, applied_at REAL)")
    for statement in MIGRATIONS[0].split(";"):
        if statement.strip():
            db.execute(statement)
    db.execute("INSERT INTO schema_migrations VALUES (1, 0)")
    pw = bcrypt.hashpw(PASSWORD.encode(), bcrypt.gensalt(4)).decode()
    for name in ("alice", "bob", "carol", "mallory"):
        db.execute("INSERT INTO users VALUES (?, ?, ?, 1)", [name, name.title(), pw])
    for sid, host, key, at, ended in SESSIONS:
        repo = json.dumps({"root_commit": "abc123"} if key == ROOT else {"remote": key[7:]})
        db.execute("INSERT INTO sessions (id, name, host, repo, repo_key, created_at, ended_at,"
                   " last_seq) VALUES (?, ?, ?, ?, ?, ?, ?, 5)",
                   [sid, sid, host, repo, key, at, at + 1 if ended else None])
    for row in MEMBERS:
        db.execute("INSERT INTO members VALUES (?, ?, ?, ?, ?)", list(row))
    for tid, sid in THREADS:
        host = next(s[1] for s in SESSIONS if s[0] == sid)
        key = next(s[2] for s in SESSIONS if s[0] == sid)
        author = UserRef(id=host, name=host.title())
        first = Comment(id=tid, thread_id=tid, author=author, text=f"text of {tid}",
                        created_at=50.0)
        thread = Thread(id=tid, session_id=sid, anchor=Anchor(path="a.py", start_line=0,
                                                             end_line=0, text=["x"]),
                        author=author, created_at=50.0, comments=[])
        db.execute("INSERT INTO threads VALUES (?, ?, ?, 50, ?)",
                   [tid, sid, key, json.dumps(to_wire(thread))])
        db.execute("INSERT INTO comments VALUES (?, ?, 50, ?)",
                   [tid, tid, json.dumps(to_wire(first))])
    db.commit()
    db.close()


async def test_existing_sessions_threads_and_members_move_into_projects(tmp_path):
    path = tmp_path / "relay.sqlite3"
    _old_database(path)
    store = SqliteStore(path)
    await store.open()
    sessions = {sid: await store.get_session(sid) for sid, *_ in SESSIONS}
    pid = {sid: s.project_id for sid, s in sessions.items() if s is not None}
    assert len(pid) == 4 and all(pid.values())
    # One project per (host, repository): s1 and s2 share one; the stranger's is apart.
    assert pid["s1"] == pid["s2"] and len({pid["s1"], pid["s3"], pid["s4"]}) == 3
    projects = {sid: await store.get_project(p) for sid, p in pid.items()}
    assert {sid: p.owner for sid, p in projects.items() if p} == {
        "s1": "alice", "s2": "alice", "s3": "mallory", "s4": "alice"}
    assert projects["s1"] is not None and projects["s1"].created_at == 10.0
    assert (await store.latest_project("alice", ROOT)) == projects["s1"]
    assert [t.id for t in await store.project_threads(pid["s1"])] == ["t1", "t2"]
    assert [t.id for t in await store.project_threads(pid["s3"])] == ["t3"]
    assert [t.id for t in await store.project_threads(pid["s4"])] == ["t4"]
    found = await store.thread("t1")
    assert found is not None and found[1] == pid["s1"]
    assert found[0].comments[0].text == "text of t1"

    async def member(project: str, user: str) -> tuple[bool, float | None] | None:
        m = await store.project_member(project, user)
        return None if m is None else (True, m.removed_at)

    assert await member(pid["s1"], "alice") == (True, None)
    assert await member(pid["s1"], "bob") == (True, None)
    assert await member(pid["s1"], "carol") == (True, 15.0)  # removed: stays removed
    assert await member(pid["s1"], "mallory") is None
    assert await member(pid["s4"], "carol") == (True, None)
    await store.close()
    # Reopening applies nothing twice.
    store = SqliteStore(path)
    await store.open()
    assert len(await store.project_threads(pid["s1"])) == 2
    await store.close()


async def test_the_relay_on_a_migrated_database_shows_each_owner_their_own_threads(tmp_path):
    _old_database(tmp_path / "relay.sqlite3")
    relay = RelayProcess(tmp_path).start()
    try:
        alice = await WireClient.connect(relay.url, await sign_in(relay.url, "alice", PASSWORD))
        state = await alice.request(SessionCreate(name="again", repo=RepoIdentity(
            root_commit="ABC123")), SessionState)
        assert sorted(t.id for t in state.threads) == ["t1", "t2"]
        mallory = await WireClient.connect(relay.url,
                                           await sign_in(relay.url, "mallory", PASSWORD))
        theirs = await mallory.request(SessionCreate(name="x", repo=RepoIdentity(
            root_commit="abc123")), SessionState)
        assert [t.id for t in theirs.threads] == ["t3"]
        bob = await WireClient.connect(relay.url, await sign_in(relay.url, "bob", PASSWORD))
        assert sorted(t.id for t in (await bob.join(session_id="s2")).threads) == ["t1", "t2"]
        carol = await WireClient.connect(relay.url, await sign_in(relay.url, "carol", PASSWORD))
        err = await carol.error(SessionJoin(session_id="s1"))
        assert err.code == ErrorCode.REMOVED
        inv = await alice.request(InviteCreate(session_id=state.session.session_id,
                                               role="viewer"), InviteResult)
        back = await carol.join(invite=inv.invite.token)
        assert sorted(t.id for t in back.threads) == ["t1", "t2"]
    finally:
        relay.kill()
