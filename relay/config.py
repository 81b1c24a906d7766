"""Relay configuration: command-line flags over ENSEMBLE_* environment variables over defaults."""

from __future__ import annotations

import argparse
import logging
import os
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from relay.errors import ConfigError

log = logging.getLogger("relay.config")

MIN_BCRYPT_ROUNDS = 12
SECRET_FILE = "jwt-secret"
DATABASE_FILE = "relay.sqlite3"  # the default store: this file in the data folder


@dataclass(slots=True)
class Config:
    data_dir: Path
    jwt_secret: str
    store: str = ""  # where durable data lives, a URL (relay/app.py: STORES); load() fills it
    bus: str = "local"  # how relays share fan-out (relay/app.py: BUSES)
    host: str = "127.0.0.1"
    port: int = 8765
    dev: bool = False
    token_ttl: float = 7 * 24 * 3600.0
    bcrypt_rounds: int = MIN_BCRYPT_ROUNDS
    presence_timeout: float = 30.0
    presence_batch_ms: float = 4.0  # least time between presence flushes while behind
    max_frame_bytes: int = 256 * 1024
    max_text_chars: int = 10_000
    max_participants: int = 50
    rate_per_second: float = 50.0
    rate_burst: int = 100
    rate_strikes: int = 50  # refused frames within STRIKE_WINDOW before close 4029
    history_page: int = 50
    max_buffer_bytes: int = 4 * 1024 * 1024  # a receiver further behind is disconnected
    max_total_buffer_bytes: int = 256 * 1024 * 1024  # all send buffers together
    max_connections_per_user: int = 8
    user_writes_per_minute: int = 120  # durable writes of one user (bucket holds a minute)
    user_write_bytes_per_minute: int = 2 * 1024 * 1024
    storage_wait: float = 2.0  # most seconds a store call waits for a locked database
    storage_probe_interval: float = 5.0  # seconds between write probes (/healthz)
    signin_free_failures: int = 5  # failed sign-ins of one account before delays start
    signin_address_failures: int = 20  # the same for one client address
    signin_max_delay: float = 300.0  # longest delay after failed sign-ins, in seconds
    allowed_origins: str = ""  # comma-separated browser origins allowed on /ws and /auth
    metrics_host: str = ""  # serve /metrics there instead of on the relay's port
    metrics_port: int = 0
    metrics_token: str = ""  # ENSEMBLE_METRICS_TOKEN: /metrics needs "Bearer <token>"
    hello_timeout: float = 10.0
    sqlite_synchronous: str = "FULL"
    log_level: str = "info"
    log_format: str = "kv"


# name, type, env var, help
_OPTIONS: list[tuple[str, type, str]] = [
    ("host", str, "address to listen on"),
    ("port", int, "port to listen on (0 picks a free one)"),
    ("token_ttl", float, "lifetime of issued tokens in seconds"),
    ("presence_timeout", float, "seconds without any frame before a peer is dropped"),
    ("presence_batch_ms", float, "while the relay is behind (a presence flush ran over 5 ms "
     "late), least milliseconds between presence flushes (more peers per frame); 0 always "
     "flushes on the next event-loop turn"),
    ("max_frame_bytes", int, "largest accepted frame (bigger ones close with 1009)"),
    ("max_text_chars", int, "longest chat message or comment"),
    ("max_participants", int, "most users online in one session"),
    ("rate_per_second", float, "token-bucket refill rate per connection"),
    ("rate_burst", int, "token-bucket size per connection"),
    ("rate_strikes", int, "rate-limited frames within 10 s before the connection is closed"),
    ("history_page", int, "chat messages per history page"),
    ("hello_timeout", float, "seconds a new connection has to send hello"),
    ("max_buffer_bytes", int, "send buffer past which a slow receiver is disconnected"),
    ("max_total_buffer_bytes", int, "all send buffers together: past it the receivers furthest "
     "behind are disconnected (close 1008)"),
    ("max_connections_per_user", int, "most open /ws connections of one user; more get HTTP 429 "
     "too_many_connections"),
    ("user_writes_per_minute", int, "durable writes (chat, comments, reactions, sessions, "
     "invites) of one user per minute, with a burst of as many; more get rate_limited"),
    ("user_write_bytes_per_minute", int, "bytes of durable writes of one user per minute, with a "
     "burst of as many; more get rate_limited"),
    ("storage_wait", float, "most seconds a database call waits for a lock held elsewhere; "
     "then the request gets storage_busy"),
    ("storage_probe_interval", float, "seconds between the write probes that /healthz reports"),
    ("signin_free_failures", int, "failed sign-ins of one username before growing delays"),
    ("signin_address_failures", int, "failed sign-ins from one client address before growing "
     "delays"),
    ("signin_max_delay", float, "longest sign-in delay after repeated failures, in seconds"),
    ("allowed_origins", str, "comma-separated browser Origins allowed on /ws and /auth (clients "
     "that send no Origin header are always allowed)"),
    ("metrics_host", str, "serve /metrics on this address (and --metrics-port) instead of on "
     "the relay's port"),
    ("metrics_port", int, "port of the separate /metrics listener (0 picks a free one)"),
    ("sqlite_synchronous", str, "SQLite synchronous pragma (FULL or NORMAL)"),
    ("log_level", str, "debug, info, warning or error"),
    ("log_format", str, "kv (key=value) or json"),
]


