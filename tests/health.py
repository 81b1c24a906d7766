"""Process health: every relay and daemon a test starts must log no error and exit cleanly.

The fixtures that start processes (tests/conftest.py, tests/relay/conftest.py,
tests/daemon/conftest.py) call ``check`` at teardown with the process's stderr. A record is a
problem when it is an error- or critical-level log line or holds a Python traceback; a test
that provokes such records on purpose names them with

    @pytest.mark.allow_errors(r"regex", ...)

Each pattern is searched (``re.search``) in the whole record (a log line with its traceback
continuation lines); a record matching any pattern is allowed. Keep patterns precise (the
logger and message of the expected record), so that any other error still fails the test.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import pytest

# A new record starts with a relay key=value line (ts=...), a relay JSON line ({"ts": ...),
# a daemon line (2026-01-01 12:00:00,123 LEVEL name: msg), or a bare traceback.
_RECORD_START = re.compile(
    r"^(ts=|\{\"ts\"|\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} |Traceback \(most recent call last\))")
_BAD = re.compile(
    r"(^|\s)level=(error|critical)\b|\"level\": \"(error|critical)\""
    r"|^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} (ERROR|CRITICAL) "
    r"|Traceback \(most recent call last\)")

MARKER = "allow_errors"


@dataclass
class Allowance:
    patterns: tuple[re.Pattern[str], ...] = ()

    def allows(self, record: str) -> bool:
        return any(p.search(record) for p in self.patterns)


def allowance(node: pytest.Item | None) -> Allowance:
    """The patterns of every ``allow_errors`` marker on ``node`` (test, class or module)."""
    patterns: list[re.Pattern[str]] = []
    if node is not None:
        for mark in node.iter_markers(MARKER):
            patterns += [re.compile(p) for p in mark.args]
    return Allowance(tuple(patterns))


def records(lines: Iterable[str]) -> list[str]:
    """Group stderr lines into records: a log line with its continuation lines."""
    out: list[str] = []
    for line in lines:
        if not out or _RECORD_START.match(line):
            out.append(line)
        else:
            out[-1] += "\n" + line
    return out


def problems(lines: Iterable[str], allow: Allowance) -> list[str]:
    """The records that show an error or a traceback and that no pattern allows."""
    return [r for r in records(lines) if _BAD.search(r) and not allow.allows(r)]


def check(what: str, lines: Sequence[str], allow: Allowance,
          exit_codes: Sequence[int] = ()) -> list[str]:
    """Describe every health failure of one process (empty list: healthy)."""
    failures = [f"{what} exited with code {code} (expected 0)" for code in exit_codes
                if code != 0]
    bad = problems(lines, allow)
    if bad:
        shown = "\n---\n".join(r[:3000] for r in bad[:5])
        failures.append(f"{what} logged {len(bad)} error record(s) "
                        f"(allow with @pytest.mark.allow_errors(...) if the test provokes "
                        f"them):\n{shown}")
    return failures


def fail_if(failures: Sequence[str]) -> None:
    """Fail (at teardown) when a process was unhealthy."""
    if failures:
        pytest.fail("process health:\n" + "\n\n".join(failures), pytrace=False)
