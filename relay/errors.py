"""The relay's exception hierarchy (wire-level refusals are protocol.ProtocolError)."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from wire import Event


class RelayError(Exception):
    """base of every error raised by the relay itself."""


class ConfigError(RelayError):
    """the relay cannot start with the given configuration."""


class StoreError(RelayError):
    """the durable store failed or refused a write."""


class StoreBusy(StoreError):
    """the database stayed locked (another writer) longer than the store may wait."""


class StoreUnavailable(StoreBusy):
    """the database cannot be reached now, or cut the connection mid-call (stopping,
    restarting, failing over). As with StoreBusy the caller may send it again: what a
    cut commit did is decided by its client id when it comes back."""


class DuplicateError(StoreError):
    """a row with the same key already exists."""


class AlreadyStored(DuplicateError):
    """the write's client id was stored before, by the same user for the same action:
    nothing new was stored; ``event`` is the original one (its seq is the ack's)."""

    def __init__(self, event: Event) -> None:
        super().__init__(f"client id {event.id} already stored at seq {event.seq}")
        self.event = event


class IdConflict(DuplicateError):
    """the write's client id was stored before for another action or by another user."""


class GuardFailed(StoreError):
    """what a write's guard requires no longer held inside its transaction: ``role`` is
    the user's role found there (None: not a current member), ``ended`` whether the
    session had ended."""

    def __init__(self, role: str | None, ended: bool) -> None:
        super().__init__(f"write refused: role {role}, ended {ended}")
        self.role = role
        self.ended = ended


class WriteConflict(StoreError):
    """an entity the write was computed from changed since it was read: read again and
    rebuild the write."""


class AuthError(RelayError):
    """a token or a credential was refused; ``code`` is the wire error code."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


class BusError(RelayError):
    """the session bus (Redis) cannot be reached when the relay starts."""
