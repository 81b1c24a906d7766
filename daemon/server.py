"""The language server: pygls glue between the editor and ``Daemon``.

Custom ``ensemble/`` params arrive as plain JSON (a converter hook keeps them
as dicts), are checked with ``relay.schema.structure`` against the types in
``daemon.protocol``, and handled by ``daemon.handlers``. Failures become LSP
errors: -32602 for invalid params, -32803 (RequestFailed) with
``data.code`` for everything else.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Awaitable, Callable
from typing import Any

from lsprotocol import types as lsp
from pygls.exceptions import JsonRpcException
from pygls.lsp.server import LanguageServer
from pygls.protocol import JsonRPCNotification, JsonRPCRequestMessage, default_converter

from daemon.config import Config, load_config
from daemon.core import Daemon
from daemon.errors import DaemonError, InvalidParams
from daemon.handlers import Handlers
from daemon.local import LocalFiles
from daemon.outbox import OutboxError
from daemon.protocol import (
    CLIENT_NOTIFICATIONS,
    REQUESTS,
    DaemonErrorCode,
    ErrorParams,
    Method,
)
from relay.schema import SchemaError, structure, to_wire

log = logging.getLogger("daemon")

SERVER_NAME = "ensemble-daemon"
SERVER_VERSION = "0.1.0"


def _converter() -> Any:
    """pygls's converter, but custom methods keep their params as JSON objects."""
    conv = default_converter()  # type: ignore[no-untyped-call]

    def keep_params(obj: dict[str, Any], cls: type[Any]) -> Any:
        return cls(**obj)

    conv.register_structure_hook(JsonRPCRequestMessage, keep_params)
    conv.register_structure_hook(JsonRPCNotification, keep_params)
    return conv


def lsp_error(exc: DaemonError) -> JsonRpcException:
    code = (DaemonErrorCode.INVALID_PARAMS if isinstance(exc, InvalidParams)
            else DaemonErrorCode.REQUEST_FAILED)
    return JsonRpcException(message=exc.message, code=code, data={"code": exc.code})


def _encoding_name(kind: Any) -> str:
    value = getattr(kind, "value", kind)
    return str(value) if value in ("utf-8", "utf-16", "utf-32") else "utf-16"


