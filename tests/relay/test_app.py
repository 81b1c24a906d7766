"""The composition root: --store and --bus (and ENSEMBLE_STORE / ENSEMBLE_BUS) choose the
adapters; a value no adapter accepts stops the relay with exit code 2 and the accepted forms."""

from __future__ import annotations

import os
import socket
import sqlite3
import subprocess
import sys
from pathlib import Path

from tests.helpers import sign_in, sign_up, unique_name
from tests.relayproc import ROOT, TEST_ARGS

EXIT_CONFIG = 2
EXIT_STORAGE = 3
EXIT_BUS = 4


def _run(data_dir: Path, *args: str,
         env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """The relay with ``args``, which must stop at start (a timeout fails the test)."""
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("ENSEMBLE_")}
    full_env.update(env or {})
    return subprocess.run([sys.executable, "-m", "relay", "--port", "0", "--data-dir",
                           str(data_dir), "--dev", *TEST_ARGS, *args], cwd=ROOT, env=full_env,
                          capture_output=True, text=True, timeout=60)


def _one_error_line(result: subprocess.CompletedProcess[str]) -> str:
    lines = [line for line in result.stderr.splitlines() if "error" in line]
    assert len(lines) == 1 and "Traceback" not in result.stderr, result.stderr
    assert lines[0].startswith("ensemble-relay: error: "), lines
    return lines[0]


def test_unknown_store_scheme_exits_2_with_the_accepted_forms(tmp_path: Path) -> None:
    result = _run(tmp_path, "--store", "mysql://db.example/relay")
    assert result.returncode == EXIT_CONFIG
    line = _one_error_line(result)
    assert "unknown scheme 'mysql'" in line and "sqlite:///path/to/relay.sqlite3" in line
    assert not (tmp_path / "relay.sqlite3").exists()


def test_unknown_store_scheme_from_the_environment_exits_2(tmp_path: Path) -> None:
    result = _run(tmp_path, env={"ENSEMBLE_STORE": "mongodb://db.example/relay"})
    assert result.returncode == EXIT_CONFIG
    assert "unknown scheme 'mongodb'" in _one_error_line(result)


def test_password_in_a_refused_store_url_is_not_printed(tmp_path: Path) -> None:
    result = _run(tmp_path, "--store", "postgres://relay:hunter2secret@db.example/relay")
    assert result.returncode == EXIT_CONFIG
    assert "hunter2secret" not in result.stderr
    assert "postgres://relay:***@db.example/relay" in _one_error_line(result)


def test_sqlite_store_needs_an_absolute_file_path(tmp_path: Path) -> None:
    for value in ("sqlite://relay.sqlite3", "sqlite://", f"sqlite://{tmp_path}/"):
        result = _run(tmp_path, "--store", value)
        assert result.returncode == EXIT_CONFIG, value
        assert "absolute path" in _one_error_line(result)


def test_unknown_bus_exits_2_with_the_accepted_forms(tmp_path: Path) -> None:
    for args, env in ((("--bus", "kafka://localhost:9092"), {}),
                      ((), {"ENSEMBLE_BUS": "local://elsewhere"})):
        result = _run(tmp_path, *args, env=env)
        assert result.returncode == EXIT_CONFIG, (args, env)
        assert "(accepted forms: local, redis://host:6379/0)" in _one_error_line(result)


def test_an_unreachable_redis_bus_exits_4(tmp_path: Path) -> None:
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    result = _run(tmp_path, "--bus", f"redis://:secretpw@127.0.0.1:{port}/0")
    assert result.returncode == EXIT_BUS
    line = _one_error_line(result)
    assert "bus unreachable" in line and "secretpw" not in line


def test_sqlite_store_in_a_missing_folder_is_unusable_storage(tmp_path: Path) -> None:
    db = tmp_path / "missing" / "relay.sqlite3"
    result = _run(tmp_path / "data", "--store", f"sqlite://{db}")
    assert result.returncode == EXIT_STORAGE
    line = _one_error_line(result)
    assert "storage unusable" in line and str(db) in line


async def test_sqlite_store_url_puts_the_database_there(relay_factory, tmp_path: Path) -> None:
    """The accounts live in the file --store names, not in the data folder, and a restart
    on the same --store finds them."""
    db = tmp_path / "elsewhere" / "ensemble.db"
    db.parent.mkdir()
    relay = relay_factory("--store", f"sqlite://{db}", data_dir=tmp_path / "data")
    name = unique_name()
    await sign_up(relay.url, name)
    assert db.exists()
    assert not (relay.data_dir / "relay.sqlite3").exists()
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT count(*) FROM users WHERE id = ?", (name,)).fetchone() == (1,)
    relay.restart()
    assert await sign_in(relay.url, name)


async def test_store_and_bus_from_the_environment(relay_factory, tmp_path: Path) -> None:
    db = tmp_path / "env.db"
    relay = relay_factory(env={"ENSEMBLE_STORE": f"sqlite://{db}", "ENSEMBLE_BUS": "local"},
                          data_dir=tmp_path / "data")
    await sign_up(relay.url, unique_name())
    assert db.exists() and not (relay.data_dir / "relay.sqlite3").exists()


async def test_default_store_is_the_sqlite_file_in_the_data_folder(relay_factory,
                                                                  tmp_path: Path) -> None:
    relay = relay_factory(data_dir=tmp_path / "data")
    await sign_up(relay.url, unique_name())
    assert (relay.data_dir / "relay.sqlite3").exists()
