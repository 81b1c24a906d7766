"""Sans-I/O relay core: sessions, permissions, presence and history as plain classes.

The core reads decoded messages and writes encoded frames to ``Transport`` objects; it
never touches a socket. It reaches durable state through the ``Store`` port and the
other relay processes through the ``SessionBus`` port (relay/core/ports.py); adapters
(relay/adapters/) implement them. The asyncio server adapts websockets connections to
``Transport``, and the unit tests use in-memory transports.
"""
