"""The relay side: connection, outbox, presence, the session mirror, membership,
the frames the relay pushes.

Layer rule: a module here imports the standard library, websockets, ``wire``,
``daemon.text``, ``daemon.session`` and the shared ``daemon.config`` and
``daemon.errors``; never pygls, lsprotocol, ``daemon.protocol`` or ``daemon.lsp``.

What the daemon knows of its relay (account, connection state, current session,
role, participants, seq, presence) lives in one ``RelayState`` (``state.py``),
changed only through its methods. The editor is told through the ``Editor``
interface (``editor.py``), which ``daemon.lsp`` implements.
"""
