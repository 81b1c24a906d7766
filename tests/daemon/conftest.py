"""Fixtures for daemon tests: real daemon processes (the relay comes from tests/conftest.py).

At teardown every daemon still running gets shutdown + exit; the test fails when one did not
exit with 0 or wrote an error record or a traceback to stderr that the test does not allow
with ``@pytest.mark.allow_errors(...)`` (tests/health.py, docs/testing.md).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
from daemon_harness import daemon_factory


@pytest.fixture
async def daemons(tmp_path: Path, request: pytest.FixtureRequest
                  ) -> AsyncIterator[Callable[..., Any]]:
    """Factory of started daemons (each with its own workspace copy and data folder)."""
    async with daemon_factory(tmp_path, request.node) as make:
        yield make
