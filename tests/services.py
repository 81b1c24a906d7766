"""Throwaway Redis and PostgreSQL servers for tests, never the system ones.

Each server lives in its own temporary folder on a free loopback port and is gone with it.
``RedisServer``: ``redis-server --save '' --appendonly no`` (nothing on disk); stop() is
``SHUTDOWN NOSAVE``, start() again reuses the port, pause(ms) is ``CLIENT PAUSE``.
``PostgresServer``: ``initdb`` (trust authentication, superuser ``postgres``) and ``pg_ctl``;
stop() is ``pg_ctl stop -m fast``, start() again reuses the data folder and the port. The test
server runs with ``fsync=off`` (a stop or a crash of the server loses nothing, only an OS crash
would), so databases are created and written quickly; commits still wait for the server.

PostgreSQL refuses to run as root: as root the server runs as the ``postgres`` system user
(created by the Debian package), which owns the folder.
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

START_TIMEOUT = 30.0
POLL = 0.02  # seconds between readiness checks


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait(ready: Any, what: str, timeout: float = START_TIMEOUT) -> None:
    """Call ``ready()`` until it returns true; raise after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not ready():
        if time.monotonic() > deadline:
            raise RuntimeError(f"{what} did not happen within {timeout:.0f} s")
        time.sleep(POLL)


# -- Redis


def redis_binary() -> str | None:
    return shutil.which("redis-server") or next(
        (p for p in ("/usr/bin/redis-server", "/usr/sbin/redis-server") if os.access(p, os.X_OK)),
        None)


def redis_missing() -> list[str]:
    missing = [] if redis_binary() else ["redis-server"]
    try:
        import redis  # noqa: F401
    except ImportError:
        missing.append("the redis Python package (pip install -e '.[scale]')")
    return missing


class RedisServer:
    """A redis-server subprocess on 127.0.0.1:``port``; ``url`` is redis://127.0.0.1:PORT/0."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.port = 0
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def client(self, timeout: float = 2.0) -> Any:
        import redis
        return redis.Redis(host="127.0.0.1", port=self.port, socket_timeout=timeout,
                           socket_connect_timeout=timeout)

    def start(self) -> RedisServer:
        """Start on a free port (the first time) or on the same port again."""
        for _attempt in range(5):
            port = self.port or free_port()
            if self._spawn(port):
                self.port = port
                return self
            if self.port:  # the same port again: it must be ours
                break
        raise RuntimeError(f"redis-server did not start:\n{self.log()}")

    def _spawn(self, port: int) -> bool:
        binary = redis_binary()
        assert binary is not None
        cmd = [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "",
               "--appendonly", "no", "--dir", str(self.folder), "--daemonize", "no",
               "--logfile", str(self.folder / "redis.log")]
        proc = subprocess.Popen(cmd, cwd=self.folder, stdin=subprocess.DEVNULL,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.proc = proc
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                return False  # e.g. the port was taken in the meantime
            if self._pings(port):
                return True
            time.sleep(POLL)
        self.kill()
        return False

    def _pings(self, port: int) -> bool:
        try:
            return self.command("PING", port=port).startswith(b"+PONG")
        except OSError:
            return False

    def command(self, *args: str, port: int = 0, timeout: float = 2.0) -> bytes:
        """Send one command on a new connection; the first bytes of the reply (b"" when the
        server closed the connection without one)."""
        frame = f"*{len(args)}\r\n".encode() + b"".join(
            f"${len(a.encode())}\r\n{a}\r\n".encode() for a in args)
        with socket.create_connection(("127.0.0.1", port or self.port), timeout=timeout) as s:
            s.sendall(frame)
            return s.recv(4096)

    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def stop(self) -> None:
        """``SHUTDOWN NOSAVE`` and wait for the process to exit."""
        if not self.running():
            return
        assert self.proc is not None
        with contextlib.suppress(OSError):
            self.command("SHUTDOWN", "NOSAVE")  # the server closes the connection: no reply
        try:
            self.proc.wait(START_TIMEOUT)
        except subprocess.TimeoutExpired:
            self.kill()

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def restart(self) -> RedisServer:
        self.stop()
        return self.start()

    def pause(self, ms: int, mode: str = "ALL") -> None:
        """``CLIENT PAUSE ms``: the server holds every client's commands for ``ms``
        milliseconds (``mode="WRITE"``: only writes)."""
        reply = self.command("CLIENT", "PAUSE", str(ms), mode)
        if not reply.startswith(b"+OK"):
            raise RuntimeError(f"CLIENT PAUSE failed: {reply!r}")

    def unpause(self) -> None:
        self.command("CLIENT", "UNPAUSE")

    def log(self) -> str:
        path = self.folder / "redis.log"
        return path.read_text(errors="replace") if path.exists() else ""


# -- PostgreSQL


def postgres_bindir() -> Path | None:
    """The newest /usr/lib/postgresql/*/bin (Debian keeps initdb and pg_ctl off PATH), else
    the folder of an initdb on PATH."""
    found = [Path(p) for p in glob.glob("/usr/lib/postgresql/*/bin")
             if (Path(p) / "initdb").exists() and (Path(p) / "pg_ctl").exists()]
    if found:
        return max(found, key=lambda p: _version(p.parent.name))
    initdb = shutil.which("initdb")
    if initdb and shutil.which("pg_ctl"):
        return Path(initdb).resolve().parent
    return None


