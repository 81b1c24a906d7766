"""Registration of every ``ensemble/`` method on the language server.

Params arrive as plain JSON (the server's converter keeps them as dicts), are
checked with ``wire.schema.structure`` against ``daemon.protocol`` and passed
to ``daemon.lsp.handlers``. Failures become LSP errors: -32602 for invalid
params, -32803 (RequestFailed) with ``data.code`` for the rest; a failing
notification becomes an ``ensemble/didError`` notification.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from pygls.exceptions import JsonRpcException

from daemon.errors import DaemonError, InvalidParams
from daemon.lsp.handlers import Handlers
from daemon.protocol import CLIENT_NOTIFICATIONS, REQUESTS, DaemonErrorCode
from daemon.session.outbox import OutboxError
from wire.schema import SchemaError, structure, to_wire

log = logging.getLogger(__name__)

Report = Callable[[str, str, str | None], None]
Register = Callable[[str], Callable[[Callable[..., Any]], Any]]


def lsp_error(exc: DaemonError) -> JsonRpcException:
    code = (DaemonErrorCode.INVALID_PARAMS if isinstance(exc, InvalidParams)
            else DaemonErrorCode.REQUEST_FAILED)
    return JsonRpcException(message=exc.message, code=code, data={"code": exc.code})


def register(feature: Register, handlers: Handlers, report: Report) -> None:
    """Register a handler for every request and client notification of the protocol."""
    requests = handlers.requests()
    notifications = handlers.notifications()
    for method, (params_type, _result) in REQUESTS.items():
        feature(method)(_request(method, params_type, requests[method]))
    for method, params_type in CLIENT_NOTIFICATIONS.items():
        feature(method)(_notification(method, params_type, notifications[method], report))


def _request(method: str, params_type: type,
             handler: Callable[[Any], Awaitable[Any]]) -> Callable[[Any], Awaitable[Any]]:
    async def handle(params: Any) -> Any:
        try:
            typed: Any = structure({} if params is None else params, params_type, "params")
        except SchemaError as exc:
            raise lsp_error(InvalidParams(f"{method}: {exc}")) from exc
        try:
            result = await handler(typed)
        except DaemonError as exc:
            log.info("%s failed: %s", method, exc.code)
            raise lsp_error(exc) from exc
        except OutboxError as exc:
            log.error("%s: %s", method, exc)
            raise lsp_error(DaemonError(str(exc), code="outbox_failed")) from exc
        return to_wire(result)

    handle.__name__ = "handle_" + method.rsplit("/", 1)[-1]
    return handle


def _notification(method: str, params_type: type, handler: Callable[[Any], None],
                  report: Report) -> Callable[[Any], None]:
    def handle(params: Any) -> None:
        try:
            typed: Any = structure({} if params is None else params, params_type, "params")
            handler(typed)
        except SchemaError as exc:
            report("invalid_params", f"{method}: {exc}", method)
        except DaemonError as exc:
            report(exc.code, exc.message, method)

    handle.__name__ = "handle_" + method.rsplit("/", 1)[-1]
    return handle
