"""Position-encoding negotiation: UTF-16 whenever the client accepts it.

pygls 2.x picks the client's *first* supported entry of
``capabilities.general.positionEncodings``. The daemon prefers UTF-16, the
wire's encoding, whenever the client lists it (no conversion at all), and
otherwise takes the client's first supported choice (a UTF-8-only client gets
UTF-8). :class:`EnsembleProtocol` applies that policy by reordering the
client's list before pygls negotiates; the server passes it as
``LanguageServer(..., protocol_cls=EnsembleProtocol)``. Everything else
(the chosen encoding in ``ServerCapabilities.positionEncoding`` and in
``server.workspace.position_encoding``) stays pygls's own doing.

Text synchronization is the daemon's alone: pygls's built-in ``didOpen``,
``didChange`` and ``didClose`` handlers would keep a second copy of every
document in ``server.workspace`` (rebuilt from the whole text on every
keystroke, and raising ``KeyError`` for a document never opened). Here they
only hand the params to the server's own handlers, which feed
``daemon.text.documents.DocumentStore``, the one copy.
"""

from __future__ import annotations

from collections.abc import Generator, Sequence
from typing import Any

from lsprotocol import types
from pygls.protocol import LanguageServerProtocol, lsp_method

# Kept free of relay/daemon imports: this runs before the initialize answer.
SUPPORTED = ("utf-8", "utf-16", "utf-32")
WIRE = "utf-16"


def _name(offer: object) -> str:
    return str(getattr(offer, "value", offer)).lower()


def choose(offered: Sequence[object] | None) -> str:
    """The encoding the daemon picks among a client's ``offered`` encodings:
    UTF-16 when offered (or nothing is), else the first supported one, else UTF-16."""
    names = [_name(o) for o in offered or ()]
    if not names or WIRE in names:
        return WIRE
    return next((n for n in names if n in SUPPORTED), WIRE)


def prefer_wire(params: types.InitializeParams) -> None:
    """Reorder the client's ``positionEncodings`` in place so that pygls's
    first-supported-choice negotiation yields :func:`choose`'s answer."""
    general = params.capabilities.general
    if general is None or not general.position_encodings:
        return
    pick = choose(general.position_encodings)
    general.position_encodings = sorted(
        general.position_encodings, key=lambda o: 0 if _name(o) == pick else 1
    )


class EnsembleProtocol(LanguageServerProtocol):
    """pygls's protocol with the daemon's encoding preference."""

    @lsp_method(types.INITIALIZE)
    def lsp_initialize(
        self, params: types.InitializeParams
    ) -> Generator[Any, Any, types.InitializeResult]:
        prefer_wire(params)
        result: types.InitializeResult = yield from super().lsp_initialize(params)
        return result

    @lsp_method(types.TEXT_DOCUMENT_DID_OPEN)
    def lsp_text_document__did_open(self, params: types.DidOpenTextDocumentParams) -> Any:
        yield from self._user(types.TEXT_DOCUMENT_DID_OPEN, params)

    @lsp_method(types.TEXT_DOCUMENT_DID_CHANGE)
    def lsp_text_document__did_change(self, params: types.DidChangeTextDocumentParams) -> Any:
        yield from self._user(types.TEXT_DOCUMENT_DID_CHANGE, params)

    @lsp_method(types.TEXT_DOCUMENT_DID_CLOSE)
    def lsp_text_document__did_close(self, params: types.DidCloseTextDocumentParams) -> Any:
        yield from self._user(types.TEXT_DOCUMENT_DID_CLOSE, params)

    def _user(self, method: str, params: Any) -> Generator[Any, Any, None]:
        handler = self.fm.features.get(method)
        if handler is not None:
            yield handler, (params,), None
