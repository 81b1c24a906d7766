"""Three relay processes on one PostgreSQL and one Redis (both throwaway servers), driven
by real WebSocket clients spread over the three: what a cluster promises its users.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests import services
from tests.cluster.cluster import Cluster, chat, client, events, team, three_relays, until
from tests.helpers import new_id
from wire import CloseCode, ParticipantRemove, UserLeft


@pytest.fixture
def cluster(tmp_path: Path, postgres_server: services.PostgresServer,
            redis_server: services.RedisServer) -> Iterator[Cluster]:
    with three_relays(tmp_path, postgres_server, redis_server) as c:
        yield c


async def test_writers_on_every_relay_get_gapless_seqs_and_every_client_each_event_once(
        cluster: Cluster):
    sid, clients, _ = await team(cluster, 6)
    base = max(e.seq for e in events(clients[0])) if events(clients[0]) else 0
    acks = await asyncio.gather(*[chat(cl, sid, f"m{i}-{k}")
                                  for k in range(10) for i, cl in enumerate(clients)])
    seqs = sorted(a.seq for a in acks)
    assert seqs == list(range(seqs[0], seqs[0] + 60))  # gapless, one seq per message
    last = seqs[-1]
    for cl in clients:
        await until(lambda cl=cl: any(e.seq == last for e in events(cl)), what="last event")
        got = [e.seq for e in events(cl) if e.seq > base]
        assert got == sorted(set(got)), "each event once, in seq order"
        assert set(range(seqs[0], last + 1)) <= set(got)


async def test_one_client_id_sent_to_two_relays_at_once_is_stored_once(cluster: Cluster):
    sid, clients, tokens = await team(cluster, 2)
    twin = await client(cluster.url(1), clients[0].user_id, tokens[0])  # the host again
    await twin.join(session_id=sid)
    msg_id = new_id()
    a, b = await asyncio.gather(chat(clients[0], sid, "once", msg_id),
                                chat(twin, sid, "once", msg_id))
    assert (a.id, a.seq) == (b.id, b.seq)
    await until(lambda: any(e.seq == a.seq for e in events(clients[1])))
    assert [e.seq for e in events(clients[1])].count(a.seq) == 1


async def test_a_killed_relay_its_clients_fail_over_peers_see_them_leave_once(
        cluster: Cluster):
    sid, clients, tokens = await team(cluster, 3)  # client 2 is on relay 2
    victim = clients[2]
    acked = [await chat(victim, sid, f"before {k}") for k in range(3)]
    cluster.relays[2].kill()
    await victim.wait_closed()
    left = [lambda cl=cl: [f for f in cl.frames if isinstance(f, UserLeft)  # type: ignore
                           and f.user_id == victim.user_id] for cl in clients[:2]]
    for check in left:
        await until(check, timeout=15.0, what="user_left of the dead relay's user")
    # the daemon's failover, by hand: the next relay, the same session, the unacked re-sent
    back = await client(cluster.url(0), victim.user_id, tokens[2])
    await back.join(session_id=sid, last_seq=acked[-1].seq)
    again = await chat(back, sid, "before 2", acked[-1].id)
    assert again.seq == acked[-1].seq  # stored once
    after = await chat(back, sid, "after")
    for cl in clients[:2]:
        await until(lambda cl=cl: any(e.seq == after.seq for e in events(cl)))
        assert len(left[clients.index(cl)]()) == 1  # the departure was announced once
        got = [e.seq for e in events(cl)]
        assert got == sorted(set(got))


async def test_a_removal_on_one_relay_closes_the_users_sockets_on_the_others(
        cluster: Cluster):
    sid, clients, tokens = await team(cluster, 3)
    target = clients[1]  # on relay 1
    twin = await client(cluster.url(2), target.user_id, tokens[1])
    await twin.join(session_id=sid)
    await clients[0].send(ParticipantRemove(session_id=sid, user_id=target.user_id,
                                            rid="rm"))
    codes = await asyncio.gather(target.wait_closed(timeout=5.0), twin.wait_closed(timeout=5.0))
    assert codes == [CloseCode.REMOVED, CloseCode.REMOVED]


async def test_redis_restarted_acks_go_on_and_delivery_catches_up(cluster: Cluster):
    sid, clients, _ = await team(cluster, 3)
    first = await chat(clients[0], sid, "before")
    cluster.redis.stop()
    during = [await chat(clients[i % 3], sid, f"during {i}") for i in range(6)]
    cluster.redis.start()
    last = max(a.seq for a in during)
    for cl in clients:
        await until(lambda cl=cl: any(e.seq == last for e in events(cl)),
                     what="events committed while Redis was down")
        got = [e.seq for e in events(cl) if e.seq >= first.seq]
        assert got == list(range(first.seq, last + 1))
