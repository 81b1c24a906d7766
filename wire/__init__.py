"""The Ensemble wire protocol: every message between daemon and relay.

One JSON text frame carries one message; its ``type`` field names the class
below (its ``TYPE``). This module is the single definition: the relay, the
daemon, docs/protocol.md and the generated TypeScript all follow it.

Conventions
- ``rid``: optional request id chosen by the client; replies and errors echo it.
- ``id`` on durable actions: a client-made unique id (UUID). The relay stores
  the action, acks it with ``ack{id, seq}``, then broadcasts an ``event`` with
  the per-session ``seq``. Re-sending an ``id`` is acked again, never stored twice.
- Paths are workspace-relative POSIX paths; positions are LSP positions
  (zero-based line, UTF-16 character).
- Times are UNIX seconds (float).
"""

from __future__ import annotations

from wire.bounds import *  # noqa: F403
from wire.client import *  # noqa: F403
from wire.codec import *  # noqa: F403
from wire.errors import *  # noqa: F403
from wire.schema import *  # noqa: F403
from wire.server import *  # noqa: F403
from wire.types import *  # noqa: F403
