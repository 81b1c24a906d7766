"""The relay on PostgreSQL (``--store postgresql://...``), end to end: a real relay process,
real clients, the throwaway PostgreSQL server. What a client stores is there after a relay
restart, and /healthz follows the database (503 while it is stopped, 200 again after)."""

from __future__ import annotations

import asyncio
import json
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from typing import Any

import psycopg
import pytest
from psycopg.conninfo import conninfo_to_dict

from tests import services
from tests.helpers import RelayRefused, WireClient, new_id, sign_in, sign_up, unique_name
from tests.relayproc import RelayProcess
from wire import Ack, Anchor, ChatSend, Error, Event, ThreadCreate

WAIT = 30.0  # most seconds a change of the database's state takes to show


def _healthz(http_url: str) -> tuple[int, dict[str, Any]]:
    try:
        with urllib.request.urlopen(http_url + "/healthz", timeout=10) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


async def _health_becomes(http_url: str, status: int) -> dict[str, Any]:
    """Poll /healthz until it answers ``status``; return its body."""
    deadline = time.monotonic() + WAIT
    while True:
        got, body = await asyncio.to_thread(_healthz, http_url)
        if got == status:
            return body
        if time.monotonic() > deadline:
            raise AssertionError(f"/healthz still {got} {body} after {WAIT} s")
        await asyncio.sleep(0.05)


@pytest.fixture
def database_url(postgres_server: services.PostgresServer) -> str:
    """A fresh database on the throwaway server, as a postgresql:// URL."""
    postgres_server.ensure_running()
    name = conninfo_to_dict(postgres_server.create_database())["dbname"]
    return f"postgresql://postgres@127.0.0.1:{postgres_server.port}/{name}"


@pytest.mark.allow_errors(r"logger=relay\.server msg=\"storage cannot be written\"",
                          r"logger=relay\.server msg=\"periodic task failed\"")
async def test_a_relay_on_postgres_keeps_chat_and_threads_and_reports_the_database(
        relay_factory: Callable[..., RelayProcess], postgres_server: services.PostgresServer,
        database_url: str) -> None:
    relay = relay_factory("--store", database_url, "--storage-probe-interval", "0.1")
    status, body = await asyncio.to_thread(_healthz, relay.http_url)
    assert (status, body["storage"]) == (200, "ok")

    name = unique_name("ann")
    client = await WireClient.connect(relay.url, await sign_up(relay.url, name))
    state = await client.create_session("on postgres")
    sid = state.session.session_id
    mid, tid = new_id(), new_id()
    chat = await client.request(ChatSend(id=mid, session_id=sid, text="stored in postgres"), Ack)
    anchor = Anchor(path="src/app.py", start_line=3, end_line=3, text=["def f():"])
    thread = await client.request(
        ThreadCreate(id=tid, session_id=sid, anchor=anchor, text="look here"), Ack)
    assert (chat.seq, thread.seq) == (1, 2)
    await client.close()
    assert not (relay.data_dir / "relay.sqlite3").exists()  # nothing went to SQLite
    with psycopg.connect(database_url) as conn:
        row = conn.execute("SELECT count(*) FROM chat WHERE id = %s", [mid]).fetchone()
        assert row == (1,)

    relay.restart()
    token = await sign_in(relay.url, name)  # the account is there
    client = await WireClient.connect(relay.url, token)
    state = await client.join(sid)
    assert [(m.id, m.text, m.seq) for m in state.chat] == [(mid, "stored in postgres", 1)]
    [kept] = state.threads
    assert (kept.id, kept.anchor.path, [c.text for c in kept.comments]) == \
        (tid, "src/app.py", ["look here"])
    assert state.last_seq == 2

    await asyncio.to_thread(postgres_server.stop)
    try:
        body = await _health_becomes(relay.http_url, 503)
        assert body["storage"] == "unwritable" and "cannot be reached" in str(body["reason"])
    finally:
        await asyncio.to_thread(postgres_server.ensure_running)
    body = await _health_becomes(relay.http_url, 200)
    assert body["storage"] == "ok"
    again = await client.request(ChatSend(id=new_id(), session_id=sid, text="after"), Ack)
    assert again.seq == 3
    await client.expect(Event, predicate=lambda e: e.seq == 3)
    await client.close()


async def test_nul_characters_are_refused_with_a_code_on_postgres(
        relay_factory: Callable[..., RelayProcess], database_url: str) -> None:
    """PostgreSQL text cannot hold U+0000: a NUL in a client id, a session id, a chat text,
    a username or a password is refused as invalid_value before any query, the connection
    and the session go on, and nothing is stored."""
    relay = relay_factory("--store", database_url)
    name = unique_name("nul")
    client = await WireClient.connect(relay.url, await sign_up(relay.url, name))
    sid = (await client.create_session("nul")).session.session_id
    frames = [
        {"type": "chat_send", "id": "m\u0000", "session_id": sid, "text": "x", "rid": "r1"},
        {"type": "chat_send", "id": new_id(), "session_id": sid, "text": "a\u0000b", "rid": "r2"},
        {"type": "chat_send", "id": new_id(), "session_id": sid + "\u0000", "text": "x",
         "rid": "r3"},
        {"type": "session_join", "session_id": "\u0000", "rid": "r4"},
    ]
    for frame in frames:
        await client.send(frame)
        err = await client.expect(Error)
        assert (err.code, err.rid) == ("invalid_value", frame["rid"]), err
        assert "NUL" in err.message
    ack = await client.request(ChatSend(id=new_id(), session_id=sid, text="after"), Ack)
    assert ack.seq == 1
    await client.close()
    for username, password in ((name + "\u0000x", "correct horse"), (name, "pass\u0000word")):
        for auth in (sign_up, sign_in):
            with pytest.raises(RelayRefused) as refused:
                await auth(relay.url, username, password)
            assert refused.value.error.code in ("invalid_value", "username_taken"), \
                refused.value.error
    with psycopg.connect(database_url) as conn:
        assert conn.execute("SELECT count(*) FROM chat").fetchone() == (1,)
