"""What operators control: browser Origins on /auth and /ws, and who reads /metrics
(a bearer token, or a listener of its own). Real relay subprocess."""

from __future__ import annotations

import json
import re
import time
import urllib.error
import urllib.request

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

from tests.helpers import WireClient, user
from wire import AUTH_PATH, SESSION_PATH

TOKEN = "m" * 32


def _get(url: str, token: str | None = None) -> tuple[int, str]:
    req = urllib.request.Request(url)
    if token is not None:
        req.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.status, resp.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


async def test_a_browser_origin_that_is_not_allowed_is_refused(relay_factory):
    relay = relay_factory("--allowed-origins", "https://ensemble.example.com")
    _, token = await user(relay.url)
    bearer = {"Authorization": f"Bearer {token}"}
    for path, headers in ((AUTH_PATH, {}), (SESSION_PATH, bearer)):
        with pytest.raises(InvalidStatus) as refused:
            await connect(relay.url + path, origin="https://evil.example",  # type: ignore[arg-type]
                          additional_headers=headers, compression=None)
        assert refused.value.response.status_code == 403
        assert json.loads(refused.value.response.body)["error"] == "forbidden_origin"
        # The allowed origin, and clients that send none (the daemon), connect.
        ws = await connect(relay.url + path, origin="https://ensemble.example.com",  # type: ignore[arg-type]
                           additional_headers=headers, compression=None)
        await ws.close()
    c = await WireClient.connect(relay.url, token)
    await c.barrier()
    await c.close()


async def test_by_default_no_browser_origin_may_connect(relay):
    with pytest.raises(InvalidStatus) as refused:
        await connect(relay.url + AUTH_PATH, origin="http://localhost:3000",  # type: ignore[arg-type]
                      compression=None)
    assert refused.value.response.status_code == 403


def test_metrics_need_the_operator_token_when_one_is_set(relay_factory):
    relay = relay_factory(env={"ENSEMBLE_METRICS_TOKEN": TOKEN})
    assert _get(relay.http_url + "/metrics")[0] == 401
    assert _get(relay.http_url + "/metrics", "wrong" * 8)[0] == 401
    status, body = _get(relay.http_url + "/metrics", TOKEN)
    assert status == 200 and "ensemble_connections_total" in body
    assert _get(relay.http_url + "/healthz")[0] == 200  # health stays open


def test_metrics_can_live_on_a_listener_of_their_own(relay_factory):
    relay = relay_factory("--metrics-host", "127.0.0.1", "--metrics-port", "0")
    deadline = time.monotonic() + 10
    while not (found := [m for line in relay.lines
                         if (m := re.search(r"metrics on (http://[\d.]+:\d+)/metrics", line))]):
        assert time.monotonic() < deadline, relay.log()
        time.sleep(0.05)
    metrics_url = found[0].group(1)
    status, body = _get(metrics_url + "/metrics")
    assert status == 200 and "ensemble_connections_total" in body
    assert _get(metrics_url + "/other")[0] == 404
    assert _get(relay.http_url + "/metrics")[0] == 404  # not on the public port any more
