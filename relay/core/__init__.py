"""Sans-I/O relay core: sessions, permissions, presence and history as plain classes.

The core reads decoded messages and writes encoded frames to ``Transport``
objects; it never touches a socket. The asyncio server adapts websockets
connections to ``Transport`` and the unit tests use in-memory transports.
"""
