"""Faults in a cluster: three relay processes on one PostgreSQL and one Redis (throwaway
servers), driven by real clients spread over the three (tests/cluster/cluster.py). Redis
paused, PostgreSQL restarted, a role changed on another relay while the bus is held, a relay
SIGKILLed or stopped past the liveness timeout: what each promises the users, and that
every relay stays healthy (no error it was not meant to log, a clean exit on SIGTERM).
"""

from __future__ import annotations

import asyncio
import itertools
import os
import signal
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import psycopg
import pytest

from tests import health, services
from tests.cluster.cluster import Cluster, chat, client, events, team, three_relays, until
from tests.daemon.daemon_harness import DaemonClient, daemon_factory
from tests.helpers import WireClient, new_id, sign_up, unique_name
from wire import (
    Ack,
    Anchor,
    ChatSend,
    CursorUpdate,
    ErrorCode,
    InviteCreate,
    InviteResult,
    Ok,
    Position,
    PresenceUpdate,
    RoleSet,
    Selection,
    SessionState,
    ThreadCreate,
    UserJoined,
    UserLeft,
)

pytestmark = pytest.mark.timeout(90)

OUTBOX = "ensemble/didChangeOutbox"
CONNECTION = "ensemble/didChangeConnection"
CHAT = "ensemble/didReceiveChat"


@pytest.fixture
async def cluster(tmp_path: Path, postgres_server: services.PostgresServer,
                  redis_server: services.RedisServer, request: pytest.FixtureRequest
                  ) -> AsyncIterator[Cluster]:
    """Three relays; at teardown each one still running is stopped with SIGTERM and must
    exit with 0, and none may have logged an error the test does not allow. (The event
    loop runs meanwhile, so that the test's clients answer the relays' closing handshakes.)"""
    with three_relays(tmp_path, postgres_server, redis_server) as c:
        yield c
        if redis_server.running():
            redis_server.unpause()
        await asyncio.to_thread(postgres_server.ensure_running)
        await asyncio.gather(*[asyncio.to_thread(r.stop) for r in c.relays if r.running()])
        allow = health.allowance(request.node)
        health.fail_if([f for r in c.relays for f in r.health(allow)])


@pytest.fixture
async def daemons(tmp_path: Path, request: pytest.FixtureRequest
                  ) -> AsyncIterator[Callable[..., Any]]:
    """Real daemon processes over stdio (tests/daemon/daemon_harness.py), each on one relay,
    checked at teardown as in tests/daemon."""
    async with daemon_factory(tmp_path, request.node) as make:
        yield make


def _seqs_from(cl: WireClient, first: int) -> list[int]:
    return [e.seq for e in events(cl) if e.seq >= first]


# -- Redis paused


