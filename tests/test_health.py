"""The teardown health check (tests/health.py) flags what it must and allows what it is told."""

from __future__ import annotations

import re

from tests import health

RELAY_OK = 'ts=2026-01-01T00:00:00.000Z level=info logger=relay msg="relay started" port=1'
RELAY_ERROR = ('ts=2026-01-01T00:00:00.000Z level=error logger=relay.core msg="handler failed" '
               'type=chat_send conn=3 exc="Traceback (most recent call last):\\n  File ..."')
RELAY_JSON_ERROR = '{"ts": "2026-01-01T00:00:00.000Z", "level": "error", "msg": "boom"}'
DAEMON_OK = "2026-01-01 00:00:00,000 INFO daemon.connection: online"
DAEMON_ERROR = "2026-01-01 00:00:00,001 ERROR daemon.server: request failed"
BARE_TRACEBACK = ["Traceback (most recent call last):", '  File "x.py", line 1, in <module>',
                  "ValueError: bad"]


def allow(*patterns: str) -> health.Allowance:
    return health.Allowance(tuple(re.compile(p) for p in patterns))


def test_errors_and_tracebacks_of_every_format_are_problems() -> None:
    lines = [RELAY_OK, "a plain line", RELAY_ERROR, RELAY_JSON_ERROR, DAEMON_OK, DAEMON_ERROR,
             *BARE_TRACEBACK]
    found = health.problems(lines, allow())
    assert found == [RELAY_ERROR, RELAY_JSON_ERROR, DAEMON_ERROR, "\n".join(BARE_TRACEBACK)]


def test_a_traceback_after_a_daemon_line_belongs_to_that_record() -> None:
    lines = ["2026-01-01 00:00:00,001 WARNING daemon.x: retrying", *BARE_TRACEBACK[1:]]
    assert health.problems(lines, allow()) == []  # a warning with no traceback header
    lines = ["2026-01-01 00:00:00,001 WARNING daemon.x: failed", *BARE_TRACEBACK]
    assert len(health.problems(lines, allow())) == 1  # the traceback is its own record


def test_allow_patterns_match_whole_records_and_nothing_else() -> None:
    lines = [RELAY_ERROR, DAEMON_ERROR]
    assert health.problems(lines, allow(r"msg=\"handler failed\" type=chat_send")) == [
        DAEMON_ERROR]
    assert health.problems(lines, allow(r"type=chat_send", r"daemon\.server")) == []


def test_exit_codes_other_than_zero_fail() -> None:
    assert health.check("relay", [RELAY_OK], allow(), [0]) == []
    assert health.check("relay", [RELAY_OK], allow(), [0, -15]) == [
        "relay exited with code -15 (expected 0)"]
