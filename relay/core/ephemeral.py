"""Ephemeral traffic: cursor, viewport, focus, status, heartbeat. Synchronous, never stored.

Each update is checked, encoded once into presence fields (relay.core.wirejson) and
handed to the bus, which keeps the latest presence of online users and fans it out.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from relay.core import wirejson
from relay.core.client import Client
from wire import (
    CursorUpdate,
    ErrorCode,
    FocusUpdate,
    ProtocolError,
    StatusSet,
    ViewportUpdate,
    path_problem,
)

if TYPE_CHECKING:
    from relay.core.handling import CoreView, Ephemeral

MAX_SELECTIONS = 100


class Ref:
    """The rid (and no id) of a message handled without its dataclass, for errors."""

    __slots__ = ("id", "rid")

    def __init__(self, rid: str | None) -> None:
        self.rid = rid
        self.id: str | None = None


def _publish(core: CoreView, client: Client, session_id: str, action: str, fields: dict[str, str],
             msg: Any) -> None:
    """Announce an ephemeral update of ``client`` (``fields``: its fields, encoded)."""
    room = core.joined(client, session_id, action, msg)
    fields["user_id"] = fields["u"] = client.user_json
    core.bus.publish_presence(room.id, client.user.id, fields)


def _check_path(path: str, msg: Any) -> None:
    problem = path_problem(path)
    if problem is not None:
        raise ProtocolError(ErrorCode.INVALID_VALUE, problem, rid=msg.rid)


def on_cursor(core: CoreView, client: Client, msg: CursorUpdate) -> None:
    selections = [wirejson.selection(s.anchor.line, s.anchor.character, s.active.line,
                                     s.active.character) for s in msg.selections]
    cursor_presence(core, client, msg.session_id, msg.path, selections, msg.sent_at,
                    msg.content_hash, msg)


def cursor_presence(core: CoreView, client: Client, session_id: str, path: str,
                    selections: list[wirejson.Span], sent_at: float | None,
                    content_hash: str | None, msg: Any) -> None:
    """A cursor update's checks and presence fields; ``msg`` supplies the rid for errors."""
    _check_path(path, msg)
    if len(selections) > MAX_SELECTIONS:
        raise ProtocolError(ErrorCode.INVALID_VALUE, "too many selections", rid=msg.rid)
    _publish(core, client, session_id, "cursor",
             wirejson.cursor_fields(path, selections, content_hash, sent_at), msg)


def on_viewport(core: CoreView, client: Client, msg: ViewportUpdate) -> None:
    _check_path(msg.path, msg)
    if len(msg.ranges) > MAX_SELECTIONS:
        raise ProtocolError(ErrorCode.INVALID_VALUE, "too many ranges", rid=msg.rid)
    ranges = [wirejson.span(r.start.line, r.start.character, r.end.line, r.end.character)
              for r in msg.ranges]
    _publish(core, client, msg.session_id, "viewport", wirejson.viewport_fields(msg.path, ranges),
             msg)


def on_focus(core: CoreView, client: Client, msg: FocusUpdate) -> None:
    if msg.path is not None:
        _check_path(msg.path, msg)
    # "" means: no file of the workspace is focused.
    _publish(core, client, msg.session_id, "focus", wirejson.plain_fields("focus", msg.path or ""),
             msg)


def on_status(core: CoreView, client: Client, msg: StatusSet) -> None:
    _publish(core, client, msg.session_id, "status", wirejson.plain_fields("status", msg.status),
             msg)


def on_heartbeat(core: CoreView, client: Client, msg: Any) -> None:
    """Liveness only (recorded by Core.admit for every frame)."""


HANDLERS: dict[str, Ephemeral] = {
    "cursor": on_cursor,
    "viewport": on_viewport,
    "focus": on_focus,
    "status": on_status,
    "heartbeat": on_heartbeat,
}