class EnsembleServer(LanguageServer):
    """The Ensemble daemon as a language server."""

    def __init__(self) -> None:
        super().__init__(SERVER_NAME, SERVER_VERSION, converter_factory=_converter)
        self.daemon: Daemon | None = None
        self.handlers: Handlers | None = None
        self.config: Config | None = None
        self.init_error: str | None = None
        self.shutdown_requested = False
        self._register()

    # ----- plumbing ----------------------------------------------------------------

    def send(self, method: str, params: Any) -> None:
        self.protocol.notify(method, to_wire(params))

    def _open_text(self, uri: str) -> str | None:
        docs = self.workspace.text_documents
        doc = docs.get(uri)
        return None if doc is None else doc.source

    def _encoding(self) -> str:
        return _encoding_name(self.workspace.position_encoding)

    def _register(self) -> None:
        for method, (params_type, _result) in REQUESTS.items():
            self.feature(method)(self._request_handler(method, params_type))
        for method, params_type in CLIENT_NOTIFICATIONS.items():
            self.feature(method)(self._notification_handler(method, params_type))
        self.feature(lsp.INITIALIZE)(self._on_initialize)
        self.feature(lsp.INITIALIZED)(self._on_initialized)
        self.feature(lsp.SHUTDOWN)(self._on_shutdown)
        self.feature(lsp.EXIT)(self._on_exit)
        self.feature(lsp.TEXT_DOCUMENT_DID_OPEN)(self._on_doc_event)
        self.feature(lsp.TEXT_DOCUMENT_DID_CHANGE)(self._on_doc_change)
        self.feature(lsp.TEXT_DOCUMENT_DID_CLOSE)(self._on_doc_event)

    def _request_handler(
        self, method: str, params_type: type
    ) -> Callable[[Any], Awaitable[Any]]:
        async def handle(params: Any) -> Any:
            if self.handlers is None:
                raise JsonRpcException(message="the daemon is not initialized yet", code=-32002,
                                       data={"code": "not_initialized"})
            try:
                typed: Any = structure({} if params is None else params, params_type, "params")
            except SchemaError as exc:
                raise lsp_error(InvalidParams(f"{method}: {exc}")) from exc
            try:
                result = await self.handlers.requests()[method](typed)
            except DaemonError as exc:
                log.info("%s failed: %s", method, exc.code)
                raise lsp_error(exc) from exc
            except OutboxError as exc:
                log.error("%s: %s", method, exc)
                raise lsp_error(DaemonError(str(exc), code="outbox_failed")) from exc
            return to_wire(result)

        handle.__name__ = "handle_" + method.rsplit("/", 1)[-1]
        return handle

    def _notification_handler(self, method: str, params_type: type) -> Callable[[Any], None]:
        def handle(params: Any) -> None:
            if self.handlers is None:
                return
            try:
                typed: Any = structure({} if params is None else params, params_type, "params")
                self.handlers.notifications()[method](typed)
            except SchemaError as exc:
                self._report("invalid_params", f"{method}: {exc}", method)
            except DaemonError as exc:
                self._report(exc.code, exc.message, method)

        handle.__name__ = "handle_" + method.rsplit("/", 1)[-1]
        return handle

    def _report(self, code: str, message: str, method: str | None) -> None:
        self.send(Method.DID_ERROR, ErrorParams(code=code, message=message, method=method))

    # ----- lifecycle ---------------------------------------------------------------

    def _on_initialize(self, params: lsp.InitializeParams) -> None:
        folders = [f.uri for f in (params.workspace_folders or [])]
        if not folders and params.root_uri:
            folders = [params.root_uri]
        try:
            self.config = load_config(params.initialization_options, folders)
        except DaemonError as exc:
            self.init_error = exc.message
            self.config = load_config(None, folders)
        _set_log_level(self.config.log_level)
        files = LocalFiles(self.config.workspace_roots, self._open_text, self._encoding)
        self.daemon = Daemon(self.config, files, self.send)
        self.handlers = Handlers(self.daemon)

    def _on_initialized(self, params: Any) -> None:
        if self.daemon is None:
            return
        if self.init_error is not None:
            self._report("invalid_params", self.init_error, "initialize")
        try:
            self.daemon.start()
        except OutboxError as exc:
            self._report("outbox_failed", str(exc), "initialize")

    async def _on_shutdown(self, params: Any) -> None:
        self.shutdown_requested = True
        if self.daemon is not None:
            await self.daemon.close()

    def _on_exit(self, params: Any) -> None:
        log.info("exit")
        _hard_exit(0 if self.shutdown_requested else 1)

    def _on_doc_event(self, params: Any) -> None:
        if self.daemon is not None and self.daemon.mirror is not None:
            self.daemon.publish_peers()

    def _on_doc_change(self, params: Any) -> None:
        if self.daemon is not None:
            self.daemon.touch()
            if self.daemon.mirror is not None:
                self.daemon.publish_peers()

    async def close(self) -> None:
        if self.daemon is not None:
            await self.daemon.close()


def _hard_exit(code: int) -> None:
    """Leave now: stdout is flushed, the outbox committed; no thread may keep us alive."""
    logging.shutdown()
    sys.stdout.flush()
    os._exit(code)


def _set_log_level(level: str) -> None:
    lvl = logging.getLevelName(level.upper())
    if not isinstance(lvl, int):
        lvl = logging.INFO
    logging.getLogger("daemon").setLevel(lvl)
    # pygls logs whole message bodies at info: keep it quiet unless debugging.
    logging.getLogger("pygls").setLevel(logging.DEBUG if lvl <= logging.DEBUG else logging.WARNING)
    logging.getLogger("websockets").setLevel(logging.WARNING)


def run(stdin: Any = None, stdout: Any = None) -> int:
    server = EnsembleServer()
    try:
        server.start_io(stdin, stdout)
    finally:
        daemon = server.daemon
        if daemon is not None and daemon.outbox is not None:
            daemon.outbox.close()
    return 0


__all__ = ["EnsembleServer", "run"]
