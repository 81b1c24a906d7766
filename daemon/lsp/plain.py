"""Collaboration for plain LSP clients: diagnostics, code lenses, inlay hints.

Registered only when the editor does not render natively
(``InitializationOptions.native_ui`` false). Threads become diagnostics with
source "ensemble" and code lenses; peers' carets become inlay hints, refreshed
when peers move if the client supports ``workspace/inlayHint/refresh``, and
(``InitializationOptions.peer_diagnostics``, on by default here) Hint
diagnostics "alice is here" at each caret, which editors without inlay hints
(Neovim 0.7) draw too.

Diagnostics are published per file and only for the files that changed: a
thread event marks its file, a peer's move marks the files it left and
entered, and the marked files are published together at most every
:data:`COALESCE` seconds, so a burst of thread events costs one publication
per file, not one per event. The wait grows with the number of diagnostics
last published (up to :data:`MAX_COALESCE`), so a file with a thousand
threads is not re-sent twenty times a second. Thread diagnostics are cached per file until
that file's threads change.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING

from lsprotocol import types as lsp

if TYPE_CHECKING:
    from pygls.lsp.server import LanguageServer

    from daemon.lsp.core import Daemon
    from daemon.protocol import LocalThread, PeerView

log = logging.getLogger(__name__)

COALESCE = 0.05  # seconds a change waits for others before its files are published
MAX_COALESCE = 0.5  # the wait grows with the size of the last publication, up to this


class PlainLsp:
    """Standard-LSP renderings of threads and peers for one server."""

    def __init__(self, server: LanguageServer, daemon: Callable[[], Daemon | None], *,
                 peer_diagnostics: bool = True) -> None:
        self.server = server
        self._daemon = daemon  # None until the server is initialized
        self.peer_diagnostics = peer_diagnostics
        self.peers: list[PeerView] = []
        self.published: set[str] = set()
        self._threads: dict[str, list[lsp.Diagnostic]] = {}  # thread diagnostics by file
        self._dirty: set[str] = set()
        self._timer: asyncio.TimerHandle | None = None
        self._delay = COALESCE

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
        d = self._daemon()
        m = d.state.mirror if d is not None else None
        if d is None or m is None:
            return []
        path = d.files.path_of(uri)
        out: list[LocalThread] = []
        for t in m.threads.values():
            if t.anchor.path == path:
                lt = d.local_thread(t)
                if lt is not None:
                    out.append(lt)
        return out

    # ----- diagnostics, coalesced -------------------------------------------------------

    def _mark(self, uris: set[str]) -> None:
        self._dirty |= uris
        if self._timer is not None or not self._dirty:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            self.flush()
            return
        self._timer = loop.call_later(self._delay, self.flush)

    def flush(self) -> None:
        """Publish the files marked since the last flush."""
        self._timer = None
        uris, self._dirty = self._dirty, set()
        self.publish(uris)

    def publish(self, uris: set[str]) -> None:
        """Publish the diagnostics of the open documents among ``uris`` now."""
        from daemon.lsp import lsp_features

        d = self._daemon()
        if d is None:
            return
        largest = 0
        for uri in uris:
            doc = d.files.store.get(uri)
            if doc is None:
                continue
            threads = self._threads.get(uri)
            if threads is None:
                threads = lsp_features.thread_diagnostics(self._threads_of(uri), doc.lines,
                                                          d.files.encoding)
                self._threads[uri] = threads
            diags = list(threads)
            if self.peer_diagnostics:
                diags += lsp_features.peer_diagnostics(self.peers, uri, doc.lines,
                                                       d.files.encoding)
            largest = max(largest, len(diags))
            if not diags and uri not in self.published:
                continue
            if diags:
                self.published.add(uri)
            else:
                self.published.discard(uri)
            self.server.text_document_publish_diagnostics(
                lsp_features.publish_params(uri, doc.version, diags)
            )
        self._delay = min(MAX_COALESCE, COALESCE * (1 + largest / 100))

    def publish_all(self) -> None:
        d = self._daemon()
        self._threads.clear()
        if d is not None:
            self._mark(set(d.files.store.uris()) | self.published)

    def code_lens(self, params: lsp.CodeLensParams) -> list[lsp.CodeLens]:
        from daemon.lsp import lsp_features

        return lsp_features.thread_code_lenses(self._threads_of(params.text_document.uri))

    def inlay_hints(self, params: lsp.InlayHintParams) -> list[lsp.InlayHint]:
        from daemon.lsp import lsp_features

        d = self._daemon()
        if d is None:
            return []
        uri = params.text_document.uri
        lines = d.files.lines(uri)
        if lines is None:
            return []
        return lsp_features.peer_inlay_hints(self.peers, uri, lines, d.files.encoding,
                                             params.range)

    def peers_changed(self, peers: list[PeerView]) -> None:
        from daemon.lsp import lsp_features

        before = self.peers
        self.peers = peers
        if before == peers:
            return
        caps = self.server.client_capabilities
        if lsp_features.inlay_refresh_supported(caps):
            self.server.workspace_inlay_hint_refresh(None)
        if self.peer_diagnostics:
            moved = {p.uri for p in before if p.uri} | {p.uri for p in peers if p.uri}
            self._mark(moved)

    def threads_changed(self, uris: set[str]) -> None:
        from daemon.lsp import lsp_features

        for uri in uris:
            self._threads.pop(uri, None)
        self._mark(uris)
        caps = self.server.client_capabilities
        if lsp_features.code_lens_refresh_supported(caps):
            self.server.workspace_code_lens_refresh(None)
