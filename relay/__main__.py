"""``ensemble-relay`` / ``python -m relay``: run the relay until SIGTERM or SIGINT."""

from __future__ import annotations

import asyncio
import logging
import signal
import sys
from collections.abc import Sequence

from relay import config as config_mod
from relay import logs
from relay.errors import ConfigError, StoreError
from relay.ws.server import RelayServer

log = logging.getLogger("relay")
EXIT_CONFIG = 2  # bad configuration (one line on stderr)
EXIT_STORAGE = 3  # the data folder or database cannot be opened or written


async def serve(cfg: config_mod.Config) -> None:
    # Handlers first: a SIGTERM sent as soon as the listening line is read must shut down
    # gracefully, not end the process with the default action.
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    server = RelayServer(cfg)
    await server.start()
    print(f"ensemble-relay listening on ws://{cfg.host}:{server.port}", file=sys.stderr,
          flush=True)
    if server.metrics_listener is not None:
        print(f"ensemble-relay metrics on http://{cfg.metrics_host}:{server.metrics_port}/metrics",
              file=sys.stderr, flush=True)
    log.info("relay started", extra={"host": cfg.host, "port": server.port,
                                     "data_dir": str(cfg.data_dir), "dev": cfg.dev})
    await stop.wait()
    log.info("shutting down")
    await server.shutdown()
    log.info("stopped")


def main(argv: Sequence[str] | None = None) -> int:
    try:
        cfg = config_mod.load(argv)
    except ConfigError as exc:
        print(f"ensemble-relay: error: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    logs.setup(cfg.log_level, cfg.log_format)
    try:
        asyncio.run(serve(cfg))
    except StoreError as exc:
        print(f"ensemble-relay: error: storage unusable: {exc}", file=sys.stderr)
        return EXIT_STORAGE
    except OSError as exc:
        print(f"ensemble-relay: error: cannot listen on {cfg.host}:{cfg.port}: {exc}",
              file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
