"""``ensemble-daemon`` / ``python -m daemon``: the Ensemble language server over stdio."""

from __future__ import annotations

import argparse
import logging
import os
import sys


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="ensemble-daemon",
                                     description="Ensemble language server (LSP over stdio).")
    parser.add_argument("--stdio", action="store_true", help="speak LSP on stdin/stdout (default)")
    parser.add_argument("--log-level", help="debug, info, warning or error (wins over "
                        "ENSEMBLE_LOG_LEVEL and initializationOptions.log_level)")
    args = parser.parse_args(argv)
    if args.log_level:
        os.environ["ENSEMBLE_LOG_LEVEL"] = args.log_level
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.addHandler(handler)
    root.setLevel(logging.WARNING)
    level = logging.getLevelName(os.environ.get("ENSEMBLE_LOG_LEVEL", "info").upper())
    logging.getLogger("daemon").setLevel(level if isinstance(level, int) else logging.INFO)
    logging.getLogger("pygls").setLevel(logging.WARNING)
    logging.getLogger("websockets").setLevel(logging.WARNING)
    logging.getLogger("asyncio").setLevel(logging.WARNING)

    from daemon.lsp.server import run

    code = run()
    logging.shutdown()
    sys.stdout.flush()
    os._exit(code)


if __name__ == "__main__":
    sys.exit(main())
