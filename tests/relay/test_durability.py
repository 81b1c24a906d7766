"""Durability and reconnection: SIGKILL loses no acked message; catch-up by seq; shutdown."""

from __future__ import annotations

import asyncio
import contextlib

from websockets.exceptions import ConnectionClosed

from tests.helpers import WireClient, connected, new_id, sign_in
from wire import (
    Ack,
    ChatSend,
    CloseCode,
    Event,
    EventLogQuery,
    EventLogResult,
    InviteCreate,
    InviteResult,
    Reconnect,
    SyncRequest,
    SyncResult,
)

# No rate limit or write budget: these tests send streams of durable writes.
UNLIMITED = ("--rate-per-second", "100000", "--rate-burst", "100000",
             "--user-writes-per-minute", "1000000", "--user-write-bytes-per-minute", "1000000000")


async def test_sigkill_restart_loses_no_acked_message(relay_factory):
    relay = relay_factory()
    host = await connected(relay.url, "host")
    sid = (await host.create_session()).session.session_id
    acked: dict[str, int] = {}
    ids = [new_id() for _ in range(30)]
    for mid in ids:
        await host.send(ChatSend(id=mid, session_id=sid, text=f"msg {mid}", rid=mid))
    # Take what is acked so far, then kill the relay without warning.
    for mid in ids[:20]:
        ack = await host.expect(Ack, predicate=lambda a, mid=mid: a.id == mid)
        acked[mid] = ack.seq
    for a in host.take(Ack):
        acked[a.id] = a.seq
    relay.kill()
    relay.restart()
    token = await sign_in(relay.url, host.user_id)
    again = await WireClient.connect(relay.url, token)
    state = await again.join(session_id=sid, last_seq=0)
    stored = {e.id: e.seq for e in state.events if e.kind == "chat_created"}
    for mid, seq in acked.items():
        assert stored.get(mid) == seq, f"acked message {mid} lost"
    # Re-sending everything (as a client outbox would) stores nothing twice.
    for mid in ids:
        ack = await again.request(ChatSend(id=mid, session_id=sid, text=f"msg {mid}"), Ack)
        if mid in acked:
            assert ack.seq == acked[mid]
    res = await again.request(SyncRequest(session_id=sid, after_seq=0), SyncResult)
    chat_ids = [e.id for e in res.events if e.kind == "chat_created"]
    assert sorted(chat_ids) == sorted(ids) and len(chat_ids) == len(set(chat_ids))


async def test_sigkill_in_the_middle_of_a_stream_of_sends_loses_no_acked_message(
        relay_factory):
    """The relay is killed while a stream of sends is still being handled: every ack the
    client got names a message stored with that seq after restart, and nothing is stored
    twice when the client re-sends the whole stream."""
    relay = relay_factory(*UNLIMITED)
    host = await connected(relay.url, "host")
    sid = (await host.create_session()).session.session_id
    ids = [new_id() for _ in range(1500)]

    async def stream() -> None:
        with contextlib.suppress(ConnectionClosed):
            for mid in ids:
                await host.send(ChatSend(id=mid, session_id=sid, text=f"msg {mid}"))
                await asyncio.sleep(0)

    sender = asyncio.create_task(stream())
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 30
    while sum(isinstance(f, Ack) for f in host.frames) < 50:
        assert loop.time() < deadline, "no acks"
        await asyncio.sleep(0.001)
    relay.kill()  # SIGKILL now, in the middle of the stream
    await sender
    await host.wait_closed()
    acked = {a.id: a.seq for a in host.take(Ack)}
    assert 50 <= len(acked) < len(ids), "the kill did not land in the middle of the stream"
    await loop.run_in_executor(None, relay.restart)
    again = await WireClient.connect(relay.url, await sign_in(relay.url, host.user_id))
    await again.join(session_id=sid)

    async def stored() -> dict[str, int]:
        events: list[Event] = []
        after = 0
        while True:
            res = await again.request(SyncRequest(session_id=sid, after_seq=after), SyncResult)
            events += res.events
            if not res.has_more or not res.events:
                break
            after = res.events[-1].seq
        chat = [e for e in events if e.kind == "chat_created"]
        assert len({e.id for e in chat}) == len(chat), "a message stored twice"
        return {e.id: e.seq for e in chat}

    before = await stored()
    lost = [mid for mid, seq in acked.items() if before.get(mid) != seq]
    assert not lost, f"{len(lost)} of {len(acked)} acked messages lost or renumbered"
    for mid in ids[:len(acked) + 50]:  # an outbox re-sends what it has no ack for
        ack = await again.request(ChatSend(id=mid, session_id=sid, text=f"msg {mid}"), Ack)
        if mid in acked:
            assert ack.seq == acked[mid]
    after = await stored()
    assert set(after) >= set(before) and all(after[m] == before[m] for m in before)


