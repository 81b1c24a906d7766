"""Errors of the daemon; each carries an Ensemble code for the editor."""

from __future__ import annotations


class DaemonError(Exception):
    """base of every daemon error; ``code`` is the Ensemble error code."""

    code = "internal"

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code


class InvalidParams(DaemonError):
    """the editor sent params that do not match the method's type."""

    code = "invalid_params"


class NotSignedIn(DaemonError):
    """the request needs a token and there is none."""

    code = "not_signed_in"


class NotInSession(DaemonError):
    """the request needs a current session."""

    code = "not_in_session"


class Offline(DaemonError):
    """the relay is not reachable right now."""

    code = "offline"


class UnknownFile(DaemonError):
    """the document is outside the workspace or cannot be read."""

    code = "unknown_file"


class RelayRefused(DaemonError):
    """the relay answered with an error frame; ``code`` is the relay's code."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message, code=code)


class AuthFailed(DaemonError):
    """signing up or in did not work."""

    code = "auth_failed"


class Refused(DaemonError):
    """refused here, before queueing, because the relay would refuse it; ``code`` is the
    code the relay would answer with (forbidden, not_author, session_ended)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message, code=code)
