"""``ensemble-relay`` / ``python -m relay``: run the relay until SIGTERM or SIGINT."""

from __future__ import annotations

import sys

from relay.app import main

__all__ = ["main"]

if __name__ == "__main__":
    sys.exit(main())