@pytest.mark.parametrize("pause", [2.5, 4.5, 7.0], ids=["held", "past-timeouts", "past-liveness"])
async def test_redis_paused_mid_traffic_acks_go_on_and_every_client_gets_each_event_once(
        cluster: Cluster, pause: float):
    """CLIENT PAUSE ALL while writers on every relay send chat: acks go on (a commit needs
    PostgreSQL only), and afterwards every client has every event exactly once, in seq
    order, without a gap, and nobody was announced as gone. 2.5 s holds every Redis command
    (a relay's command waits up to 2 s and is tried once more); 4.5 s outlasts that and
    the 3 s after which a relay takes its subscription for dead: publishes fail and the
    relays fill from the store; 7 s outlasts the 5 s liveness timeout as well."""
    sid, clients, _ = await team(cluster, 6)
    acks: list[tuple[float, int, int]] = []  # (time, writer, seq)
    stop = asyncio.Event()

    async def write(i: int, cl: WireClient) -> None:
        k = 0
        while not stop.is_set():
            ack = await chat(cl, sid, f"w{i}-{k}")
            acks.append((time.monotonic(), i, ack.seq))
            k += 1
            await asyncio.sleep(0.04)  # pace: within the relay's 50 frames a second

    writers = [asyncio.create_task(write(i, cl)) for i, cl in enumerate(clients)]
    try:
        await until(lambda: len(acks) >= 30, what="traffic before the pause")
        paused = time.monotonic()
        await asyncio.to_thread(cluster.redis.pause, int(pause * 1000))
        resumed = paused + pause
        await until(lambda: {i for t, i, _ in acks if t > resumed + 0.2} == set(range(6)),
                    what="every writer acked after the pause")
    finally:
        stop.set()
        await asyncio.gather(*writers)
    during = [(t, i) for t, i, _ in acks if paused < t < resumed]
    assert {i for _, i in during} == set(range(6)), "a writer got no ack during the pause"
    for w in range(6):  # and none waited for Redis: acks came all through the pause
        times = [paused] + [t for t, i in during if i == w] + [resumed]
        longest = max(b - a for a, b in itertools.pairwise(times))
        assert longest < pause / 2, f"writer {w} (relay {w % 3}) waited {longest:.2f} s"
    seqs = sorted(seq for _, _, seq in acks)
    first, last = seqs[0], seqs[-1]
    assert seqs == list(range(first, last + 1))  # one seq per message, no gap
    for cl in clients:
        await until(lambda cl=cl: any(e.seq == last for e in events(cl)),  # type: ignore[misc]
                    what=f"the last event at {cl.user_id}")
        assert _seqs_from(cl, first) == list(range(first, last + 1)), cl.user_id
    # A stall, even one longer than the liveness timeout, is no departure. A false one
    # would come from a relay's heartbeat soon after the pause (every second; each Redis
    # command waits up to 2 s and is tried once more), while the liveness keys have expired
    # and another relay's refresh has not landed yet: wait out that window, then look.
    await asyncio.sleep(max(0.0, resumed + 5.0 - time.monotonic()))
    assert not [f for cl in clients for f in cl.frames if isinstance(f, UserLeft)]


# -- PostgreSQL restarted


class _Stamped(list[Any]):
    """A daemon's list of notifications that also notes when each one arrived."""

    def __init__(self, items: list[Any]) -> None:
        super().__init__(items)
        self.times = [0.0] * len(items)

    def append(self, item: Any) -> None:
        self.times.append(time.monotonic())
        super().append(item)

    def pending(self) -> list[tuple[float, int]]:
        """(arrival, pending) of each didChangeOutbox."""
        return [(t, p["pending"]) for t, p in zip(self.times, self, strict=True)]

    def most(self) -> int:
        return max((p["pending"] for p in self), default=0)


def _stored_chat(d: DaemonClient) -> set[str]:
    """Ids of the stored messages (seq > 0) the daemon told its editor of."""
    return {m["id"] for p in d.notes[CHAT] for m in p["messages"] if m["seq"] > 0}


async def _in_session(d: DaemonClient, sid: str) -> None:
    state = await d.request("ensemble/state")
    assert (state.get("session") or {}).get("session", {}).get("session_id") == sid, d.name


