"""The editor side: the pygls server, the ``ensemble/`` methods and their handlers,
what the editor draws (peers, threads placed in the local files) and the renderings
for plain LSP clients.

Layer rule: a module here may import everything (``daemon.session``,
``daemon.text``, the top-level modules, pygls, lsprotocol); within ``daemon`` only
``daemon.__main__`` imports this package.
"""
