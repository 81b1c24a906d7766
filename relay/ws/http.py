"""The relay's plain HTTP answers: /healthz, /metrics (with its optional token and
listener of its own), and the checks made before a WebSocket upgrade (Origin)."""

from __future__ import annotations

import asyncio
import hmac
import http
import json
import logging
from collections.abc import Callable

from websockets.datastructures import Headers
from websockets.http11 import Response

from wire import ErrorCode

log = logging.getLogger("relay.server")

METRICS_TYPE = "text/plain; version=0.0.4; charset=utf-8"


def response(status: http.HTTPStatus, body: str, content_type: str,
             extra: tuple[tuple[str, str], ...] = ()) -> Response:
    data = body.encode()
    headers = Headers([("Content-Type", content_type), ("Content-Length", str(len(data))),
                       ("Connection", "close"), *extra])
    return Response(status.value, status.phrase, headers, data)


def refusal(status: http.HTTPStatus, code: str, message: str,
            extra: tuple[tuple[str, str], ...] = ()) -> Response:
    """A JSON refusal of an HTTP request: {"error": code, "message": ...}."""
    body = json.dumps({"error": code, "message": message})
    return response(status, body, "application/json", extra)


def unauthorized(reason: str, code: str = ErrorCode.UNAUTHORIZED) -> Response:
    return refusal(http.HTTPStatus.UNAUTHORIZED, code, reason,
                   (("WWW-Authenticate", 'Bearer realm="ensemble"'),))


def check_origin(headers: Headers, allowed: frozenset[str]) -> Response | None:
    """Refuse (403 forbidden_origin) a browser Origin that is not allowed.

    Browsers always send Origin on a WebSocket upgrade; the daemon and other
    non-browser clients send none and are not concerned.
    """
    origin = headers.get("Origin")
    if origin is None or origin.strip().lower().rstrip("/") in allowed:
        return None
    return refusal(http.HTTPStatus.FORBIDDEN, ErrorCode.FORBIDDEN_ORIGIN,
                   "this origin may not connect (see --allowed-origins)")


def metrics_response(render: Callable[[], str], token: str, headers: Headers) -> Response:
    """/metrics, behind ``Authorization: Bearer <token>`` when a token is set."""
    if token:
        scheme, _, given = headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(given.strip().encode(),
                                                                 token.encode()):
            return unauthorized("metrics need the operator's bearer token")
    return response(http.HTTPStatus.OK, render(), METRICS_TYPE)


class MetricsListener:
    """A small HTTP/1.1 listener that serves only GET /metrics (--metrics-host/-port)."""

    def __init__(self, render: Callable[[], str], token: str) -> None:
        self.render = render
        self.token = token
        self.server: asyncio.Server | None = None

    async def start(self, host: str, port: int) -> int:
        self.server = await asyncio.start_server(self._serve, host, port)
        return int(self.server.sockets[0].getsockname()[1])

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
            lines = head.decode("latin-1").split("\r\n")
            method, _, rest = lines[0].partition(" ")
            target = rest.split(" ", 1)[0].split("?", 1)[0]
            headers = Headers()
            for line in lines[1:]:
                name, sep, value = line.partition(":")
                if sep:
                    headers[name.strip()] = value.strip()
            if method != "GET" or target != "/metrics":
                resp = response(http.HTTPStatus.NOT_FOUND, "not found\n", "text/plain")
            else:
                resp = metrics_response(self.render, self.token, headers)
            status = f"HTTP/1.1 {resp.status_code} {resp.reason_phrase}\r\n"
            fields = "".join(f"{k}: {v}\r\n" for k, v in resp.headers.raw_items())
            writer.write((status + fields + "\r\n").encode("latin-1") + resp.body)
            await writer.drain()
        except (OSError, TimeoutError, asyncio.IncompleteReadError, asyncio.LimitOverrunError,
                UnicodeDecodeError):
            pass
        finally:
            writer.close()

    async def close(self) -> None:
        if self.server is not None:
            self.server.close()
            await self.server.wait_closed()
