"""Fixtures for relay tests: a session with a host, an editor and a viewer online."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from relay.protocol import InviteCreate, InviteResult
from tests.helpers import WireClient, connected
from tests.relayproc import RelayProcess


@pytest.fixture(scope="session")
def relay(tmp_path_factory: pytest.TempPathFactory):
    """One relay shared by the relay suite (tests isolate themselves with fresh users and
    sessions); tests that stop, kill or reconfigure a relay use ``relay_factory``."""
    proc = RelayProcess(tmp_path_factory.mktemp("shared-relay")).start()
    yield proc
    proc.kill()


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
