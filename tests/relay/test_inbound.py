"""Which frames the inbound fast path takes, on a relay built by relay.app in this process.

A cursor frame read while the session loop waits with nothing queued is handled in the
read callback (``on_text``); a frame read while a message is queued or being handled goes
through websockets' queue to the loop, after the ones before it.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from relay import app, config
from relay.ws.connection import RelayConnection
from relay.ws.server import RelayServer
from tests.helpers import WireClient, connected
from tests.relay.test_framing import masked, probe, settled, write_raw


@pytest.fixture
async def inproc(tmp_path: Path) -> AsyncIterator[RelayServer]:
    cfg = config.load(["--host", "127.0.0.1", "--port", "0", "--data-dir", str(tmp_path),
                       "--dev", "--bcrypt-rounds", "4"], env={})
    relay = app.build(cfg)
    await relay.start()
    yield relay
    await relay.shutdown()


Offered = list[tuple[str, bool]]


async def _watched(relay: RelayServer) -> tuple[WireClient, RelayConnection, Offered]:
    """A client in its session loop, its server-side connection, and every text frame
    offered to the fast path as (rid, taken)."""
    client = await connected(f"ws://127.0.0.1:{relay.port}")
    await client.barrier()  # the session loop runs: on_text is set
    assert relay.server is not None
    conn = next(c for c in relay.server.connections
                if isinstance(c, RelayConnection) and c.user and c.user.id == client.user_id)
    offered: list[tuple[str, bool]] = []
    handle = conn.on_text
    assert handle is not None

    def watch(text: str, handle: Callable[[str], bool] = handle) -> bool:
        taken = handle(text)
        offered.append((json.loads(text).get("rid"), taken))
        return taken

    conn.on_text = watch
    return client, conn, offered


async def test_cursor_frames_read_while_the_loop_waits_take_the_fast_path(inproc):
    client, conn, offered = await _watched(inproc)
    write_raw(client, masked(probe("one")) + masked(probe("two")))
    await settled(client, ["one", "two"])
    assert offered[:2] == [("one", True), ("two", True)]
    assert conn.unread == 0
    await client.close()


async def test_frames_behind_a_queued_message_wait_for_it(inproc):
    """A request takes the queue; the cursor read with it follows it through the loop."""
    client, _, offered = await _watched(inproc)
    listing = json.dumps({"type": "session_list", "rid": "between"}).encode()
    write_raw(client, masked(listing) + masked(probe("behind")))
    await settled(client, ["between", "behind"])
    assert offered[0] == ("between", False) and ("behind", True) not in offered
    write_raw(client, masked(probe("later")))  # the loop waits again: fast path
    await settled(client, ["later"])
    assert ("later", True) in offered
    await client.close()


async def test_fragmented_cursor_is_left_to_websockets(inproc):
    client, _, offered = await _watched(inproc)
    payload = probe("pieces")
    write_raw(client, masked(payload[:25], fin=False) + masked(payload[25:], opcode=0))
    await settled(client, ["pieces"])
    assert ("pieces", True) not in offered
    await client.close()
