"""Fixtures for relay tests: a session with a host, an editor and a viewer online."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests import health
from tests.helpers import WireClient, connected
from tests.relay.coreharness import Harness, harness
from tests.relayproc import RelayProcess
from wire import InviteCreate, InviteResult


@pytest.fixture(scope="session")
def relay(tmp_path_factory: pytest.TempPathFactory):
    """One relay shared by the relay suite (tests isolate themselves with fresh users and
    sessions); tests that stop, kill or reconfigure a relay use ``relay_factory``."""
    proc = RelayProcess(tmp_path_factory.mktemp("shared-relay")).start()
    yield proc
    checked = proc.checked
    proc.stop()
    # What no test's window covered (its last moments, the shutdown) and the exit code.
    health.fail_if(proc.health(health.Allowance(), since=checked))


@pytest.fixture(autouse=True)
def shared_relay_health(request: pytest.FixtureRequest) -> Iterator[None]:
    """Each test that uses the shared relay is held to what the relay logged while it ran
    (up to a marker connection made at its teardown, after its other fixtures closed)."""
    if "relay" not in request.fixturenames:
        yield
        return
    proc: RelayProcess = request.getfixturevalue("relay")
    start = proc.checked  # what came after the last test's marker counts here
    yield
    if not proc.running():
        health.fail_if([f"the shared relay exited during the test:\n{proc.log()[-3000:]}"])
    end = proc.sync_log()
    proc.checked = end
    health.fail_if(proc.health(health.allowance(request.node), since=start, until=end,
                               exits=False))


@dataclass
class Trio:
    sid: str
    host: WireClient
    editor: WireClient
    viewer: WireClient

    async def close(self) -> None:
        for c in (self.host, self.editor, self.viewer):
            await c.close()


async def make_trio(url: str, root_commit: str | None = None) -> Trio:
    host = await connected(url, "host")
    state = await host.create_session("trio", root_commit=root_commit)
    sid = state.session.session_id
    clients = []
    for role in ("editor", "viewer"):
        inv = await host.request(InviteCreate(session_id=sid, role=role), InviteResult)  # type: ignore[arg-type]
        c = await connected(url, role)
        await c.join(invite=inv.invite.token)
        clients.append(c)
    await host.barrier()
    return Trio(sid, host, clients[0], clients[1])


@pytest.fixture
async def trio(relay):
    t = await make_trio(relay.url)
    yield t
    await t.close()


@pytest.fixture
async def h(tmp_path: Path) -> AsyncIterator[Harness]:
    """The sans-I/O core with in-memory transports (tests/relay/coreharness.py)."""
    async for made in harness(tmp_path):
        yield made
