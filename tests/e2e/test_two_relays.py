"""Two users in two real VS Code windows, each on a different relay of one cluster.

Two relay processes share a throwaway PostgreSQL (the durable log) and a throwaway Redis
(fan-out and the shared presence registry), as `make cluster` runs them. Alice's window is
set to relay 0, Bob's to relay 1: he joins her session with the bare invite token (a link
would name her relay). Everything one does reaches the other through the other relay:
participants, the cursor's name tag, a gutter comment and its reply, a chat message.
"""

from __future__ import annotations

import secrets
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests import services
from tests.ci import need
from tests.conftest import RelayFactory
from tests.e2e import ensemble as ui
from tests.e2e.harness import CodeServerFactory, SharedRepo, WindowOpener
from tests.e2e.vscode import Chat, Comments
from tests.relayproc import RelayProcess

pytestmark = [pytest.mark.vscode, pytest.mark.timeout(300)]


@pytest.fixture
def two_relays(relay_factory: RelayFactory) -> Iterator[list[RelayProcess]]:
    """Two relays on one PostgreSQL and one Redis, both throwaway servers of this test."""
    need(services.redis_missing() + services.postgres_missing(),
         "apt-get install postgresql redis-server (make tools)")
    folders = [services.temp_folder("ensemble-e2e-redis-"),
               services.temp_folder("ensemble-e2e-pg-")]
    redis = services.RedisServer(folders[0])
    postgres = services.PostgresServer(folders[1])
    relays: list[RelayProcess] = []
    try:
        redis.start()
        postgres.init().start()
        postgres.create_database("e2e")
        store = f"postgresql://postgres@127.0.0.1:{postgres.port}/e2e"
        env = {"ENSEMBLE_JWT_SECRET": secrets.token_hex(24)}  # one secret for the cluster
        for _ in range(2):
            relays.append(relay_factory("--store", store, "--bus", redis.url, env=env))
        yield relays
    finally:
        for relay in relays:  # before their database goes: a probe meanwhile logs an error
            if relay.running():
                relay.stop()
        redis.stop()
        postgres.stop("immediate")
        for folder in folders:
            shutil.rmtree(folder, ignore_errors=True)


def online_on(output: list[str], user: str) -> list[str]:
    """The relays the user's daemons went online on, from the Ensemble output channel."""
    suffix = f" online as {user}"
    return [line.split(" relay ", 1)[1].removesuffix(suffix)
            for line in output if line.endswith(suffix) and " relay " in line]


def test_two_users_on_different_relays_see_each_other_comments_and_chat(
    two_relays: list[RelayProcess],
    code_server: CodeServerFactory,
    browser: WindowOpener,
    workspace: SharedRepo,
    vsix: Path,
) -> None:
    r0, r1 = two_relays
    alice, bob, alice_server, bob_server = ui.start_pair_servers(
        code_server, browser, workspace, r0, vsix, bob_relay=r1)

    # Each daemon is on its own relay, and only there.
    assert set(online_on(alice_server.ensemble_output(), "alice")) == {r0.url}
    assert set(online_on(bob_server.ensemble_output(), "bob")) == {r1.url}

    # Participants: each sees the other, through the other relay.
    ui.show_participants(alice)
    ui.show_participants(bob)
    ui.wait_participant(alice, "Bob")
    ui.wait_participant(bob, "Alice", lambda r: "host" in r.description)

    # Presence crosses relays: Alice's caret on line 10 is her name tag on Bob's line 10,
    # and Bob's on line 3 is his tag in Alice's editor.
    alice.open_file("src/app.py")
    bob.open_file("src/app.py")
    alice.go_to_line(10)
    bob.wait_name_tag("Alice", line=10, path_suffix="/src/app.py")
    bob.go_to_line(3)
    alice.wait_name_tag("Bob", line=3, path_suffix="/src/app.py")
    ui.wait_participant(bob, "Alice", lambda r: "src/app.py:10" in r.description)

    # A gutter comment by Alice reaches Bob; his reply reaches her.
    ac, bc = Comments(alice), Comments(bob)
    ac.add_via_gutter(5, "Across relays?")
    ac.wait_thread(lambda t: t.count == 1 and t.start == 5, "alice's thread on line 5")
    bob.wait_for(lambda: bc.has_glyph(5), "the glyph of alice's thread in bob's gutter")
    bc.expand_at(5)  # threads of others arrive collapsed
    bc.wait_thread(lambda t: t.start == 5 and t.count == 1
                   and t.comments[0].body == "Across relays?", "alice's thread at bob's")
    bc.reply(5, "Yes, through Redis.")
    ac.wait_thread(lambda t: t.count == 2 and t.comments[1].author == "Bob"
                   and t.comments[1].body == "Yes, through Redis.", "bob's reply at alice's")

    # Chat both ways.
    a_chat, b_chat = Chat(alice), Chat(bob)
    a_chat.open()
    b_chat.open()
    b_chat.send("hello from relay 1")
    a_chat.wait_message(lambda m: m.author.startswith("Bob") and m.text == "hello from relay 1",
                        "bob's message at alice's")
    a_chat.send("hello from relay 0")
    b_chat.wait_message(lambda m: m.author.startswith("Alice") and m.text == "hello from relay 0",
                        "alice's message at bob's")

    # Still each on its own relay: nothing above moved a daemon.
    assert set(online_on(alice_server.ensemble_output(), "alice")) == {r0.url}
    assert set(online_on(bob_server.ensemble_output(), "bob")) == {r1.url}

