"""The composition root: the relay assembled from its configuration, and run.

``STORES`` and ``BUSES`` are the one place that maps a ``--store`` / ``--bus`` value to
the adapter it names: a new scheme (postgresql://, redis://) is one more entry there.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Generic, NamedTuple, TypeVar

from relay import config as config_mod
from relay import logs
from relay.adapters.local_bus import LocalBus
from relay.adapters.sqlite_store import SqliteStore
from relay.config import Config
from relay.core.ports import SessionBus, Store
from relay.core.service import Core
from relay.errors import BusError, ConfigError, StoreError
from relay.logs import shown
from relay.metrics import Metrics
from relay.ws.server import Probe, RelayServer

log = logging.getLogger("relay")
EXIT_CONFIG = 2  # bad configuration (one line on stderr)
EXIT_STORAGE = 3  # the data folder or database cannot be opened or written
EXIT_BUS = 4  # the session bus cannot be reached

STORE_FLAG = "--store/ENSEMBLE_STORE"
BUS_FLAG = "--bus/ENSEMBLE_BUS"
T = TypeVar("T")


@dataclass(frozen=True)
class Scheme(Generic[T]):
    """One accepted form of a --store or --bus value."""

    form: str  # as shown in errors and --help, e.g. sqlite:///path/to/relay.sqlite3
    open: Callable[[Config, str, Metrics], T]  # the adapter for the whole value


class Storage(NamedTuple):
    """A store adapter and its write probe (checked at start and behind /healthz)."""

    store: Store
    probe: Probe


def _sqlite(cfg: Config, url: str, metrics: Metrics) -> Storage:
    path = url.partition("://")[2]
    if not path.startswith("/") or path.endswith("/"):
        raise ConfigError(f"{STORE_FLAG} {url!r}: give the database file's absolute path, "
                          "as in sqlite:///path/to/relay.sqlite3")
    store = SqliteStore(path, cfg.sqlite_synchronous, cfg.storage_wait)
    return Storage(store, store.probe)


def _postgres(cfg: Config, url: str, metrics: Metrics) -> Storage:
    """PostgreSQL at a libpq URL (psycopg and psycopg-pool: the ``scale`` extra)."""
    try:
        import psycopg
        from psycopg.conninfo import conninfo_to_dict

        from relay.adapters.postgres_store import PostgresStore
    except ImportError as exc:
        raise ConfigError(f"{STORE_FLAG} {shown(url)!r}: the PostgreSQL store needs psycopg "
                          "and psycopg-pool (pip install 'ensemble[scale]')") from exc
    try:
        conninfo_to_dict(url)
    except psycopg.ProgrammingError as exc:
        raise ConfigError(f"{STORE_FLAG} {shown(url)!r}: not a PostgreSQL URL, as in "
                          "postgresql://USER:PASSWORD@HOST:PORT/DATABASE") from exc
    store = PostgresStore(url, min_size=cfg.postgres_pool_min,
                          max_size=cfg.postgres_pool_max, busy_timeout=cfg.storage_wait,
                          statement_timeout=cfg.postgres_statement_timeout,
                          connect_timeout=cfg.postgres_connect_timeout)
    return Storage(store, store.probe)


def _local(cfg: Config, url: str, metrics: Metrics) -> SessionBus:
    return LocalBus()


STORES: dict[str, Scheme[Storage]] = {
    "sqlite": Scheme("sqlite:///path/to/relay.sqlite3", _sqlite),
    "postgresql": Scheme("postgresql://USER:PASSWORD@HOST:PORT/DATABASE", _postgres),
    "postgres": Scheme("postgres://USER:PASSWORD@HOST:PORT/DATABASE", _postgres),
}
def _redis(cfg: Config, url: str, metrics: Metrics) -> SessionBus:
    from relay.adapters.redis_bus import RedisBus  # redis-py only where it is used

    return RedisBus(url)


BUSES: dict[str, Scheme[SessionBus]] = {
    "local": Scheme("local", _local),
    "redis": Scheme("redis://host:6379/0", _redis),
}


def _pick(flag: str, value: str, table: Mapping[str, Scheme[T]]) -> Scheme[T]:
    """The scheme named by ``value`` (``scheme://...``, or a bare name)."""
    name, sep, _ = value.partition("://")
    scheme = table.get(name.lower())
    if scheme is None or bool(sep) != ("://" in scheme.form):  # "local" takes no "://"
        accepted = ", ".join(s.form for s in table.values())
        what = f"unknown scheme {name!r}" if scheme is None else "not an accepted form"
        raise ConfigError(f"{flag} {shown(value)!r}: {what} (accepted forms: {accepted})")
    return scheme


def build(cfg: Config) -> RelayServer:
    """The relay, with the store and the bus its configuration names (not started);
    raise ConfigError when --store or --bus names no adapter or an unusable place."""
    metrics = Metrics()
    store, probe = _pick(STORE_FLAG, cfg.store, STORES).open(cfg, cfg.store, metrics)
    bus = _pick(BUS_FLAG, cfg.bus, BUSES).open(cfg, cfg.bus, metrics)
    core = Core(cfg, store, bus, metrics)
    return RelayServer(cfg, core, store, probe, metrics, shown(cfg.store))


async def serve(relay: RelayServer) -> None:
    """Start ``relay``, print the listening line, run until SIGTERM or SIGINT."""
    cfg = relay.config
    # Handlers first: a SIGTERM sent as soon as the listening line is read must shut down
    # gracefully, not end the process with the default action.
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await relay.start()
    print(f"ensemble-relay listening on ws://{cfg.host}:{relay.port}", file=sys.stderr,
          flush=True)
    if relay.metrics_listener is not None:
        print(f"ensemble-relay metrics on http://{cfg.metrics_host}:{relay.metrics_port}/metrics",
              file=sys.stderr, flush=True)
    log.info("relay started", extra={"host": cfg.host, "port": relay.port,
                                     "data_dir": str(cfg.data_dir), "store": shown(cfg.store),
                                     "bus": cfg.bus, "dev": cfg.dev})
    await stop.wait()
    log.info("shutting down")
    await relay.shutdown()
    log.info("stopped")


def main(argv: Sequence[str] | None = None) -> int:
    """``ensemble-relay``: exit 0 after SIGTERM, 2 for a bad configuration, 3 when the
    storage is unusable, 4 when the bus cannot be reached, 1 when the port cannot be bound."""
    try:
        cfg = config_mod.load(argv)
        relay = build(cfg)
    except ConfigError as exc:
        print(f"ensemble-relay: error: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    logs.setup(cfg.log_level, cfg.log_format)
    try:
        asyncio.run(serve(relay))
    except StoreError as exc:
        print(f"ensemble-relay: error: storage unusable: {exc}", file=sys.stderr)
        return EXIT_STORAGE
    except BusError as exc:
        print(f"ensemble-relay: error: bus unreachable: {exc}", file=sys.stderr)
        return EXIT_BUS
    except OSError as exc:
        print(f"ensemble-relay: error: cannot listen on {cfg.host}:{cfg.port}: {exc}",
              file=sys.stderr)
        return 1
    return 0
