"""Fixtures for daemon tests: real daemon processes (the relay comes from tests/conftest.py).

At teardown every daemon still running gets shutdown + exit; the test fails when one did not
exit with 0 or wrote an error record or a traceback to stderr that the test does not allow
with ``@pytest.mark.allow_errors(...)`` (tests/health.py, docs/testing.md).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
from daemon_harness import DaemonClient

from tests import health


@pytest.fixture
async def daemons(tmp_path: Path, request: pytest.FixtureRequest
                  ) -> AsyncIterator[Callable[..., Any]]:
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
    results = await asyncio.gather(*(c.stop() for c in started), return_exceptions=True)
    allow = health.allowance(request.node)
    failures = [f"daemon {c.name}: stop raised {r!r}" for c, r in zip(started, results, strict=True)
                if isinstance(r, BaseException)]
    for c in started:
        failures += c.health(allow)
    health.fail_if(failures)
