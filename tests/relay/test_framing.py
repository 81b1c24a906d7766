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

from tests.helpers import WireClient, connected
from wire import CloseCode, Error, PresenceUpdate, SessionListResult

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


def probe(rid: str, pad: int = 0) -> bytes:
    """A well-formed cursor frame (the fast path takes it) for a session the sender is not
    in: the relay answers each one with its own error carrying ``rid``. Unlike presence,
    which the relay merges per loop turn, these answers show every frame, once, in order."""
    return json.dumps({"type": "cursor", "session_id": "not-joined", "path": "p" * pad + ".py",
                       "rid": rid, "selections": [{"anchor": {"line": 1, "character": 0},
                                                   "active": {"line": 1, "character": 0}}]
                       }).encode()


def write_raw(client: WireClient, data: bytes) -> None:
    client.ws.transport.write(data)


def answered(client: WireClient) -> list[str]:
    """The rids of every frame the client received, in arrival order."""
    return [rid for raw in client.raw if (rid := json.loads(raw).get("rid")) is not None]


async def until_answered(client: WireClient, rid: str) -> None:
    """Poll (with a deadline) until the answer to ``rid`` arrived."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 10
    while rid not in answered(client):
        assert loop.time() < deadline, f"{rid} never answered: {answered(client)}"
        await asyncio.sleep(0.01)


async def settled(client: WireClient, sent: list[str]) -> None:
    """Every frame sent was handled exactly once and in the order sent, and nothing else
    was answered: the answers' rids are exactly ``sent``."""
    await until_answered(client, sent[-1])
    await client.barrier()
    got = [rid for rid in answered(client) if rid in sent]
    assert got == sent
    errors = client.take(Error)
    assert {e.code for e in errors} == {"not_in_session"}, errors
    assert sorted(e.rid or "" for e in errors) == sorted(r for r in sent if r != "between")


async def test_two_cursor_frames_in_one_read_are_both_handled_in_order(trio):
    write_raw(trio.editor, masked(probe("one")) + masked(probe("two")))
    await settled(trio.editor, ["one", "two"])


async def test_frame_split_across_reads_is_handled_once_complete(trio):
    second = masked(probe("split"))
    write_raw(trio.editor, masked(probe("whole")) + second[:9])
    await until_answered(trio.editor, "whole")  # the first read was handled, the rest pending
    write_raw(trio.editor, second[9:])
    await settled(trio.editor, ["whole", "split"])


async def test_frame_split_inside_its_header_is_handled(trio):
    first = masked(probe("first"))
    data = masked(probe("header"))
    write_raw(trio.editor, first + data[:1])
    await until_answered(trio.editor, "first")
    write_raw(trio.editor, data[1:4])
    await trio.host.barrier()  # a loop turn of the relay or more in between
    write_raw(trio.editor, data[4:])
    await settled(trio.editor, ["first", "header"])


async def test_ping_between_text_frames_is_answered_and_order_kept(trio):
    pongs: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()
    protocol = trio.editor.ws.protocol
    original = protocol.recv_frame

    def recv_frame(frame: Any) -> None:  # observe the pong the relay sends back
        if frame.opcode == 10 and not pongs.done():
            pongs.set_result(bytes(frame.data))
        original(frame)

    protocol.recv_frame = recv_frame
    write_raw(trio.editor, masked(probe("before")) + masked(b"knock", opcode=9)
              + masked(probe("after")))
    assert await asyncio.wait_for(pongs, 10) == b"knock"
    await settled(trio.editor, ["before", "after"])


async def test_frame_with_16_bit_length_is_handled(trio):
    payload = probe("long", pad=300)
    assert 126 <= len(payload) < 65536
    write_raw(trio.editor, masked(payload) + masked(probe("next")))
    await settled(trio.editor, ["long", "next"])


async def test_fragmented_text_message_is_left_to_websockets_and_order_kept(trio):
    payload = probe("fragments")
    write_raw(trio.editor, masked(probe("plain"))
              + masked(payload[:20], fin=False) + masked(payload[20:], opcode=0)
              + masked(probe("after")))
    await settled(trio.editor, ["plain", "fragments", "after"])


async def test_non_cursor_frame_between_cursors_is_handled_in_order(trio):
    listing = json.dumps({"type": "session_list", "rid": "between"}).encode()
    write_raw(trio.editor, masked(probe("a")) + masked(listing) + masked(probe("b")))
    await trio.editor.expect(SessionListResult, predicate=lambda r: r.rid == "between")
    await settled(trio.editor, ["a", "between", "b"])


async def test_valid_cursor_frames_in_one_read_reach_the_peer(trio):
    """The fast path delivers real cursors too: the last of a read reaches the host."""
    write_raw(trio.editor, masked(cursor(trio.sid, "one.py")) + masked(cursor(trio.sid, "two.py"))
              + masked(probe("done")))
    await settled(trio.editor, ["done"])
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 10
    while "two.py" not in (paths := editor_paths(trio)):
        assert loop.time() < deadline, paths
        await asyncio.sleep(0.01)
    assert paths[-1] == "two.py" and set(paths) <= {"one.py", "two.py"}


def editor_paths(trio: Any) -> list[str]:
    """The editor's cursor paths in the presence frames the host received, in order."""
    return [p.cursor.path for f in trio.host.frames if isinstance(f, PresenceUpdate)
            for p in f.peers if p.user_id == trio.editor.user_id and p.cursor is not None]


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


async def test_ping_between_fragments_is_answered_and_the_message_kept_whole(trio):
    pongs: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()
    protocol = trio.editor.ws.protocol
    original = protocol.recv_frame

    def recv_frame(frame: Any) -> None:
        if frame.opcode == 10 and not pongs.done():
            pongs.set_result(bytes(frame.data))
        original(frame)

    protocol.recv_frame = recv_frame
    payload = probe("pieces")
    write_raw(trio.editor, masked(probe("first")) + masked(payload[:30], fin=False)
              + masked(b"mid", opcode=9) + masked(payload[30:], opcode=0)
              + masked(probe("last")))
    assert await asyncio.wait_for(pongs, 10) == b"mid"
    await settled(trio.editor, ["first", "pieces", "last"])


async def test_binary_frame_after_a_cursor_in_one_read_closes_1003(relay):
    """The cursor before it is answered; the binary frame closes the connection (1003) and
    nothing after it is handled."""
    c = await connected(relay.url)
    await c.barrier()
    write_raw(c, masked(probe("before")) + masked(b"\x00\x01", opcode=2) + masked(probe("after")))
    assert await c.wait_closed() == CloseCode.UNSUPPORTED_DATA
    assert [rid for rid in answered(c) if rid in ("before", "after")] == ["before"]
    assert any(isinstance(f, Error) and f.code == "bad_message" for f in c.frames)


async def test_cursor_before_a_close_frame_in_one_read_reaches_the_peers(trio):
    """A cursor read together with the close frame that follows it is still handled."""
    close = masked((1000).to_bytes(2, "big") + b"bye", opcode=8)
    write_raw(trio.editor, masked(cursor(trio.sid, "last.py")) + close)
    assert await trio.editor.wait_closed() == 1000
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 10
    while "last.py" not in (paths := editor_paths(trio)):
        assert loop.time() < deadline, paths
        await asyncio.sleep(0.01)
