"""The language server: pygls glue between the editor and ``Daemon``.

Start-up is kept short: only pygls and lsprotocol are imported before
``initialize`` is answered; the collaboration core, the ``ensemble/``
methods and the outbox are loaded and started on ``initialized``, and the
relay is reached in the background after that.
"""

from __future__ import annotations

import inspect
import logging
import os
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from lsprotocol import types as lsp
from pygls.exceptions import JsonRpcException
from pygls.lsp.server import LanguageServer
from pygls.protocol import JsonRPCNotification, JsonRPCRequestMessage, default_converter

if TYPE_CHECKING:
    from daemon.lsp.core import Daemon
    from daemon.lsp.plain import PlainLsp

log = logging.getLogger("daemon")

SERVER_NAME = "ensemble-daemon"
SERVER_VERSION = "0.1.0"
DID_ERROR = "ensemble/didError"


def _converter() -> Any:
    """pygls's converter, but custom methods keep their params as JSON objects."""
    conv = default_converter()  # type: ignore[no-untyped-call]

    def keep_params(obj: dict[str, Any], cls: type[Any]) -> Any:
        return cls(**obj)

    conv.register_structure_hook(JsonRPCRequestMessage, keep_params)
    conv.register_structure_hook(JsonRPCNotification, keep_params)
    return conv


def _plain(bound: Callable[..., Any]) -> Callable[..., Any]:
    """A plain function around a bound method (pygls sets attributes on handlers)."""
    if inspect.iscoroutinefunction(bound):
        async def run_async(*args: Any) -> Any:
            return await bound(*args)
        return run_async

    def run_sync(*args: Any) -> Any:
        return bound(*args)
    return run_sync