async def test_reconnect_catches_up_everything_after_last_seq(relay_factory):
    relay = relay_factory()
    host = await connected(relay.url, "host")
    sid = (await host.create_session()).session.session_id
    inv = await host.request(InviteCreate(session_id=sid), InviteResult)
    bob = await connected(relay.url, "bob")
    state = await bob.join(invite=inv.invite.token)
    seen = state.last_seq
    await host.request(ChatSend(id=new_id(), session_id=sid, text="seen"), Ack)
    seen = (await bob.expect(Event)).seq
    await bob.close()
    missed = []
    for i in range(5):
        mid = new_id()
        missed.append(mid)
        await host.request(ChatSend(id=mid, session_id=sid, text=f"missed {i}"), Ack)
    bob2 = await WireClient.connect(relay.url, await sign_in(relay.url, bob.user_id))
    state = await bob2.join(session_id=sid, last_seq=seen)
    assert [e.id for e in state.events] == missed
    assert state.last_seq == state.events[-1].seq
    res = await bob2.request(SyncRequest(session_id=sid, after_seq=state.events[1].seq),
                             SyncResult)
    assert [e.id for e in res.events] == missed[2:]


async def test_graceful_shutdown_tells_clients_to_reconnect_and_closes_1012(relay_factory):
    relay = relay_factory()
    host = await connected(relay.url, "host")
    await host.create_session()
    await asyncio.get_running_loop().run_in_executor(None, relay.stop)
    note = await host.expect(Reconnect)
    assert note.retry_after > 0
    assert await host.wait_closed() == CloseCode.SERVICE_RESTART
    assert relay.proc is not None and relay.proc.returncode == 0


async def test_data_survives_a_graceful_restart_on_the_same_port(relay_factory):
    relay = relay_factory()
    host = await connected(relay.url, "host")
    sid = (await host.create_session()).session.session_id
    mid = new_id()
    await host.request(ChatSend(id=mid, session_id=sid, text="durable"), Ack)
    port = relay.port
    await asyncio.get_running_loop().run_in_executor(None, lambda: relay.restart(same_port=True))
    assert relay.port == port
    again = await WireClient.connect(relay.url, await sign_in(relay.url, host.user_id))
    state = await again.join(session_id=sid)
    assert [m.id for m in state.chat] == [mid]


async def test_graceful_shutdown_with_a_stalled_peer_is_clean(relay_factory):
    """A member that stopped reading, with megabytes queued toward it, makes the shutdown wait
    out the close timeout; the relay still records every leave before closing its store,
    exits 0 and logs no error."""
    relay = relay_factory(*UNLIMITED)
    host = await connected(relay.url, "host")
    sid = (await host.create_session()).session.session_id
    invite = (await host.request(InviteCreate(session_id=sid), InviteResult)).invite.token
    stalled = await connected(relay.url, "stalled")
    await stalled.join(invite=invite)
    stalled.ws.transport.pause_reading()  # nothing more is read, the close is never answered
    for _ in range(250):  # about 2.5 MB of events toward it: the relay's buffer stays full
        await host.request(ChatSend(id=new_id(), session_id=sid, text="x" * 9000), Ack)
    code = await asyncio.get_running_loop().run_in_executor(None, relay.stop)
    assert code == 0, relay.log()[-3000:]
    assert "Traceback" not in relay.log() and "level=error" not in relay.log(), relay.log()
    stalled.ws.transport.abort()
    await asyncio.get_running_loop().run_in_executor(None, relay.start)
    again = await WireClient.connect(relay.url, await sign_in(relay.url, host.user_id))
    await again.join(session_id=sid)
    log = await again.request(EventLogQuery(session_id=sid), EventLogResult)
    assert stalled.user_id in [e.actor for e in log.entries if e.kind == "leave"]