def env_name(option: str) -> str:
    return "ENSEMBLE_" + option.upper()


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="ensemble-relay",
        description="Ensemble relay: the self-hosted session server. Every option can also be "
        "set with an ENSEMBLE_<OPTION> environment variable (flags win). Secrets come from "
        "the environment only: ENSEMBLE_JWT_SECRET (token signing) and ENSEMBLE_METRICS_TOKEN "
        "(when set, /metrics needs 'Authorization: Bearer <token>'). Exit codes: 2 bad "
        "configuration, 3 storage unusable, 1 port unavailable.",
    )
    p.add_argument("--data-dir", help="data folder: the development JWT secret, and the SQLite "
                   "database unless --store says otherwise (ENSEMBLE_DATA_DIR)")
    p.add_argument("--store", help="durable storage, as a URL: sqlite:///ABSOLUTE/PATH/TO/DB; "
                   f"default sqlite in DATA/{DATABASE_FILE} (ENSEMBLE_STORE)")
    p.add_argument("--bus", help="how fan-out reaches the clients: local (one relay process); "
                   "default local (ENSEMBLE_BUS)")
    p.add_argument(
        "--dev",
        action="store_true",
        default=None,
        help="development mode: create and keep a JWT secret in DATA/jwt-secret when "
        "ENSEMBLE_JWT_SECRET is not set",
    )
    p.add_argument(
        "--bcrypt-rounds",
        type=int,
        help="TEST ONLY: bcrypt cost below 12 for fast tests (default 12, ENSEMBLE_BCRYPT_ROUNDS "
        "must be >= 12)",
    )
    for name, tp, help_text in _OPTIONS:
        default = Config.__dataclass_fields__[name].default
        p.add_argument("--" + name.replace("_", "-"), type=tp,
                       help=f"{help_text}; default {default} ({env_name(name)})")
    return p


