"""Shared fixtures: a real relay subprocess on port 0 in a temporary data folder.

- ``relay``: a started relay (default settings, bcrypt cost 4 for speed).
- ``relay_factory(*args, env=None, data_dir=None)``: start relays with extra flags, e.g.
  ``relay_factory("--presence-timeout", "1")``; each has stop(), kill() (SIGKILL) and
  restart(same_port=False, kill=False).
Helpers to talk to it live in tests/helpers.py (sign_up, WireClient).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.relayproc import RelayProcess

RelayFactory = Callable[..., RelayProcess]


@pytest.fixture
def relay_factory(tmp_path: Path) -> Iterator[RelayFactory]:
    started: list[RelayProcess] = []
    counter = itertools.count()

    def make(*args: str, env: dict[str, str] | None = None,
             data_dir: Path | None = None) -> RelayProcess:
        folder = data_dir or tmp_path / f"relay-{next(counter)}"
        proc = RelayProcess(folder, tuple(args), env)
        started.append(proc)
        return proc.start()

    yield make
    for proc in started:
        proc.kill()


@pytest.fixture
def relay(relay_factory: RelayFactory) -> RelayProcess:
    return relay_factory()
