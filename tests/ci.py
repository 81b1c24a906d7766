"""Missing tools: a skip with the reason on a developer machine, a failure under CI=true.

`make test` sets CI=true, so a check whose tool is missing fails there instead of passing by
being skipped. Tests call ``need`` at run time (not ``skipif`` at collection) so the rule
applies everywhere.
"""

from __future__ import annotations

import os

import pytest

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def need(missing: list[str], hint: str) -> None:
    """Skip (or fail under CI=true) when ``missing`` names something the test needs."""
    if not missing:
        return
    reason = f"this test needs {', '.join(missing)}: {hint}"
    if IN_CI:
        pytest.fail(reason)
    pytest.skip(reason)
