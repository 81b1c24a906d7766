"""Three relay processes on one PostgreSQL and one Redis (the throwaway servers of
tests/services.py), and what the tests that drive them share: a team of clients spread
over the relays, their events, waits on conditions with a deadline.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from psycopg.conninfo import conninfo_to_dict

from tests import services
from tests.helpers import WireClient, new_id, sign_up, unique_name
from tests.relayproc import RelayProcess
from wire import Ack, ChatSend, Event, InviteCreate, InviteResult

SECRET = secrets.token_hex(24)  # every relay of a cluster signs and checks with one secret
WAIT = 20.0


class Cluster:
    def __init__(self, relays: list[RelayProcess], redis: services.RedisServer,
                 postgres: services.PostgresServer, store: str) -> None:
        self.relays = relays
        self.redis = redis
        self.postgres = postgres
        self.store = store  # the postgresql:// URL every relay uses

    def url(self, i: int) -> str:
        return self.relays[i % len(self.relays)].url


@contextmanager
def three_relays(tmp_path: Path, postgres_server: services.PostgresServer,
                 redis_server: services.RedisServer) -> Iterator[Cluster]:
    """Three relays on a fresh database and an emptied Redis; SIGKILLed at the end (a
    caller that checks their health stops them before)."""
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
        yield Cluster(relays, redis_server, postgres_server, store)
    finally:
        for relay in relays:
            if relay.running():
                relay.kill()


async def client(url: str, name: str, token: str) -> WireClient:
    return await WireClient.connect(url, token, user_id=name)


async def team(c: Cluster, n: int) -> tuple[str, list[WireClient], list[str]]:
    """A session made on relay 0 by its host, and ``n`` clients joined through an invite,
    client i on relay i % 3 (the host is client 0)."""
    names = [unique_name("u") for _ in range(n)]
    tokens = [await sign_up(c.url(i), name) for i, name in enumerate(names)]
    clients = [await client(c.url(i), names[i], tokens[i]) for i in range(n)]
    state = await clients[0].create_session()
    sid = state.session.session_id
    invite = await clients[0].request(InviteCreate(session_id=sid), InviteResult)
    for cl in clients[1:]:
        await cl.join(invite=invite.invite.token)
    return sid, clients, tokens


def events(cl: WireClient) -> list[Event]:
    return [f for f in cl.frames if isinstance(f, Event)]


async def until(check: Callable[[], object], timeout: float = WAIT, what: str = "") -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"timed out waiting: {what}"
        await asyncio.sleep(0.02)


async def chat(cl: WireClient, sid: str, text: str, msg_id: str | None = None) -> Ack:
    return await cl.request(ChatSend(id=msg_id or new_id(), session_id=sid, text=text), Ack)
