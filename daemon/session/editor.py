"""What the relay side tells the editor, as an interface.

The session layer calls an ``Editor`` whenever something the editor shows has
changed; the LSP layer implements it (``daemon.lsp.core.Daemon``) and turns each
call into an ``ensemble/`` notification. The editor reads the details from
``RelayState`` (``daemon.session.state``) when it needs them.
"""

from __future__ import annotations

from typing import Protocol

from wire import ChatMessage, Mention, Thread


class Editor(Protocol):
    """Notifications from the relay side to the editor."""

    def connection_changed(self) -> None:
        """The connection's state, the account or the next retry changed."""

    def session_changed(self, reason: str | None = None) -> None:
        """The current session, its participants or our role changed (``reason``: why
        the session is gone: left, ended, removed, signed_out)."""

    def session_cleared(self) -> None:
        """Another session (or none) replaces the current one: what was placed for the
        old one is void."""

    def chat_received(self, messages: list[ChatMessage]) -> None:
        """New or changed chat messages, oldest first."""

    def threads_changed(self, threads: list[Thread], removed: list[str] | None = None) -> None:
        """Threads created or changed (whole current state), and those deleted (by id)."""

    def mention_received(self, mention: Mention) -> None:
        """Someone mentioned us."""

    def peers_changed(self) -> None:
        """Peers' presence, cursors or viewports changed."""

    def outbox_changed(self, pending: int) -> None:
        """The number of durable actions not yet acked changed."""

    def following_changed(self, user_id: str | None) -> None:
        """We follow another peer now, or nobody."""

    def error(self, code: str, message: str, method: str | None = None,
              action_id: str | None = None) -> None:
        """Something failed that the editor did not ask about right now."""
