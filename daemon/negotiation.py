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
"""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

from lsprotocol import types
from pygls.protocol import LanguageServerProtocol, lsp_method

from daemon.positions import prefer_wire


class EnsembleProtocol(LanguageServerProtocol):
    """pygls's protocol with the daemon's encoding preference."""

    @lsp_method(types.INITIALIZE)
    def lsp_initialize(
        self, params: types.InitializeParams
    ) -> Generator[Any, Any, types.InitializeResult]:
        prefer_wire(params)
        result: types.InitializeResult = yield from super().lsp_initialize(params)
        return result
