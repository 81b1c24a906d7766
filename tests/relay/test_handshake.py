"""Handshake, authentication, HTTP endpoints."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request

import jwt
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

from tests.helpers import RelayRefused, WireClient, sign_in, sign_up, unique_name, user
from wire import (
    CloseCode,
    Error,
    ErrorCode,
    Hello,
    SessionList,
    SessionListResult,
    Welcome,
)


def _get(url: str) -> tuple[int, str, str]:
    try:
        with urllib.request.urlopen(url, timeout=10) as resp:
            return resp.status, resp.headers.get("Content-Type", ""), resp.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.headers.get("Content-Type", ""), exc.read().decode()


async def _refusal(url: str, headers: dict[str, str]) -> tuple[int, str]:
    with pytest.raises(InvalidStatus) as info:
        async with connect(url + "/ws", additional_headers=headers, open_timeout=10):
            pass
    resp = info.value.response
    return resp.status_code, json.loads(resp.body or b"{}").get("error", "")


async def _status_of_upgrade(url: str, headers: dict[str, str]) -> int:
    return (await _refusal(url, headers))[0]


async def test_upgrade_without_token_is_refused_with_401(relay):
    assert await _status_of_upgrade(relay.url, {}) == 401


async def test_upgrade_with_invalid_token_is_refused_with_401(relay):
    assert await _status_of_upgrade(relay.url, {"Authorization": "Bearer nonsense"}) == 401


async def test_upgrade_with_expired_token_is_refused_with_401(relay):
    uid, _ = await user(relay.url)
    secret = (relay.data_dir / "jwt-secret").read_text().strip()
    now = int(time.time())
    expired = jwt.encode({"sub": uid, "iat": now - 100, "exp": now - 10,
                          "iss": "ensemble-relay"}, secret, algorithm="HS256")
    assert await _refusal(relay.url, {"Authorization": f"Bearer {expired}"}) \
        == (401, "token_expired")


async def test_token_signed_with_another_secret_is_refused_with_401(relay):
    uid, _ = await user(relay.url)
    now = int(time.time())
    forged = jwt.encode({"sub": uid, "iat": now, "exp": now + 100, "iss": "ensemble-relay"},
                        "another-secret-of-enough-length-for-hs256", algorithm="HS256")
    assert await _status_of_upgrade(relay.url, {"Authorization": f"Bearer {forged}"}) == 401


async def test_dev_secret_file_is_private(relay):
    mode = (relay.data_dir / "jwt-secret").stat().st_mode & 0o777
    assert mode == 0o600


async def test_hello_gets_welcome_with_limits_and_user(relay):
    uid, token = await user(relay.url)
    client = await WireClient.connect(relay.url, token)
    assert client.welcome is not None
    assert client.welcome.user is not None and client.welcome.user.id == uid
    assert client.welcome.limits.max_frame_bytes > 0
    await client.close()


async def test_unsupported_protocol_version_gets_error_and_close_4000(relay):
    _, token = await user(relay.url)
    client = await WireClient.connect(relay.url, token, protocol=99)
    err = await client.expect(Error)
    assert err.code == ErrorCode.UNSUPPORTED_VERSION
    assert "99" in err.message
    assert await client.wait_closed() == CloseCode.UNSUPPORTED_VERSION


async def test_first_frame_other_than_hello_gets_error_and_close_4001(relay):
    _, token = await user(relay.url)
    client = await WireClient.connect(relay.url, token, hello=False)
    await client.send(SessionList(rid="x"))
    err = await client.expect(Error)
    assert err.code == ErrorCode.HELLO_REQUIRED and err.rid == "x"
    assert await client.wait_closed() == CloseCode.HELLO_REQUIRED


async def test_connection_without_hello_is_closed_4001_after_the_hello_timeout(relay_factory):
    relay = relay_factory("--hello-timeout", "0.5")
    _, token = await user(relay.url)
    client = await WireClient.connect(relay.url, token, hello=False)
    err = await client.expect(Error)
    assert err.code == ErrorCode.HELLO_REQUIRED
    assert await client.wait_closed() == CloseCode.HELLO_REQUIRED


async def test_second_hello_is_refused_and_connection_stays_usable(relay):
    _, token = await user(relay.url)
    client = await WireClient.connect(relay.url, token)
    err = await client.error(Hello(protocol=1))
    assert err.code == ErrorCode.BAD_MESSAGE
    await client.request(SessionList(), SessionListResult)
    await client.close()


async def test_sign_up_then_sign_in_returns_a_working_token(relay):
    name = unique_name("carol")
    await sign_up(relay.url, name, "s3cret-pass")
    token = await sign_in(relay.url, name, "s3cret-pass")
    client = await WireClient.connect(relay.url, token)
    assert client.user_id == name
    await client.close()


async def test_sign_in_with_wrong_password_is_refused(relay):
    name = unique_name()
    await sign_up(relay.url, name, "right-password")
    with pytest.raises(RelayRefused) as info:
        await sign_in(relay.url, name, "wrong-password")
    assert info.value.code == ErrorCode.BAD_CREDENTIALS


async def test_sign_in_of_unknown_user_is_refused_like_a_wrong_password(relay):
    with pytest.raises(RelayRefused) as info:
        await sign_in(relay.url, unique_name(), "whatever-pass")
    assert info.value.code == ErrorCode.BAD_CREDENTIALS


@pytest.mark.parametrize(("username", "password", "code"), [
    ("a", "long-enough", ErrorCode.INVALID_USERNAME),
    ("bad name!", "long-enough", ErrorCode.INVALID_USERNAME),
    ("shortpw", "short", ErrorCode.WEAK_PASSWORD),
    ("longpw", "x" * 100, ErrorCode.INVALID_VALUE),
])
async def test_sign_up_refuses_bad_usernames_and_passwords(relay, username, password, code):
    with pytest.raises(RelayRefused) as info:
        await sign_up(relay.url, username, password)
    assert info.value.code == code


async def test_username_can_only_be_taken_once(relay):
    name = unique_name()
    await sign_up(relay.url, name)
    with pytest.raises(RelayRefused) as info:
        await sign_up(relay.url, name.upper())
    assert info.value.code == ErrorCode.USERNAME_TAKEN


async def test_auth_endpoint_refuses_session_messages(relay):
    async with connect(relay.url + "/auth") as ws:
        await ws.send(json.dumps({"type": "hello", "protocol": 1}))
        assert json.loads(await ws.recv())["type"] == Welcome.TYPE
        await ws.send(json.dumps({"type": "session_list", "rid": "q"}))
        reply = json.loads(await ws.recv())
        assert reply["type"] == "error" and reply["code"] == ErrorCode.UNAUTHORIZED
        assert reply["rid"] == "q"


async def test_healthz_answers_json(relay):
    status, ctype, body = _get(relay.http_url + "/healthz")
    assert status == 200 and ctype.startswith("application/json")
    assert json.loads(body)["status"] == "ok"


async def test_metrics_are_prometheus_text_with_the_documented_families(relay):
    client = await WireClient.connect(relay.url, (await user(relay.url))[1])
    await client.error({"type": "nope", "rid": "m"})
    status, ctype, body = _get(relay.http_url + "/metrics")
    assert status == 200 and ctype.startswith("text/plain")
    for family in ("ensemble_connections ", "ensemble_sessions_live ", "ensemble_sessions_open ",
                   'ensemble_messages_in_total{type="hello"}',
                   'ensemble_messages_out_total{type="welcome"}',
                   'ensemble_errors_total{code="unknown_type"}',
                   "ensemble_fanout_latency_seconds_bucket"):
        assert family in body, family
    await client.close()


async def test_unknown_http_path_is_404(relay):
    assert _get(relay.http_url + "/nothing")[0] == 404
