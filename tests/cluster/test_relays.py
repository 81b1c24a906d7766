"""Three relay processes on one PostgreSQL and one Redis (both throwaway servers), driven
by real WebSocket clients spread over the three: what a cluster promises its users.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from psycopg.conninfo import conninfo_to_dict

from tests import services
from tests.helpers import WireClient, new_id, sign_up, unique_name
from tests.relayproc import RelayProcess
from wire import (
    Ack,
    ChatSend,
    CloseCode,
    Event,
    InviteCreate,
    InviteResult,
    ParticipantRemove,
    UserLeft,
)

SECRET = secrets.token_hex(24)  # every relay of a cluster signs and checks with one secret
WAIT = 20.0


class Cluster:
    def __init__(self, relays: list[RelayProcess], redis: services.RedisServer) -> None:
        self.relays = relays
        self.redis = redis

    def url(self, i: int) -> str:
        return self.relays[i % len(self.relays)].url


@pytest.fixture
def cluster(tmp_path: Path, postgres_server: services.PostgresServer,
            redis_server: services.RedisServer) -> Iterator[Cluster]:
    if not redis_server.running():
        redis_server.start()
    redis_server.command("FLUSHALL")
    postgres_server.ensure_running()
    name = conninfo_to_dict(postgres_server.create_database())["dbname"]
    store = f"postgresql://postgres@127.0.0.1:{postgres_server.port}/{name}"
    relays = [RelayProcess(tmp_path / f"relay{i}",
                           ("--store", store, "--bus", redis_server.url,
                            "--user-writes-per-minute", "100000"),
                           env={"ENSEMBLE_JWT_SECRET": SECRET})
              for i in range(3)]
    for i, relay in enumerate(relays):
        (tmp_path / f"relay{i}").mkdir()
        relay.start()
    try:
        yield Cluster(relays, redis_server)
    finally:
        for relay in relays:
            if relay.running():
                relay.kill()


async def _client(url: str, name: str, token: str) -> WireClient:
    return await WireClient.connect(url, token, user_id=name)


async def _team(c: Cluster, n: int) -> tuple[str, list[WireClient], list[str]]:
    """A session made on relay 0 by its host, and ``n`` clients joined through an invite,
    client i on relay i % 3 (the host is client 0)."""
    names = [unique_name("u") for _ in range(n)]
    tokens = [await sign_up(c.url(i), name) for i, name in enumerate(names)]
    clients = [await _client(c.url(i), names[i], tokens[i]) for i in range(n)]
    state = await clients[0].create_session()
    sid = state.session.session_id
    invite = await clients[0].request(InviteCreate(session_id=sid), InviteResult)
    for cl in clients[1:]:
        await cl.join(invite=invite.invite.token)
    return sid, clients, tokens


def _events(cl: WireClient) -> list[Event]:
    return [f for f in cl.frames if isinstance(f, Event)]  # type: ignore[attr-defined]


async def _until(check: object, timeout: float = WAIT, what: str = "") -> None:
    deadline = time.monotonic() + timeout
    while not check():  # type: ignore[operator]
        assert time.monotonic() < deadline, f"timed out waiting: {what}"
        await asyncio.sleep(0.02)


async def _chat(cl: WireClient, sid: str, text: str, msg_id: str | None = None) -> Ack:
    return await cl.request(ChatSend(id=msg_id or new_id(), session_id=sid, text=text), Ack)


async def test_writers_on_every_relay_get_gapless_seqs_and_every_client_each_event_once(
        cluster: Cluster):
    sid, clients, _ = await _team(cluster, 6)
    base = max(e.seq for e in _events(clients[0])) if _events(clients[0]) else 0
    acks = await asyncio.gather(*[_chat(cl, sid, f"m{i}-{k}")
                                  for k in range(10) for i, cl in enumerate(clients)])
    seqs = sorted(a.seq for a in acks)
    assert seqs == list(range(seqs[0], seqs[0] + 60))  # gapless, one seq per message
    last = seqs[-1]
    for cl in clients:
        await _until(lambda cl=cl: any(e.seq == last for e in _events(cl)), what="last event")
        got = [e.seq for e in _events(cl) if e.seq > base]
        assert got == sorted(set(got)), "each event once, in seq order"
        assert set(range(seqs[0], last + 1)) <= set(got)


async def test_one_client_id_sent_to_two_relays_at_once_is_stored_once(cluster: Cluster):
    sid, clients, tokens = await _team(cluster, 2)
    twin = await _client(cluster.url(1), clients[0].user_id, tokens[0])  # the host again
    await twin.join(session_id=sid)
    msg_id = new_id()
    a, b = await asyncio.gather(_chat(clients[0], sid, "once", msg_id),
                                _chat(twin, sid, "once", msg_id))
    assert (a.id, a.seq) == (b.id, b.seq)
    await _until(lambda: any(e.seq == a.seq for e in _events(clients[1])))
    assert [e.seq for e in _events(clients[1])].count(a.seq) == 1


async def test_a_killed_relay_its_clients_fail_over_peers_see_them_leave_once(
        cluster: Cluster):
    sid, clients, tokens = await _team(cluster, 3)  # client 2 is on relay 2
    victim = clients[2]
    acked = [await _chat(victim, sid, f"before {k}") for k in range(3)]
    cluster.relays[2].kill()
    await victim.wait_closed()
    left = [lambda cl=cl: [f for f in cl.frames if isinstance(f, UserLeft)  # type: ignore
                           and f.user_id == victim.user_id] for cl in clients[:2]]
    for check in left:
        await _until(check, timeout=15.0, what="user_left of the dead relay's user")
    # the daemon's failover, by hand: the next relay, the same session, the unacked re-sent
    back = await _client(cluster.url(0), victim.user_id, tokens[2])
    await back.join(session_id=sid, last_seq=acked[-1].seq)
    again = await _chat(back, sid, "before 2", acked[-1].id)
    assert again.seq == acked[-1].seq  # stored once
    after = await _chat(back, sid, "after")
    for cl in clients[:2]:
        await _until(lambda cl=cl: any(e.seq == after.seq for e in _events(cl)))
        assert len(left[clients.index(cl)]()) == 1  # the departure was announced once
        got = [e.seq for e in _events(cl)]
        assert got == sorted(set(got))


async def test_a_removal_on_one_relay_closes_the_users_sockets_on_the_others(
        cluster: Cluster):
    sid, clients, tokens = await _team(cluster, 3)
    target = clients[1]  # on relay 1
    twin = await _client(cluster.url(2), target.user_id, tokens[1])
    await twin.join(session_id=sid)
    await clients[0].send(ParticipantRemove(session_id=sid, user_id=target.user_id,
                                            rid="rm"))
    codes = await asyncio.gather(target.wait_closed(timeout=5.0), twin.wait_closed(timeout=5.0))
    assert codes == [CloseCode.REMOVED, CloseCode.REMOVED]


async def test_redis_restarted_acks_go_on_and_delivery_catches_up(cluster: Cluster):
    sid, clients, _ = await _team(cluster, 3)
    first = await _chat(clients[0], sid, "before")
    cluster.redis.stop()
    during = [await _chat(clients[i % 3], sid, f"during {i}") for i in range(6)]
    cluster.redis.start()
    last = max(a.seq for a in during)
    for cl in clients:
        await _until(lambda cl=cl: any(e.seq == last for e in _events(cl)),
                     what="events committed while Redis was down")
        got = [e.seq for e in _events(cl) if e.seq >= first.seq]
        assert got == list(range(first.seq, last + 1))
