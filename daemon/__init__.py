"""Ensemble's daemon: one language server per editor window, in three layers.

- ``daemon.lsp``: the editor side (pygls server, ``ensemble/`` methods, views).
- ``daemon.session``: the relay side (connection, outbox, presence, session state).
- ``daemon.text``: pure text algorithms (positions, documents, paths, anchors).

At the top: ``protocol`` (the editor protocol, imports only ``wire``), ``config``
and ``errors`` (shared by ``lsp`` and ``session``), ``gen_ts`` (writes the
TypeScript types at build time) and ``__main__`` (the entry point). Each
package's docstring states what its modules may import; there are no import
cycles between modules (imports under ``TYPE_CHECKING`` and inside functions
count too). docs/architecture.md lists the modules.
"""
