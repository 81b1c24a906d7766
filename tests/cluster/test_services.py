"""The throwaway servers behave as the cluster tests rely on (tests/services.py)."""

from __future__ import annotations

import time

import psycopg
import pytest

from tests import services


def test_redis_pauses_and_restarts_on_its_port_with_nothing_kept(
        redis_server: services.RedisServer) -> None:
    port = redis_server.port
    client = redis_server.client()
    client.set("k", "v")
    redis_server.pause(300)
    started = time.monotonic()
    assert client.get("k") == b"v"
    assert time.monotonic() - started >= 0.25  # the command waited out the pause
    redis_server.stop()
    assert not redis_server.running()
    redis_server.start()
    assert redis_server.port == port
    assert redis_server.client().get("k") is None  # --save '' --appendonly no: nothing on disk


def test_postgres_restarts_on_its_data_and_port(postgres_server: services.PostgresServer) -> None:
    dsn = postgres_server.create_database()
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("CREATE TABLE t (v int)")
        conn.execute("INSERT INTO t VALUES (42)")
    postgres_server.stop()
    assert not postgres_server.running()
    with pytest.raises(psycopg.OperationalError):
        psycopg.connect(dsn, connect_timeout=2)
    postgres_server.start()
    with psycopg.connect(dsn) as conn:
        assert conn.execute("SELECT v FROM t").fetchone() == (42,)
    postgres_server.drop_database(dsn)
