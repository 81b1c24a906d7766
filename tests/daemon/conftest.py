"""Fixtures for daemon tests: real daemon processes (the relay comes from tests/conftest.py)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
from daemon_harness import DaemonClient


@pytest.fixture
async def daemons(tmp_path: Path) -> AsyncIterator[Callable[..., Any]]:
    """Factory of started daemons (each with its own workspace copy and data folder)."""
    started: list[DaemonClient] = []

    async def make(name: str, relay_url: str, token: str | None = None, *,
                   workspace: Path | None = None, data_dir: Path | None = None,
                   **options: Any) -> DaemonClient:
        ws = workspace or tmp_path / f"ws-{name}"
        ws.mkdir(parents=True, exist_ok=True)
        client = DaemonClient(name, ws, data_dir or tmp_path / f"data-{name}")
        started.append(client)
        await client.start(relay_url, token, **options)
        return client

    yield make
    await asyncio.gather(*(c.stop() for c in started), return_exceptions=True)