async def _outbox_empty(d: DaemonClient, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while (await d.request("ensemble/state"))["outbox"] != 0:
        assert time.monotonic() < deadline, f"{d.name}: outbox not empty after {timeout} s"
        await asyncio.sleep(0.05)


@pytest.mark.allow_errors(
    r'logger=relay\.server msg="storage cannot be written" reason="the database cannot be',
)
async def test_postgres_restarted_mid_traffic_nothing_is_acked_then_outboxes_store_each_once(
        cluster: Cluster, daemons: Callable[..., Any]):
    """Daemons on the three relays write chat while PostgreSQL stops and starts again:
    while it is down no request is acked (an error or nothing); afterwards the outboxes
    send what they hold again and every message is stored exactly once, seqs gapless."""
    sid, probes, _ = await team(cluster, 3)  # one raw client per relay, the host first
    invite = await probes[0].request(InviteCreate(session_id=sid), InviteResult)
    ds: list[DaemonClient] = []
    for i in range(3):
        name = unique_name("d")
        d = await daemons(name, cluster.url(i), await sign_up(cluster.url(i), name))
        await d.wait_for(CONNECTION, lambda p: p["state"] == "online")
        await d.request("ensemble/joinSession", {"link": invite.invite.token})
        await _in_session(d, sid)
        ds.append(d)
    sent: list[str] = []  # every message id the daemons queued
    outbox: dict[str, _Stamped] = {}  # daemon -> its didChangeOutbox, with arrival times
    for d in ds:
        outbox[d.name] = d.notes[OUTBOX] = _Stamped(d.notes[OUTBOX])
    writing = asyncio.Event()
    writing.set()

    async def write(d: DaemonClient) -> None:
        k = 0
        while writing.is_set():
            sent.append((await d.request("ensemble/sendChat", {"text": f"{d.name} {k}"}))["id"])
            k += 1
            await asyncio.sleep(0.05)  # pace: about 20 messages a second per daemon

    writers = [asyncio.create_task(write(d)) for d in ds]
    try:
        for d in ds:  # traffic flows: each daemon has seen some of its own chat stored
            await d.wait_for(CHAT, lambda p, d=d: sum(
                m["seq"] > 0 and m["author"]["id"] == d.name for m in p["messages"]) >= 1)
        await until(lambda: len(sent) >= 30, what="traffic")
        await asyncio.to_thread(cluster.postgres.stop)
        stopped = time.monotonic()
        probe_ids = [new_id() for _ in probes]
        refusals = await asyncio.gather(*[
            cl.error(ChatSend(id=mid, session_id=sid, text=f"probe {mid}"), timeout=15.0)
            for cl, mid in zip(probes, probe_ids, strict=True)])
        # a request the stop cut off mid-call is refused like one that found no connection
        assert {e.code for e in refusals} == {ErrorCode.STORAGE_BUSY}
        restarted = time.monotonic()
        await asyncio.to_thread(cluster.postgres.start)
        for d in ds:  # the outboxes drain again
            await until(lambda d=d: any(t > restarted and n < outbox[d.name].most()
                                        for t, n in outbox[d.name].pending()), what=d.name)
    finally:
        writing.clear()
        await asyncio.gather(*writers)
    for d in ds:
        await _outbox_empty(d)
        down = [n for t, n in outbox[d.name].pending() if stopped + 0.5 < t < restarted]
        assert down and down == sorted(down), f"{d.name}: an ack while the server was down"
    assert not any(isinstance(f, Ack) for cl in probes for f in cl.frames)
    for cl, mid in zip(probes, probe_ids, strict=True):  # the raw clients send theirs again
        await chat(cl, sid, f"probe {mid}", mid)

    with psycopg.connect(cluster.store) as conn:
        rows = conn.execute("SELECT id, data::jsonb->>'text' FROM chat WHERE session_id = %s",
                            [sid]).fetchall()
        seqs = [r[0] for r in conn.execute(
            "SELECT seq FROM events WHERE session_id = %s ORDER BY seq", [sid]).fetchall()]
    ids, texts = [r[0] for r in rows], [r[1] for r in rows]
    assert len(ids) == len(set(ids)) and len(texts) == len(set(texts))  # each stored once
    assert set(ids) == set(sent) | set(probe_ids)  # everything written was stored
    assert seqs == list(range(1, len(seqs) + 1))  # gapless
    last = seqs[-1]
    for cl in probes:
        await until(lambda cl=cl: any(e.seq == last for e in events(cl)),  # type: ignore[misc]
                    what=f"the last event at {cl.user_id}")
        got = [e.seq for e in events(cl)]
        assert got == sorted(set(got)), cl.user_id  # each event once, in order
    for d in ds:  # and every daemon shows every message
        await until(lambda d=d: set(ids) <= _stored_chat(d), what=f"all the chat at {d.name}")


# -- roles


def _thread(sid: str, text: str) -> ThreadCreate:
    anchor = Anchor(path="src/app.py", start_line=3, end_line=3, text=["def f():"])
    return ThreadCreate(id=new_id(), session_id=sid, anchor=anchor, text=text)


def _roles_seen(cl: WireClient, user_id: str) -> list[str]:
    return [e.participant.role for e in events(cl)
            if e.kind == "role_changed" and e.participant is not None
            and e.participant.user.id == user_id]


async def test_a_role_change_on_one_relay_holds_at_once_for_a_socket_on_another(
        cluster: Cluster):
    """The host on relay 0 demotes the editor on relay 1, then promotes them back, each
    time while Redis holds every write (the change cannot reach relay 1 through the bus):
    the editor's next code comment on relay 1 is refused (forbidden), then accepted."""
    sid, (host, editor), _ = await team(cluster, 2)
    await editor.request(_thread(sid, "as an editor"), Ack)

    cluster.redis.pause(5000, "WRITE")  # PUBLISH included: relay 1 hears nothing
    try:
        await host.request(RoleSet(session_id=sid, user_id=editor.user_id, role="viewer"), Ok)
        refused = await editor.error(_thread(sid, "as a viewer"))
        assert _roles_seen(editor, editor.user_id) == []  # the bus had not told relay 1
    finally:
        cluster.redis.unpause()
    assert refused.code == ErrorCode.FORBIDDEN
    await until(lambda: _roles_seen(editor, editor.user_id) == ["viewer"],
                what="the demotion reaching relay 1")
    assert (await editor.error(_thread(sid, "still a viewer"))).code == ErrorCode.FORBIDDEN

    cluster.redis.pause(5000, "WRITE")
    try:
        await host.request(RoleSet(session_id=sid, user_id=editor.user_id, role="editor"), Ok)
        accepted = await editor.request(_thread(sid, "an editor again"), Ack)
        assert _roles_seen(editor, editor.user_id) == ["viewer"]
    finally:
        cluster.redis.unpause()
    await until(lambda: any(e.seq == accepted.seq for e in events(host)),
                what="the new thread reaching the host")
    assert _roles_seen(editor, editor.user_id) == ["viewer", "editor"]
    for cl in (host, editor):
        got = [e.seq for e in events(cl)]
        assert got == sorted(set(got)), cl.user_id


# -- a relay killed


async def _fresh_view(url: str, user_id: str, token: str, sid: str) -> SessionState:
    """What a new socket of ``user_id`` on ``url`` is told when it joins."""
    cl = await client(url, user_id, token)
    try:
        return await cl.join(session_id=sid)
    finally:
        await cl.close()


def _listed(state: SessionState, user_id: str) -> tuple[bool, bool]:
    """(online among the participants, in the presence list) for ``user_id``."""
    [p] = [p for p in state.participants if p.user.id == user_id]
    return p.online, any(e.user_id == user_id for e in state.presence)


def _cursor(sid: str, line: int) -> CursorUpdate:
    at = Position(line=line, character=0)
    return CursorUpdate(session_id=sid, path="src/app.py",
                        selections=[Selection(anchor=at, active=at)])


def _cursor_at(cl: WireClient, user_id: str, line: int) -> bool:
    return any(isinstance(f, PresenceUpdate) and any(
        p.user_id == user_id and p.cursor is not None
        and p.cursor.selections[0].active.line == line for p in f.peers) for f in cl.frames)


async def test_a_killed_relays_user_leaves_presence_everywhere_and_returns_after_failover(
        cluster: Cluster):
    """Relay 2 is SIGKILLed: once the liveness timeout has passed, peers on relays 0 and 1
    are told the user left and no longer list them (participants offline, no presence);
    when the user fails over to relay 0 they are announced and listed once again."""
    sid, clients, tokens = await team(cluster, 3)  # client i on relay i
    peers, victim = clients[:2], clients[2]
    await victim.send(_cursor(sid, 7))
    for i, cl in enumerate(peers):
        await until(lambda cl=cl: _cursor_at(cl, victim.user_id, 7),  # type: ignore[misc]
                    what="the victim's cursor")
        view = await _fresh_view(cluster.url(i), cl.user_id, tokens[i], sid)
        assert _listed(view, victim.user_id) == (True, True)

    killed = time.monotonic()
    cluster.relays[2].kill()
    left = [lambda cl=cl: [f for f in cl.frames if isinstance(f, UserLeft)  # type: ignore[misc]
                           and f.user_id == victim.user_id] for cl in peers]
    for check in left:
        await until(check, timeout=20.0, what="user_left of the dead relay's user")
    waited = time.monotonic() - killed
    for i, _cl in enumerate(peers):
        view = await _fresh_view(cluster.url(i), peers[i].user_id, tokens[i], sid)
        assert _listed(view, victim.user_id) == (False, False), f"relay {i}"

    marks = [len(cl.frames) for cl in peers]
    back = await client(cluster.url(0), victim.user_id, tokens[2])
    await back.join(session_id=sid)
    await _back_once(cluster, sid, peers, tokens, back, left, marks, "the failover")
    assert waited > 3.0  # the departure came from the liveness timeout, not a goodbye


async def _back_once(cluster: Cluster, sid: str, peers: list[WireClient], tokens: list[str],
                     user: WireClient, left: list[Callable[[], list[UserLeft]]],
                     marks: list[int], after: str) -> None:
    """``user`` (gone from ``peers`` once: ``left``) is announced back to each peer once
    after its frame ``marks``; its next cursor reaches them and every peer's relay lists
    it again, cursor and all."""
    joined = [lambda cl=cl, mark=mark: [f for f in cl.frames[mark:]  # type: ignore[misc]
                                        if isinstance(f, UserJoined)
                                        and f.participant.user.id == user.user_id]
              for cl, mark in zip(peers, marks, strict=True)]
    for check in joined:
        await until(check, what=f"user_joined after {after}")
    await user.send(_cursor(sid, 9))
    for i, cl in enumerate(peers):
        await until(lambda cl=cl: _cursor_at(cl, user.user_id, 9),  # type: ignore[misc]
                    what=f"the cursor after {after}")
        view = await _fresh_view(cluster.url(i), cl.user_id, tokens[i], sid)
        assert _listed(view, user.user_id) == (True, True), f"relay {i}"
        assert len(left[i]()) == 1 and len(joined[i]()) == 1  # announced once each


async def test_a_relay_stalled_past_the_liveness_timeout_announces_its_user_again(
        cluster: Cluster):
    """Relay 2 stops (SIGSTOP) for longer than the liveness timeout: the others take it for
    dead and tell peers its user left. When it resumes, the user, still connected to it,
    is announced back once and listed again on every relay, cursor included."""
    sid, clients, tokens = await team(cluster, 3)  # client i on relay i
    peers, victim = clients[:2], clients[2]
    await victim.send(_cursor(sid, 7))
    for cl in peers:
        await until(lambda cl=cl: _cursor_at(cl, victim.user_id, 7),  # type: ignore[misc]
                    what="the victim's cursor")
    left = [lambda cl=cl: [f for f in cl.frames if isinstance(f, UserLeft)  # type: ignore[misc]
                           and f.user_id == victim.user_id] for cl in peers]
    pid = cluster.relays[2].pid
    os.kill(pid, signal.SIGSTOP)
    try:
        for check in left:
            await until(check, timeout=20.0, what="user_left of the stalled relay's user")
        marks = [len(cl.frames) for cl in peers]
    finally:
        os.kill(pid, signal.SIGCONT)
    await _back_once(cluster, sid, peers, tokens, victim, left, marks, "the stall")
    assert not [f for f in victim.frames if isinstance(f, UserLeft)]
    await chat(victim, sid, "still here")  # the stalled relay's socket works
