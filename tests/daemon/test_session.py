"""Session life through the daemon: repo identity, catch-up, leave, removal, end."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest

from daemon.session.identity import normalize_remote, same_repository
from wire import RepoIdentity

pytestmark = pytest.mark.timeout(180)


def git_repo(path: Path, remote: str, content: str) -> None:
    path.mkdir(parents=True)
    (path / "a.txt").write_text(content)
    run = lambda *a: subprocess.run(["git", "-C", str(path), *a], check=True,  # noqa: E731
                                    capture_output=True)
    run("init", "-q")
    run("-c", "user.name=t", "-c", "user.email=t@example.com", "add", ".")
    run("-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "-qm", content)
    run("remote", "add", "origin", remote)


async def signed_in(make: Any, relay: Any, name: str, ws: Path) -> Any:
    d = await make(name, relay.url, workspace=ws)
    await d.request("ensemble/signUp", {"username": name, "password": "correct horse 1"})
    await d.wait_for("ensemble/didChangeConnection", lambda p: p["state"] == "online")
    return d


def test_remote_urls_normalize_to_host_owner_name() -> None:
    """ssh, scp-like and https remotes of one repository compare equal."""
    forms = ["git@github.com:Acme/App.git", "https://github.com/acme/app",
             "ssh://git@github.com:22/acme/app.git", "https://user@github.com/acme/app/"]
    assert {normalize_remote(f) for f in forms} == {"github.com/acme/app"}
    a = RepoIdentity(remote="github.com/acme/app", root_commit="abc")
    assert same_repository(a, RepoIdentity(remote="gitlab.com/fork/app", root_commit="abc"))
    assert not same_repository(a, RepoIdentity(remote="github.com/acme/app", root_commit="def"))


async def test_repo_identity_and_mismatch(daemons: Any, relay: Any, tmp_path: Path) -> None:
    """The session records the host's repository; a peer on another repository is told."""
    git_repo(tmp_path / "a", "git@github.com:acme/app.git", "one")
    git_repo(tmp_path / "b", "https://github.com/other/thing", "two")
    alice = await signed_in(daemons, relay, "alice", tmp_path / "a")
    bob = await signed_in(daemons, relay, "bob", tmp_path / "b")
    view = await alice.request("ensemble/createSession", {"name": "s"})
    assert view["session"]["repo"]["remote"] == "github.com/acme/app"
    assert len(view["session"]["repo"]["root_commit"]) == 40
    assert view["repo_mismatch"] is False
    invite = await alice.request("ensemble/createInvite", {"role": "viewer"})
    joined = await bob.request("ensemble/joinSession", {"invite": invite["token"]})
    assert joined["repo_mismatch"] is True and joined["you"]["role"] == "viewer"
    sessions = await bob.request("ensemble/listSessions")
    assert [s["session_id"] for s in sessions] == [view["session"]["session_id"]]


async def test_catch_up_after_reconnect_and_removal_and_end(daemons: Any, relay: Any,
                                                            tmp_path: Path) -> None:
    """Bob misses chat while the relay restarts and gets it after rejoining with last_seq;
    being removed and the session ending reach the editor with a reason."""
    alice = await signed_in(daemons, relay, "alice", tmp_path / "a")
    bob = await signed_in(daemons, relay, "bob", tmp_path / "b")
    carol = await signed_in(daemons, relay, "carol", tmp_path / "c")
    await alice.request("ensemble/createSession", {"name": "s"})
    invite = await alice.request("ensemble/createInvite", {})
    await bob.request("ensemble/joinSession", {"link": invite["link"]})
    await carol.request("ensemble/joinSession", {"link": invite["link"]})
    await alice.request("ensemble/sendChat", {"text": "before"})
    await bob.wait_for("ensemble/didReceiveChat",
                       lambda p: any(m["text"] == "before" for m in p["messages"]))

    relay.restart(same_port=True)
    for d in (alice, bob, carol):
        await d.wait_for("ensemble/didChangeConnection", lambda p: p["state"] == "offline")
    # written while offline (queued), delivered after alice rejoins; bob catches up
    await alice.request("ensemble/sendChat", {"text": "while you were away"})
    await bob.wait_for("ensemble/didReceiveChat", lambda p: any(
        m["text"] == "while you were away" for m in p["messages"]), timeout=60)

    await alice.request("ensemble/removeParticipant", {"user_id": "carol"})
    gone = await carol.wait_for("ensemble/didChangeSession", lambda p: p.get("session") is None)
    assert gone["reason"] == "removed"
    exc = await carol.error_of("ensemble/sendChat", {"text": "still here?"})
    assert exc.data == {"code": "not_in_session"}

    export = await alice.request("ensemble/export", {"format": "markdown"})
    assert "while you were away" in export["content"]
    await alice.request("ensemble/endSession", {})
    ended = await bob.wait_for("ensemble/didChangeSession", lambda p: p.get("session") is None)
    assert ended["reason"] == "ended"
    left = await alice.wait_for("ensemble/didChangeSession", lambda p: p.get("session") is None)
    assert left["reason"] == "ended"


async def test_restarted_daemon_rejoins_its_session_and_catches_up(daemons: Any, relay: Any,
                                                                   tmp_path: Path) -> None:
    """A daemon killed while in a session comes back in it by itself and receives what was
    said meanwhile."""
    alice = await signed_in(daemons, relay, "alice", tmp_path / "a")
    bob_ws, bob_data = tmp_path / "b", tmp_path / "bob-data"
    bob = await daemons("bob", relay.url, workspace=bob_ws, data_dir=bob_data)
    signed = await bob.request("ensemble/signUp", {"username": "bob",
                                                    "password": "correct horse 1"})
    await bob.wait_for("ensemble/didChangeConnection", lambda p: p["state"] == "online")
    view = await alice.request("ensemble/createSession", {"name": "s"})
    invite = await alice.request("ensemble/createInvite", {})
    await bob.request("ensemble/joinSession", {"invite": invite["token"]})
    await alice.request("ensemble/sendChat", {"text": "seen live"})
    await bob.wait_for("ensemble/didReceiveChat",
                       lambda p: any(m["text"] == "seen live" for m in p["messages"]))
    await bob.kill()
    await alice.wait_for("ensemble/didChangePeers", lambda p: any(
        v["user"]["id"] == "bob" and not v["online"] for v in p["peers"]), timeout=60)
    await alice.request("ensemble/sendChat", {"text": "said while bob was gone"})
    await alice.wait_for("ensemble/didChangeOutbox", lambda p: p["pending"] == 0)

    bob2 = await daemons("bob", relay.url, signed["token"], workspace=bob_ws,
                         data_dir=bob_data)
    back = await bob2.wait_for("ensemble/didChangeSession", lambda p: p.get("session"))
    assert back["session"]["session"]["session_id"] == view["session"]["session_id"]
    await bob2.wait_for("ensemble/didReceiveChat", lambda p: any(
        m["text"] == "said while bob was gone" for m in p["messages"]))
