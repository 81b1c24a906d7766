"""Pure text algorithms: positions and encodings, open documents, workspace paths
and ignore rules, comment anchors.

Layer rule: a module here imports only the standard library, ``wire`` and
``daemon.text``; never pygls, lsprotocol, websockets, ``daemon.session``,
``daemon.lsp`` or the top-level daemon modules. Nothing here holds a connection
or editor state; the only I/O is reading files (an unopened document, ``.gitignore``).
"""
