"""Collaboration for plain LSP clients: diagnostics, code lenses, inlay hints.

Registered only when the editor does not render natively
(``InitializationOptions.native_ui`` false). Threads become diagnostics with
source "ensemble" (republished whenever a document's threads change and when
it opens) and code lenses; peers' carets become inlay hints, refreshed when
peers move if the client supports ``workspace/inlayHint/refresh``.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from lsprotocol import types as lsp

if TYPE_CHECKING:
    from daemon.protocol import LocalThread, PeerView
    from daemon.server import EnsembleServer

log = logging.getLogger(__name__)


class PlainLsp:
    """Standard-LSP renderings of threads and peers for one server."""

    def __init__(self, server: EnsembleServer) -> None:
        self.server = server
        self.peers: list[PeerView] = []
        self.published: set[str] = set()

    def register(self) -> None:
        s = self.server
        def code_lens(params: lsp.CodeLensParams) -> list[lsp.CodeLens]:
            return self.code_lens(params)

        def inlay_hints(params: lsp.InlayHintParams) -> list[lsp.InlayHint]:
            return self.inlay_hints(params)

        s.feature(lsp.TEXT_DOCUMENT_CODE_LENS)(code_lens)
        s.feature(lsp.TEXT_DOCUMENT_INLAY_HINT,
                  lsp.InlayHintOptions(resolve_provider=False))(inlay_hints)

    def _threads_of(self, uri: str) -> list[LocalThread]:
        d = self.server.daemon
        if d is None or d.mirror is None:
            return []
        path = d.files.path_of(uri)
        out: list[LocalThread] = []
        for t in d.mirror.threads.values():
            if t.anchor.path == path:
                lt = d.local_thread(t)
                if lt is not None:
                    out.append(lt)
        return out

    def publish(self, uris: set[str]) -> None:
        """Republish the diagnostics of the open documents among ``uris``."""
        from daemon import lsp_features

        d = self.server.daemon
        if d is None:
            return
        for uri in uris:
            doc = d.files.store.get(uri)
            if doc is None:
                continue
            diags = lsp_features.thread_diagnostics(self._threads_of(uri), doc.lines,
                                                    d.files.encoding)
            if not diags and uri not in self.published:
                continue
            self.published.add(uri)
            self.server.text_document_publish_diagnostics(
                lsp_features.publish_params(uri, doc.version, diags)
            )

    def publish_all(self) -> None:
        d = self.server.daemon
        if d is not None:
            self.publish(set(d.files.store.uris()) | self.published)

    def code_lens(self, params: lsp.CodeLensParams) -> list[lsp.CodeLens]:
        from daemon import lsp_features

        return lsp_features.thread_code_lenses(self._threads_of(params.text_document.uri))

    def inlay_hints(self, params: lsp.InlayHintParams) -> list[lsp.InlayHint]:
        from daemon import lsp_features

        d = self.server.daemon
        if d is None:
            return []
        uri = params.text_document.uri
        lines = d.files.lines(uri)
        if lines is None:
            return []
        return lsp_features.peer_inlay_hints(self.peers, uri, lines, d.files.encoding,
                                             params.range)

    def peers_changed(self, peers: list[PeerView]) -> None:
        from daemon import lsp_features

        before = self.peers
        self.peers = peers
        if before == peers:
            return
        caps = self.server.client_capabilities
        if lsp_features.inlay_refresh_supported(caps):
            self.server.workspace_inlay_hint_refresh(None)

    def threads_changed(self, uris: set[str]) -> None:
        from daemon import lsp_features

        self.publish(uris)
        caps = self.server.client_capabilities
        if lsp_features.code_lens_refresh_supported(caps):
            self.server.workspace_code_lens_refresh(None)

