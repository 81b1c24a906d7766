"""The relay's WebSocket side: the websockets server, /auth, framing, and the cursor fast path.

Built on websockets' public API only; the inbound fast path reads frames through the
Sans-I/O ``Protocol.receive_data`` / ``events_received`` pair (relay/ws/connection.py).
"""
