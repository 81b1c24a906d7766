"""The relay's inbound framing fast path: hand-made client frames, written raw to the socket.

Complete small text frames are unmasked and handled by the relay itself; anything else
(control frames, fragments, partial or large frames, bad UTF-8, oversize) must get exactly
the websockets answer, and frames must be handled in the order they were sent.
"""

from __future__ import annotations

import asyncio
import json
import os
from typing import Any

from relay.protocol import CloseCode, Error, PresenceUpdate, SessionListResult
from tests.helpers import WireClient, connected

INVALID_DATA = 1007


def masked(payload: bytes, opcode: int = 1, fin: bool = True) -> bytes:
    """One client frame (masked, as RFC 6455 requires of clients)."""
    mask = os.urandom(4)
    n = len(payload)
    head = bytes(((0x80 if fin else 0) | opcode,))
    if n < 126:
        head += bytes((0x80 | n,))
    elif n < 65536:
        head += bytes((0x80 | 126,)) + n.to_bytes(2, "big")
    else:
        head += bytes((0x80 | 127,)) + n.to_bytes(8, "big")
    return head + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload))


def cursor(sid: str, path: str) -> bytes:
    pos = {"line": 1, "character": 0}
    return json.dumps({"type": "cursor", "session_id": sid, "path": path,
                       "selections": [{"anchor": pos, "active": pos}]}).encode()


def write_raw(client: WireClient, data: bytes) -> None:
    client.ws.transport.write(data)


def editor_paths(trio: Any) -> list[str]:
    """The editor's cursor paths in the presence frames the host received, in order."""
    return [p.cursor.path for f in trio.host.frames if isinstance(f, PresenceUpdate)
            for p in f.peers if p.user_id == trio.editor.user_id and p.cursor is not None]


async def until_seen(trio: Any, path: str) -> list[str]:
    """Poll (with a deadline) until the host received the editor's cursor on ``path``."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 10
    while path not in (paths := editor_paths(trio)):
        assert loop.time() < deadline, f"{path} never arrived: {paths}"
        await asyncio.sleep(0.01)
    return paths


async def settled(trio: Any, last: str, sent: list[str]) -> None:
    """``last`` arrived, then nothing else, and every path came in the order sent."""
    await until_seen(trio, last)
    await trio.editor.barrier()
    await trio.host.barrier()
    seen = editor_paths(trio)
    assert seen[-1] == last
    indexes = [sent.index(p) for p in seen]
    assert indexes == sorted(indexes), seen
    assert trio.editor.take(Error) == []


async def test_two_cursor_frames_in_one_read_are_both_handled_in_order(trio):
    write_raw(trio.editor, masked(cursor(trio.sid, "one.py")) + masked(cursor(trio.sid, "two.py")))
    await settled(trio, "two.py", ["one.py", "two.py"])


async def test_frame_split_across_reads_is_handled_once_complete(trio):
    second = masked(cursor(trio.sid, "split.py"))
    write_raw(trio.editor, masked(cursor(trio.sid, "whole.py")) + second[:9])
    await until_seen(trio, "whole.py")  # the first read was handled, the rest is pending
    write_raw(trio.editor, second[9:])
    await settled(trio, "split.py", ["whole.py", "split.py"])


async def test_frame_split_inside_its_header_is_handled(trio):
    first = masked(cursor(trio.sid, "first.py"))
    data = masked(cursor(trio.sid, "header.py"))
    write_raw(trio.editor, first + data[:1])
    await until_seen(trio, "first.py")
    write_raw(trio.editor, data[1:4])
    await trio.host.barrier()  # a loop turn of the relay or more in between
    write_raw(trio.editor, data[4:])
    await settled(trio, "header.py", ["first.py", "header.py"])


async def test_ping_between_text_frames_is_answered_and_order_kept(trio):
    pongs: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()
    protocol = trio.editor.ws.protocol
    original = protocol.recv_frame

    def recv_frame(frame: Any) -> None:  # observe the pong the relay sends back
        if frame.opcode == 10 and not pongs.done():
            pongs.set_result(bytes(frame.data))
        original(frame)

    protocol.recv_frame = recv_frame
    write_raw(trio.editor, masked(cursor(trio.sid, "before.py")) + masked(b"knock", opcode=9)
              + masked(cursor(trio.sid, "after.py")))
    assert await asyncio.wait_for(pongs, 10) == b"knock"
    await settled(trio, "after.py", ["before.py", "after.py"])


async def test_frame_with_16_bit_length_is_handled(trio):
    path = "src/" + "d" * 300 + ".py"
    payload = cursor(trio.sid, path)
    assert 126 <= len(payload) < 65536
    write_raw(trio.editor, masked(payload) + masked(cursor(trio.sid, "next.py")))
    await settled(trio, "next.py", [path, "next.py"])


async def test_fragmented_text_message_is_left_to_websockets_and_order_kept(trio):
    payload = cursor(trio.sid, "fragments.py")
    write_raw(trio.editor, masked(cursor(trio.sid, "plain.py"))
              + masked(payload[:20], fin=False) + masked(payload[20:], opcode=0)
              + masked(cursor(trio.sid, "after.py")))
    await settled(trio, "after.py", ["plain.py", "fragments.py", "after.py"])


async def test_non_cursor_frame_between_cursors_is_handled_in_order(trio):
    listing = json.dumps({"type": "session_list", "rid": "between"}).encode()
    write_raw(trio.editor, masked(cursor(trio.sid, "a.py")) + masked(listing)
              + masked(cursor(trio.sid, "b.py")))
    await trio.editor.expect(SessionListResult, predicate=lambda r: r.rid == "between")
    await settled(trio, "b.py", ["a.py", "b.py"])


async def test_invalid_utf8_text_frame_closes_1007(relay):
    c = await connected(relay.url)
    sid = (await c.create_session()).session.session_id
    bad = cursor(sid, "ok.py").replace(b"ok.py", b"\xff\xfe.py")
    write_raw(c, masked(cursor(sid, "fine.py")) + masked(bad))
    assert await c.wait_closed() == INVALID_DATA


async def test_oversized_cursor_frame_closes_1009(relay_factory):
    relay = relay_factory("--max-frame-bytes", "4096")
    c = await connected(relay.url)
    sid = (await c.create_session()).session.session_id
    write_raw(c, masked(cursor(sid, "p" * 5000 + ".py")))
    assert await c.wait_closed() == CloseCode.MESSAGE_TOO_BIG