def _version(text: str) -> tuple[int, ...]:
    return tuple(int(part) for part in text.split(".") if part.isdigit())


def _run_as() -> dict[str, Any]:
    """Subprocess arguments that drop root to the postgres user (PostgreSQL refuses root)."""
    if os.geteuid() != 0:
        return {}
    return {"user": "postgres", "group": pwd.getpwnam("postgres").pw_gid, "extra_groups": []}


def postgres_missing() -> list[str]:
    missing = [] if postgres_bindir() else ["initdb and pg_ctl (PostgreSQL server binaries)"]
    if os.geteuid() == 0:
        try:
            pwd.getpwnam("postgres")
        except KeyError:
            missing.append("a 'postgres' system user (PostgreSQL refuses to run as root)")
    try:
        import psycopg  # noqa: F401
        import psycopg_pool  # noqa: F401
    except ImportError:
        missing.append("psycopg and psycopg-pool (pip install -e '.[scale]')")
    return missing


class PostgresServer:
    """A PostgreSQL cluster in ``folder``/data, listening on 127.0.0.1:``port`` and on a unix
    socket in ``folder``. ``dsn(dbname)`` is a libpq connection string for it."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.data = folder / "data"
        self.port = free_port()
        bindir = postgres_bindir()
        assert bindir is not None
        self.bindir = bindir
        self._databases = 0

    def dsn(self, dbname: str = "postgres") -> str:
        return f"host=127.0.0.1 port={self.port} user=postgres dbname={dbname}"

    def _pg(self, tool: str, *args: str, check: bool = True,
            timeout: float = START_TIMEOUT + 10) -> subprocess.CompletedProcess[str]:
        return subprocess.run([str(self.bindir / tool), *args], cwd=self.folder,
                              capture_output=True, text=True, check=check, timeout=timeout,
                              **_run_as())

    def init(self) -> PostgresServer:
        """``initdb`` with trust authentication, then the test settings."""
        if os.geteuid() == 0:
            pw = pwd.getpwnam("postgres")
            os.chown(self.folder, pw.pw_uid, pw.pw_gid)
        self._pg("initdb", "-D", str(self.data), "-U", "postgres", "--auth=trust",
                 "--encoding=UTF8", "--locale=C", "--no-sync")
        with open(self.data / "postgresql.conf", "a") as conf:
            conf.write("\n".join([
                "",
                f"port = {self.port}",
                "listen_addresses = '127.0.0.1'",
                f"unix_socket_directories = '{self.folder}'",
                "fsync = off",
                "full_page_writes = off",
                "max_connections = 200",
                "logging_collector = off",
                "",
            ]))
        return self

    def start(self) -> PostgresServer:
        """``pg_ctl start`` and wait (with a timeout) until the server accepts connections."""
        result = self._pg("pg_ctl", "start", "-D", str(self.data), "-l",
                          str(self.folder / "postgres.log"), "-w", "-t", str(int(START_TIMEOUT)),
                          check=False)
        if result.returncode != 0:
            raise RuntimeError(f"postgres did not start: {result.stdout}{result.stderr}\n"
                               f"{self.log()}")
        _wait(self._accepts, "postgres accepting connections")
        return self

    def _accepts(self) -> bool:
        import psycopg
        try:
            with psycopg.connect(self.dsn(), connect_timeout=2):
                return True
        except psycopg.OperationalError:
            return False

    def running(self) -> bool:
        return self._pg("pg_ctl", "status", "-D", str(self.data), check=False).returncode == 0

    def stop(self, mode: str = "fast") -> None:
        """``pg_ctl stop -m fast``: running transactions are rolled back, clients cut off."""
        if self.running():
            self._pg("pg_ctl", "stop", "-D", str(self.data), "-m", mode, "-w", "-t",
                     str(int(START_TIMEOUT)))

    def restart(self) -> PostgresServer:
        self.stop()
        return self.start()

    def ensure_running(self) -> None:
        if not self.running():
            self.start()

    def create_database(self, name: str | None = None) -> str:
        """A new empty database; returns its dsn."""
        import psycopg
        if name is None:
            self._databases += 1
            name = f"test_{os.getpid()}_{self._databases}"
        with psycopg.connect(self.dsn(), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.dsn(name)

    def create_schema(self, database: str = "postgres") -> str:
        """A new empty schema in ``database``; returns a dsn whose connections have it first
        on their search path (so everything they create lands in it)."""
        import psycopg
        self._databases += 1
        name = f"test_{os.getpid()}_{self._databases}"
        with psycopg.connect(self.dsn(database), autocommit=True) as conn:
            conn.execute(f'CREATE SCHEMA "{name}"')
        return f"{self.dsn(database)} options='-c search_path={name}'"

    def drop_database(self, dsn: str) -> None:
        import psycopg
        name = psycopg.conninfo.conninfo_to_dict(dsn)["dbname"]
        with psycopg.connect(self.dsn(), autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def log(self) -> str:
        path = self.folder / "postgres.log"
        return path.read_text(errors="replace") if path.exists() else ""


def temp_folder(prefix: str) -> Path:
    """A folder under the system temp dir (not pytest's, which the postgres user cannot
    enter when the tests run as root)."""
    return Path(tempfile.mkdtemp(prefix=prefix))
