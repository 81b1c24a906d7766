"""Per-hop timing of cursor updates, for the editor-to-editor latency breakdown.

With ``ENSEMBLE_TRACE_CURSOR=1`` in the daemon's environment, each hop a cursor update
passes through in the daemon writes one log line::

    trace cursor <stage> line=<0-based caret line> t=<wall clock, ms>

The extension writes the same lines for its hops (vscode-extension/src/trace.ts) and
tests/e2e/test_two_users_presence.py joins them into a per-hop table. The wall clock is the
one clock every process on a machine shares. Off by default: each hop then costs one test
of a module constant.
"""

from __future__ import annotations

import logging
import os
import time

ENABLED = os.environ.get("ENSEMBLE_TRACE_CURSOR") == "1"

log = logging.getLogger("daemon.trace")


def cursor(stage: str, line: int) -> None:
    """Record that a cursor update on ``line`` passed ``stage`` now."""
    log.info("trace cursor %s line=%d t=%.3f", stage, line, time.time() * 1000)