class EnsembleServer(LanguageServer):
    """The Ensemble daemon as a language server."""

    def __init__(self) -> None:
        from daemon.lsp.negotiation import EnsembleProtocol  # UTF-16 whenever the client offers it

        super().__init__(SERVER_NAME, SERVER_VERSION, converter_factory=_converter,
                         protocol_cls=EnsembleProtocol)
        self.daemon: Daemon | None = None
        self.plain: PlainLsp | None = None
        self.init_params: lsp.InitializeParams | None = None
        self.shutdown_requested = False
        self.feature(lsp.INITIALIZE)(_plain(self._on_initialize))
        self.feature(lsp.INITIALIZED)(_plain(self._on_initialized))
        self.feature(lsp.SHUTDOWN)(_plain(self._on_shutdown))
        self.feature(lsp.EXIT)(_plain(self._on_exit))
        self.feature(lsp.TEXT_DOCUMENT_DID_OPEN)(_plain(self._on_open))
        self.feature(lsp.TEXT_DOCUMENT_DID_CHANGE)(_plain(self._on_change))
        self.feature(lsp.TEXT_DOCUMENT_DID_CLOSE)(_plain(self._on_close))

    def send(self, method: str, params: Any) -> None:
        from wire.schema import to_wire

        self.protocol.notify(method, to_wire(params))

    def report(self, code: str, message: str, method: str | None) -> None:
        self.protocol.notify(DID_ERROR, {"code": code, "message": message, "method": method})

    # ----- lifecycle ---------------------------------------------------------------

    def _on_initialize(self, params: lsp.InitializeParams) -> None:
        self.init_params = params
        opts = params.initialization_options
        native = isinstance(opts, dict) and opts.get("native_ui") is True
        level = opts.get("log_level") if isinstance(opts, dict) else None
        _set_log_level(os.environ.get("ENSEMBLE_LOG_LEVEL") or str(level or "info"))
        if not native:
            from daemon.lsp.plain import PlainLsp

            self.plain = PlainLsp(self, lambda: self.daemon)
            self.plain.register()

    def _on_initialized(self, params: Any) -> None:
        from daemon.config import load_config
        from daemon.errors import DaemonError
        from daemon.lsp import methods
        from daemon.lsp.core import Daemon
        from daemon.lsp.handlers import Handlers
        from daemon.lsp.local import LocalFiles
        from daemon.session.outbox import OutboxError
        from daemon.text import positions

        init = self.init_params
        assert init is not None
        folders = [f.uri for f in (init.workspace_folders or [])]
        if not folders and init.root_uri:
            folders = [init.root_uri]
        try:
            config = load_config(init.initialization_options, folders)
        except DaemonError as exc:
            self.report("invalid_params", exc.message, "initialize")
            config = load_config(None, folders)
        config.native_ui = self.plain is None
        if self.plain is not None:
            self.plain.peer_diagnostics = config.peer_diagnostics is not False
        for warning in config.warnings:
            log.warning("%s", warning)
            self.window_show_message(lsp.ShowMessageParams(type=lsp.MessageType.Warning,
                                                           message="Ensemble: " + warning))
            self.report("unknown_option", warning, "initialize")
        encoding = positions.negotiated(self)
        files = LocalFiles(config.workspace_roots, lambda: encoding, config.ignore)
        files.store.encoding = encoding
        daemon = Daemon(config, files, self.send)
        if self.plain is not None:
            daemon.board.on_change = self.plain.threads_changed
            daemon.board.on_clear = self.plain.publish_all
            daemon.on_peers_changed = self.plain.peers_changed
        methods.register(self.feature, Handlers(daemon), self.report)
        self.daemon = daemon
        try:
            daemon.start()
        except OutboxError as exc:
            self.report("outbox_failed", str(exc), "initialize")

    async def _on_shutdown(self, params: Any) -> None:
        self.shutdown_requested = True
        if self.daemon is not None:
            await self.daemon.close()

    def _on_exit(self, params: Any) -> None:
        log.info("exit")
        _hard_exit(0 if self.shutdown_requested else 1)

    # ----- documents ---------------------------------------------------------------

    def _on_open(self, params: lsp.DidOpenTextDocumentParams) -> None:
        d = self.daemon
        if d is None:
            return
        doc = params.text_document
        d.files.store.open(doc.uri, doc.text, doc.version)
        d.document_opened(doc.uri)
        if d.state.mirror is not None:
            d.publish_peers()

    def _on_change(self, params: lsp.DidChangeTextDocumentParams) -> None:
        from daemon.text.documents import DocumentError
        from daemon.text.positions import PositionError

        d = self.daemon
        if d is None:
            return
        d.relay.presence.touch()
        uri = params.text_document.uri
        try:
            edits = d.files.store.change(uri, params.text_document.version,
                                         params.content_changes)
        except (DocumentError, PositionError) as exc:
            log.warning("cannot apply a change to %s: %s", uri, exc)
            self.report("invalid_params", f"textDocument/didChange: {exc}",
                        lsp.TEXT_DOCUMENT_DID_CHANGE)
            return
        d.document_changed(uri, edits)
        if d.state.mirror is not None:
            d.publish_peers()

    def _on_close(self, params: lsp.DidCloseTextDocumentParams) -> None:
        if self.daemon is not None:
            self.daemon.files.store.close(params.text_document.uri)
            # unsaved edits are gone: place the file's threads against the text on disk
            self.daemon.document_opened(params.text_document.uri)


def _hard_exit(code: int) -> None:
    """Leave now: responses are written, the outbox committed; no thread may keep us alive."""
    logging.shutdown()
    sys.stdout.flush()
    os._exit(code)


class _ExpectedErrors(logging.Filter):
    """pygls logs a traceback for every error answer; ours are expected and already
    logged (with their code) by daemon.lsp.methods."""

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        return not (isinstance(exc, JsonRpcException) and isinstance(exc.data, dict)
                    and "code" in exc.data)


def _set_log_level(level: str) -> None:
    lvl = logging.getLevelName(level.upper())
    if not isinstance(lvl, int):
        lvl = logging.INFO
    logging.getLogger("daemon").setLevel(lvl)
    # pygls logs whole message bodies at info: keep it quiet unless debugging.
    logging.getLogger("pygls").setLevel(logging.DEBUG if lvl <= logging.DEBUG else logging.WARNING)
    logging.getLogger("websockets").setLevel(logging.WARNING)
    rpc = logging.getLogger("pygls.protocol.json_rpc")
    if not any(isinstance(f, _ExpectedErrors) for f in rpc.filters):
        rpc.addFilter(_ExpectedErrors())


def run(stdin: Any = None, stdout: Any = None) -> int:
    server = EnsembleServer()
    try:
        server.start_io(stdin, stdout)
    finally:
        daemon = server.daemon
        if daemon is not None:
            daemon.relay.close_outbox()
    return 0


__all__ = ["EnsembleServer", "run"]
