"""docs/protocol.md stays complete: every message type, error code and close code appears."""

from __future__ import annotations

from pathlib import Path

import pytest

from wire import CLIENT_MESSAGES, SERVER_MESSAGES, CloseCode, ErrorCode, permissions

DOC = (Path(__file__).resolve().parents[2] / "docs" / "protocol.md").read_text()


@pytest.mark.parametrize("kind", sorted(set(CLIENT_MESSAGES) | set(SERVER_MESSAGES)))
def test_every_message_type_has_a_json_example(kind):
    assert f'"type": "{kind}"' in DOC


@pytest.mark.parametrize("code", sorted(v for k, v in vars(ErrorCode).items()
                                        if k.isupper()))
def test_every_error_code_is_documented(code):
    assert f"`{code}`" in DOC


def test_every_close_code_the_relay_uses_is_documented():
    used = [CloseCode.UNSUPPORTED_DATA, CloseCode.MESSAGE_TOO_BIG, CloseCode.SERVICE_RESTART,
            CloseCode.UNSUPPORTED_VERSION,
            CloseCode.HELLO_REQUIRED, CloseCode.REMOVED, CloseCode.RATE_LIMITED,
            CloseCode.POLICY_VIOLATION]
    for code in used:
        assert f"| {code} |" in DOC


def test_every_permission_row_is_in_the_matrix_table():
    table = DOC[DOC.index("## Permission matrix"):DOC.index("## Presence")]
    for action in permissions.MATRIX:
        assert f"`{action}`" in table, action