def load(argv: Sequence[str] | None = None, env: Mapping[str, str] | None = None) -> Config:
    """Build the configuration; raise ConfigError with a clear message when it is unusable."""
    env = os.environ if env is None else env
    args = build_parser().parse_args(argv)
    values: dict[str, object] = {}
    for name, tp, _ in _OPTIONS:
        flag = getattr(args, name)
        if flag is not None:
            values[name] = flag
        elif env_name(name) in env:
            raw = env[env_name(name)]
            try:
                values[name] = tp(raw)
            except ValueError as exc:
                raise ConfigError(f"{env_name(name)}={raw!r} is not a valid {tp.__name__}") from exc
    data_dir = args.data_dir or env.get("ENSEMBLE_DATA_DIR")
    if not data_dir:
        raise ConfigError("no data folder: pass --data-dir DIR or set ENSEMBLE_DATA_DIR")
    dev = bool(args.dev) or env.get("ENSEMBLE_DEV", "") in ("1", "true", "yes")
    if args.bcrypt_rounds is not None:
        rounds = args.bcrypt_rounds
        if rounds < MIN_BCRYPT_ROUNDS:
            log.warning("bcrypt_rounds=%d is below %d: for tests only", rounds, MIN_BCRYPT_ROUNDS)
    else:
        rounds = int(env.get("ENSEMBLE_BCRYPT_ROUNDS", MIN_BCRYPT_ROUNDS))
        if rounds < MIN_BCRYPT_ROUNDS:
            raise ConfigError(
                f"ENSEMBLE_BCRYPT_ROUNDS must be >= {MIN_BCRYPT_ROUNDS} (tests use --bcrypt-rounds)"
            )
    if not 4 <= rounds <= 31:
        raise ConfigError("bcrypt rounds must be between 4 and 31")
    path = Path(data_dir)
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError(f"cannot create data folder {path}: {exc}") from exc
    secret = env.get("ENSEMBLE_JWT_SECRET", "")
    if not secret:
        if not dev:
            raise ConfigError(
                "no JWT secret: set ENSEMBLE_JWT_SECRET (production) or pass --dev to create "
                "one in the data folder"
            )
        try:
            secret = dev_secret(path)
        except OSError as exc:
            raise ConfigError(f"cannot keep the development secret in {path}: "
                              f"{exc.strerror or exc}") from exc
    if len(secret) < 16:
        raise ConfigError("ENSEMBLE_JWT_SECRET is too short (at least 16 characters)")
    store = args.store or env.get("ENSEMBLE_STORE") or \
        "sqlite://" + str(path.absolute() / DATABASE_FILE)
    bus = args.bus or env.get("ENSEMBLE_BUS") or "local"
    cfg = Config(data_dir=path, jwt_secret=secret, store=store, bus=bus, dev=dev,
                 bcrypt_rounds=rounds, metrics_token=env.get("ENSEMBLE_METRICS_TOKEN", ""))
    for key, value in values.items():
        setattr(cfg, key, value)
    check(cfg)
    return cfg


def check(cfg: Config) -> None:
    if cfg.sqlite_synchronous.upper() not in ("FULL", "NORMAL", "EXTRA"):
        raise ConfigError("sqlite_synchronous must be FULL, NORMAL or EXTRA")
    if cfg.log_format not in ("kv", "json"):
        raise ConfigError("log_format must be kv or json")
    for name in ("presence_timeout", "rate_per_second", "token_ttl", "hello_timeout",
                 "storage_wait", "storage_probe_interval", "signin_max_delay"):
        if getattr(cfg, name) <= 0:
            raise ConfigError(f"{name} must be positive")
    if not 0 <= cfg.presence_batch_ms <= 50:
        raise ConfigError("presence_batch_ms must be between 0 and 50")
    for name in ("max_frame_bytes", "max_text_chars", "max_participants", "rate_burst",
                 "history_page", "rate_strikes", "max_buffer_bytes", "max_total_buffer_bytes",
                 "max_connections_per_user", "user_writes_per_minute",
                 "user_write_bytes_per_minute", "signin_free_failures",
                 "signin_address_failures"):
        if getattr(cfg, name) < 1:
            raise ConfigError(f"{name} must be at least 1")
    for origin in origins(cfg):
        if "://" not in origin:
            raise ConfigError(f"allowed_origins: {origin!r} is not an origin like "
                              "https://example.com")
    if cfg.metrics_token and len(cfg.metrics_token) < 16:
        raise ConfigError("ENSEMBLE_METRICS_TOKEN is too short (at least 16 characters)")


def origins(cfg: Config) -> frozenset[str]:
    """The allowed browser origins, lowercase, without a trailing '/'."""
    return frozenset(o.strip().lower().rstrip("/") for o in cfg.allowed_origins.split(",")
                     if o.strip())


def dev_secret(data_dir: Path) -> str:
    """Read, or create once (mode 0600), the development JWT secret of a data folder."""
    path = data_dir / SECRET_FILE
    try:
        return path.read_text().strip()
    except FileNotFoundError:
        pass
    secret = secrets.token_urlsafe(48)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text().strip()
    with os.fdopen(fd, "w") as fh:
        fh.write(secret + "\n")
    log.info("created development jwt secret path=%s", path)
    return secret
