"""Daemon settings: the editor's initialization options plus the environment."""

from __future__ import annotations

import dataclasses
import difflib
import os
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from daemon.errors import InvalidParams
from daemon.protocol import InitializationOptions
from wire.schema import SchemaError, structure

ENV_LOG_LEVEL = "ENSEMBLE_LOG_LEVEL"
ENV_DATA_DIR = "ENSEMBLE_DATA_DIR"
ENV_RELAY_URL = "ENSEMBLE_RELAY_URL"


def default_data_dir() -> Path:
    """A per-user folder for the outbox and state."""
    if sys.platform == "win32":
        base = Path(os.environ.get("LOCALAPPDATA") or Path.home() / "AppData" / "Local")
    elif sys.platform == "darwin":
        base = Path.home() / "Library" / "Application Support"
    else:
        base = Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share")
    return base / "ensemble"


@dataclass(slots=True, kw_only=True)
class Config:
    relay_url: str  # the first relay: names the account's relay (outbox, invite links)
    relay_urls: list[str]  # every relay to use, in the configured order (at least one)
    token: str | None
    display_name: str | None
    data_dir: Path
    workspace_roots: list[str] = field(default_factory=list)
    native_ui: bool = False
    idle_after: float = 300.0
    away_after: float = 900.0
    cursor_rate: float = 20.0
    log_level: str = "info"
    ignore: list[str] = field(default_factory=list)
    peer_diagnostics: bool | None = None
    # one line per initializationOptions key the daemon does not know
    warnings: list[str] = field(default_factory=list)


def known_options() -> list[str]:
    return [f.name for f in dataclasses.fields(InitializationOptions)]


def unknown_options(raw: Any) -> list[str]:
    """A warning for each key of ``raw`` that is no option, naming the closest known one."""
    if not isinstance(raw, dict):
        return []
    known = known_options()
    out: list[str] = []
    for key in raw:
        if key in known:
            continue
        name = str(key)
        snake = re.sub(r"(?<=[a-z0-9])([A-Z])", r"_\1", name).lower().replace("-", "_")
        close = difflib.get_close_matches(snake, known, n=1, cutoff=0.6)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        out.append(f"initializationOptions: unknown option {name!r} is ignored{hint}")
    return out


def relay_urls(raw: list[str]) -> list[str]:
    """The ``relay_urls`` option checked (ws:// or wss:// base URLs), without trailing
    slashes and repeats."""
    urls: list[str] = []
    for i, url in enumerate(raw):
        url = url.strip().rstrip("/")
        try:
            parts = urlsplit(url)
            good = parts.scheme in ("ws", "wss") and bool(parts.hostname) \
                and not parts.query and not parts.fragment
        except ValueError:
            good = False
        if not good:
            raise InvalidParams(f"initializationOptions.relay_urls[{i}]: expected a ws:// or "
                                f"wss:// base URL without query, got {url!r}")
        if url not in urls:
            urls.append(url)
    return urls


def load_config(raw: Any, workspace_folders: list[str]) -> Config:
    """Build the configuration from ``initializationOptions`` (a JSON object or null)."""
    if raw is None:
        raw = {}
    try:
        opts = structure(raw, InitializationOptions, "initializationOptions")
    except SchemaError as exc:
        raise InvalidParams(str(exc)) from exc
    if opts.cursor_rate <= 0:
        raise InvalidParams("initializationOptions.cursor_rate: expected a positive number")
    data_dir = opts.data_dir or os.environ.get(ENV_DATA_DIR)
    relay_url = os.environ.get(ENV_RELAY_URL) if "relay_url" not in raw else None
    urls = relay_urls(opts.relay_urls) or [(relay_url or opts.relay_url).rstrip("/")]
    return Config(
        relay_url=urls[0],
        relay_urls=urls,
        token=opts.token,
        display_name=opts.display_name,
        data_dir=Path(data_dir) if data_dir else default_data_dir(),
        workspace_roots=list(opts.workspace_roots or workspace_folders),
        native_ui=opts.native_ui,
        idle_after=opts.idle_after,
        away_after=max(opts.away_after, opts.idle_after),
        cursor_rate=opts.cursor_rate,
        log_level=os.environ.get(ENV_LOG_LEVEL) or opts.log_level,
        ignore=list(opts.ignore),
        peer_diagnostics=opts.peer_diagnostics,
        warnings=unknown_options(raw),
    )
