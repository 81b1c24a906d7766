"""Operations: structured logs without secrets or message text."""

from __future__ import annotations

import json

from tests.helpers import WireClient, connected, new_id, sign_up, unique_name
from wire import Ack, ChatSend


async def test_logs_never_contain_passwords_tokens_or_message_text(relay_factory):
    relay = relay_factory()
    name = unique_name("secretive")
    token = await sign_up(relay.url, name, "hunter2-hunter2")
    client = await WireClient.connect(relay.url, token)
    sid = (await client.create_session()).session.session_id
    await client.request(ChatSend(id=new_id(), session_id=sid, text="the launch code is 0000"),
                         Ack)
    await client.close()
    relay.stop()
    log = relay.log()
    assert name in log  # the user is named ...
    for secret in ("hunter2-hunter2", token, "launch code", relay.data_dir.joinpath(
            "jwt-secret").read_text().strip()):
        assert secret not in log  # ... but nothing secret or private is


async def test_json_log_format_writes_one_json_object_per_line(relay_factory):
    relay = relay_factory("--log-format", "json")
    c = await connected(relay.url)
    await c.create_session()
    await c.close()
    relay.stop()
    lines = [ln for ln in relay.lines if ln.startswith("{")]
    assert len(lines) >= 3
    records = [json.loads(ln) for ln in lines]
    assert all({"ts", "level", "msg"} <= set(r) for r in records)
    assert any(r["msg"] == "session created" for r in records)
