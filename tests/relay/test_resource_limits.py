"""Memory and disk stay bounded against one member's connections: connections per user,
send buffers of receivers that never read, and the per-user durable write budget.
Real relay subprocess, real sockets; RSS is measured with psutil."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import socket
import struct
import time
import urllib.request
from pathlib import Path

import psutil
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

from tests.helpers import WireClient, connected, new_id, user
from wire import (
    SESSION_PATH,
    Ack,
    ChatSend,
    Error,
    ErrorCode,
    InviteCreate,
    InviteResult,
)

MiB = 1024 * 1024


class SilentClient:
    """A raw WebSocket client that joins a session, then never reads another byte."""

    def __init__(self, port: int, token: str) -> None:
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        self.sock.settimeout(10)
        self.sock.connect(("127.0.0.1", port))
        key = base64.b64encode(os.urandom(16)).decode()
        self.sock.sendall(
            f"GET {SESSION_PATH} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n"
            f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
            f"Authorization: Bearer {token}\r\n\r\n".encode())
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = self.sock.recv(1)
            if not chunk:
                break
            head += chunk
        self.status = int(head.split(b" ", 2)[1]) if head else 0

    def send(self, frame: dict[str, object]) -> None:
        data = json.dumps(frame).encode()
        mask = os.urandom(4)
        n = len(data)
        head = bytes([0x81]) + (bytes([0x80 | n]) if n < 126 else
                                bytes([0x80 | 126]) + struct.pack("!H", n))
        self.sock.sendall(head + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(data)))

    def close(self) -> None:
        self.sock.close()


def _metric(relay, name: str) -> float:
    body = urllib.request.urlopen(relay.http_url + "/metrics", timeout=10).read().decode()
    total = 0.0
    for line in body.splitlines():
        if line.startswith(name + " ") or line.startswith(name + "{"):
            total += float(line.rsplit(" ", 1)[1])
    return total


async def _wait_for(check, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "condition not reached in time"
        await asyncio.sleep(0.05)


async def test_one_user_gets_at_most_the_connection_cap_and_a_clear_refusal(relay_factory):
    relay = relay_factory("--max-connections-per-user", "3")
    _, token = await user(relay.url)
    clients = [await WireClient.connect(relay.url, token) for _ in range(3)]
    with pytest.raises(InvalidStatus) as refused:
        await connect(relay.url + SESSION_PATH, compression=None,
                      additional_headers={"Authorization": f"Bearer {token}"})
    assert refused.value.response.status_code == 429
    assert json.loads(refused.value.response.body)["error"] == "too_many_connections"
    assert refused.value.response.headers.get("Retry-After")
    # Handshakes that never send hello count too.
    await clients.pop().close()
    silent = SilentClient(relay.port, token)
    assert silent.status == 101
    with pytest.raises(InvalidStatus):
        await connect(relay.url + SESSION_PATH, compression=None,
                      additional_headers={"Authorization": f"Bearer {token}"})
    # Another user is not concerned; a closed connection frees its place.
    other = await connected(relay.url)
    silent.close()
    deadline = time.monotonic() + 10
    while True:
        try:
            clients.append(await WireClient.connect(relay.url, token))
            break
        except InvalidStatus:
            assert time.monotonic() < deadline
            await asyncio.sleep(0.05)
    for c in (*clients, other):
        await c.close()


async def _flood_silent_receivers(relay, attempts: int, messages: int, text_chars: int,
                                  all_dropped: bool) -> tuple[int, int, int, int]:
    """One member opens ``attempts`` connections that join and never read; the host
    floods chat. Returns (accepted, rss before, peak rss during, rss after)."""
    proc = psutil.Process(relay.pid)
    host = await connected(relay.url, "host")
    sid = (await host.create_session()).session.session_id
    inv = await host.request(InviteCreate(session_id=sid, role="editor"), InviteResult)
    _, token = await user(relay.url, "hog")
    joiner = await WireClient.connect(relay.url, token)
    await joiner.join(invite=inv.invite.token)
    await joiner.close()
    silent = [SilentClient(relay.port, token) for _ in range(attempts)]
    accepted = [s for s in silent if s.status == 101]
    for s in accepted:
        s.send({"type": "hello", "protocol": 1})
        s.send({"type": "session_join", "session_id": sid})
    await host.barrier()
    await asyncio.sleep(0.5)  # the joins are handled
    before = peak = proc.memory_info().rss
    text = "x" * text_chars
    for i in range(messages):
        await host.send(ChatSend(id=new_id(), session_id=sid, text=text, rid=f"m{i}"))
        if i % 10 == 9:
            await host.expect(Ack, 30, lambda a, i=i: a.rid == f"m{i}")
            peak = max(peak, proc.memory_info().rss)
    await host.barrier()
    peak = max(peak, proc.memory_info().rss)
    await _wait_for(lambda: _metric(relay, "ensemble_slow_disconnects_total") >= 1, 30)
    if all_dropped:
        await _wait_for(lambda: _metric(relay, "ensemble_connections") <= 1, 30)
    after = proc.memory_info().rss
    for s in silent:
        s.close()
    await host.close()
    return len(accepted), before, peak, after


FLOOD_ARGS = ("--max-text-chars", "100000", "--rate-per-second", "1000", "--rate-burst", "1000",
              "--user-writes-per-minute", "100000", "--user-write-bytes-per-minute", "1000000000")


async def test_receivers_that_never_read_cost_bounded_memory(relay_factory):
    """The reported attack: 100 connections of one member that never read cost +404 MB
    (4 MiB each). Now 8 are accepted and each is dropped past 4 MiB (1008)."""
    relay = relay_factory(*FLOOD_ARGS)
    accepted, before, peak, after = await _flood_silent_receivers(relay, 100, 150, 100_000,
                                                                   all_dropped=True)
    print(f"\nsilent receivers: {accepted} of 100 accepted; relay rss before "
          f"{before / MiB:.1f} MiB, peak {peak / MiB:.1f} MiB (+{(peak - before) / MiB:.1f}), "
          f"after {after / MiB:.1f} MiB")
    assert accepted == 8
    assert _metric(relay, "ensemble_slow_disconnects_total") >= 1
    assert peak - before < 100 * MiB


async def test_all_send_buffers_together_stay_under_the_relay_budget(relay_factory):
    """--max-total-buffer-bytes: past it, the receivers furthest behind are dropped even
    when each is under its own limit."""
    relay = relay_factory(*FLOOD_ARGS, "--max-buffer-bytes", str(64 * MiB),
                          "--max-total-buffer-bytes", str(6 * MiB),
                          "--presence-timeout", "2")  # the check runs every 0.5 s
    accepted, before, peak, _ = await _flood_silent_receivers(relay, 8, 100, 100_000, False)
    print(f"\nbudget 6 MiB, {accepted} silent receivers: rss before {before / MiB:.1f} MiB, "
          f"peak {peak / MiB:.1f} MiB (+{(peak - before) / MiB:.1f})")
    assert accepted == 8
    assert _metric(relay, "ensemble_slow_disconnects_total") >= 1
    assert _metric(relay, 'ensemble_closes_total{code="1008"}') >= 1
    assert peak - before < 100 * MiB


async def test_durable_writes_of_one_user_are_budgeted_across_connections(relay_factory):
    relay = relay_factory("--user-writes-per-minute", "6", "--user-write-bytes-per-minute",
                          "1000000")
    _, token = await user(relay.url)
    a = await WireClient.connect(relay.url, token)
    b = await WireClient.connect(relay.url, token)
    sid = (await a.create_session()).session.session_id  # one write
    await b.join(sid)
    for i in range(5):
        await (a if i % 2 else b).request(ChatSend(id=new_id(), session_id=sid, text=f"m{i}"),
                                          Ack)
    mid = new_id()
    err = await b.error(ChatSend(id=mid, session_id=sid, text="one too many"))
    assert err.code == ErrorCode.RATE_LIMITED and err.id == mid
    assert err.retry_after is not None and 0 < err.retry_after <= 60
    err = await a.error({"type": "session_create", "name": "x", "repo": {"name": "app"}})
    assert err.code == ErrorCode.RATE_LIMITED
    # Another user is not concerned; the refused id is still free for a retry later.
    other = await connected(relay.url)
    await other.create_session()
    assert isinstance(await b.error(ChatSend(id=mid, session_id=sid, text="one too many")),
                      Error)
    for c in (a, b, other):
        await c.close()


async def test_bytes_written_by_one_user_are_budgeted(relay_factory):
    relay = relay_factory("--user-write-bytes-per-minute", "25000")
    c = await connected(relay.url)
    sid = (await c.create_session()).session.session_id
    await c.request(ChatSend(id=new_id(), session_id=sid, text="x" * 9000), Ack)
    await c.request(ChatSend(id=new_id(), session_id=sid, text="x" * 9000), Ack)
    err = await c.error(ChatSend(id=new_id(), session_id=sid, text="x" * 9000))
    assert err.code == ErrorCode.RATE_LIMITED
    await c.close()


async def test_a_flood_of_largest_writes_grows_the_database_by_little(relay):
    """The reported attack wrote 415 MB of database in 10 s from one connection. With
    the default budget (120 writes, 2 MiB a minute) and 128-character ids it is a few MB."""
    db = Path(relay.data_dir) / "relay.sqlite3"

    def size() -> int:
        return sum(p.stat().st_size for p in db.parent.glob("relay.sqlite3*"))

    c = await connected(relay.url)
    sid = (await c.create_session()).session.session_id
    start = size()
    t0 = time.monotonic()
    text = "y" * 10_000
    for i in range(300):
        await c.send(ChatSend(id=f"{i:04d}" + "z" * 124, session_id=sid, text=text, rid=f"f{i}"))
        await asyncio.sleep(0.02)  # under the per-connection frame rate
    await c.barrier()
    acks = len(c.take(Ack))
    refused = [e for e in c.take(Error) if e.code == ErrorCode.RATE_LIMITED]
    grown = size() - start
    print(f"\n300 writes of 10 kB in {time.monotonic() - t0:.1f} s: {acks} stored, "
          f"{len(refused)} refused, database +{grown / MiB:.1f} MiB")
    elapsed = time.monotonic() - t0
    assert acks <= 120 + 2 * elapsed + 2  # the burst, then 2 a second
    assert acks + len(refused) == 300
    assert grown < 16 * MiB
    await c.close()
