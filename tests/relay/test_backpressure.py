"""A receiver whose socket is full gets each peer's latest cursor, not a backlog."""

from __future__ import annotations

import asyncio
import json

from websockets.asyncio.client import connect

from tests.helpers import TIMEOUT, connected, metric, sign_up, unique_name
from wire import InviteCreate, InviteResult


def _selection(line: int, width: int) -> dict[str, object]:
    return {"anchor": {"line": line, "character": 0}, "active": {"line": line, "character": width}}


async def test_stalled_receiver_is_coalesced_then_converges_to_the_latest(relay_factory):
    relay = relay_factory("--rate-per-second", "100000", "--rate-burst", "100000")
    sender = await connected(relay.url, "fast")
    sid = (await sender.create_session()).session.session_id
    invite = (await sender.request(InviteCreate(session_id=sid), InviteResult)).invite.token
    token = await sign_up(relay.url, unique_name("stalled"))
    # A raw client that stops reading: its library stops draining the socket after two
    # queued frames, so the relay's write buffer toward it fills up.
    async with connect(relay.url + "/ws", additional_headers={"Authorization": f"Bearer {token}"},
                       max_queue=2, max_size=None, compression=None) as slow:
        await slow.send(json.dumps({"type": "hello", "protocol": 1}))
        await slow.recv()
        await slow.send(json.dumps({"type": "session_join", "invite": invite, "rid": "j"}))
        await slow.recv()
        wide = [_selection(i, 80) for i in range(100)]  # about 7 KB per update
        sent = 800
        for n in range(sent):
            wide[0] = _selection(n, 1)
            await sender.send({"type": "cursor", "session_id": sid, "path": "big.py",
                               "selections": wide})
        await sender.barrier()
        assert metric(relay.http_url, "ensemble_presence_coalesced_total") > 0
        # Read everything now: updates were merged, and the last one is the latest.
        frames, latest = 0, -1
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 3 * TIMEOUT
        while latest != sent - 1:
            assert loop.time() < deadline, f"stuck at line {latest} after {frames} frames"
            data = json.loads(await asyncio.wait_for(slow.recv(), TIMEOUT))
            if data["type"] == "presence":
                frames += 1
                for peer in data["peers"]:
                    if peer["user_id"] == sender.user_id and "cursor" in peer:
                        latest = peer["cursor"]["selections"][0]["active"]["line"]
        assert frames < sent
        assert metric(relay.http_url, "ensemble_slow_disconnects_total") == 0
