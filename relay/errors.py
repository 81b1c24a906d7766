"""The relay's exception hierarchy (wire-level refusals are protocol.ProtocolError)."""

from __future__ import annotations


class RelayError(Exception):
    """base of every error raised by the relay itself."""


class ConfigError(RelayError):
    """the relay cannot start with the given configuration."""


class StoreError(RelayError):
    """the durable store failed or refused a write."""


class StoreBusy(StoreError):
    """the database stayed locked (another writer) longer than the store may wait."""


class DuplicateError(StoreError):
    """a row with the same key already exists."""


class AuthError(RelayError):
    """a token or a credential was refused; ``code`` is the wire error code."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
