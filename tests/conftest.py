"""Shared fixtures: a real relay subprocess on port 0 in a temporary data folder.

- ``relay``: a started relay (default settings, bcrypt cost 4 for speed).
- ``relay_factory(*args, env=None, data_dir=None, port=0)``: start relays with extra flags, e.g.
  ``relay_factory("--presence-timeout", "1")``; each has stop(), kill() (SIGKILL) and
  restart(same_port=False, kill=False).
Helpers to talk to it live in tests/helpers.py (sign_up, WireClient).

At teardown every relay still running is stopped with SIGTERM; the test fails when any stop
did not exit with 0 or a relay logged an error or a traceback that the test does not allow
with ``@pytest.mark.allow_errors(...)`` (tests/health.py, docs/testing.md).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests import health
from tests.relayproc import RelayProcess

RelayFactory = Callable[..., RelayProcess]


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "allow_errors(*patterns): regexes of error records (log lines with their "
        "tracebacks) that this test's relays and daemons may write; see tests/health.py")


@pytest.fixture
def relay_factory(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[RelayFactory]:
    started: list[RelayProcess] = []
    counter = itertools.count()

    def make(*args: str, env: dict[str, str] | None = None,
             data_dir: Path | None = None, port: int = 0) -> RelayProcess:
        folder = data_dir or tmp_path / f"relay-{next(counter)}"
        proc = RelayProcess(folder, tuple(args), env)
        started.append(proc)
        return proc.start(port)

    yield make
    failures: list[str] = []
    allow = health.allowance(request.node)
    for proc in started:
        if proc.running():
            proc.stop()
        failures += proc.health(allow)
    health.fail_if(failures)


@pytest.fixture
def relay(relay_factory: RelayFactory) -> RelayProcess:
    return relay_factory()
