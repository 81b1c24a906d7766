"""Error codes, close codes and ProtocolError: how the relay says no."""

from __future__ import annotations


class ErrorCode:
    """Codes carried by ``error`` frames (and documented in docs/protocol.md)."""

    BAD_JSON = "bad_json"
    BAD_MESSAGE = "bad_message"
    UNKNOWN_TYPE = "unknown_type"
    UNSUPPORTED_VERSION = "unsupported_version"
    HELLO_REQUIRED = "hello_required"
    FRAME_TOO_LARGE = "frame_too_large"
    TEXT_TOO_LONG = "text_too_long"
    RATE_LIMITED = "rate_limited"
    UNAUTHORIZED = "unauthorized"
    TOKEN_EXPIRED = "token_expired"
    BAD_CREDENTIALS = "bad_credentials"
    USERNAME_TAKEN = "username_taken"
    INVALID_USERNAME = "invalid_username"
    WEAK_PASSWORD = "weak_password"
    FORBIDDEN = "forbidden"
    NOT_IN_SESSION = "not_in_session"
    SESSION_NOT_FOUND = "session_not_found"
    SESSION_ENDED = "session_ended"
    SESSION_FULL = "session_full"
    INVITE_INVALID = "invite_invalid"
    INVITE_EXPIRED = "invite_expired"
    NOT_FOUND = "not_found"
    NOT_AUTHOR = "not_author"
    ID_CONFLICT = "id_conflict"
    INVALID_VALUE = "invalid_value"
    TOO_MANY_CONNECTIONS = "too_many_connections"
    STORAGE_BUSY = "storage_busy"
    FORBIDDEN_ORIGIN = "forbidden_origin"
    REMOVED = "removed"
    SHUTTING_DOWN = "shutting_down"
    INTERNAL = "internal"


class CloseCode:
    """WebSocket close codes used by the relay."""

    NORMAL = 1000
    GOING_AWAY = 1001
    PROTOCOL_ERROR = 1002
    UNSUPPORTED_DATA = 1003
    POLICY_VIOLATION = 1008
    MESSAGE_TOO_BIG = 1009
    SERVICE_RESTART = 1012
    UNSUPPORTED_VERSION = 4000
    HELLO_REQUIRED = 4001
    REMOVED = 4003
    SESSION_ENDED = 4004
    RATE_LIMITED = 4029


class ProtocolError(Exception):
    """a frame or action the relay refuses; becomes an ``error`` frame."""

    def __init__(
        self, code: str, message: str, *, rid: str | None = None, id: str | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.rid = rid
        self.id = id
        self.retry_after = retry_after  # seconds, for refusals that pass (rate, busy store)
