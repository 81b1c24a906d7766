"""Several relay URLs: the order a session's relays are tried in, and the /ws URL."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from daemon.config import load_config
from daemon.errors import InvalidParams
from daemon.session.relays import Rotation, relay_order, session_url

ROOT = Path(__file__).resolve().parents[2]
URLS = ["ws://10.0.0.1:8765", "ws://10.0.0.2:8765", "wss://relay-c.example", "ws://10.0.0.4:9"]
SESSIONS = [f"s{i:04d}" for i in range(400)]


def test_order_for_a_session_is_the_same_in_another_process() -> None:
    """The order depends on the session and the URLs only: a daemon in another process
    (another hash seed) computes the same order for every session."""
    here = {sid: relay_order(URLS, sid) for sid in SESSIONS[:50]}
    code = ("import json, sys; from daemon.session.relays import relay_order; "
            "urls, sids = json.load(sys.stdin); "
            "print(json.dumps({s: relay_order(urls, s) for s in sids}))")
    out = subprocess.run([sys.executable, "-c", code], input=json.dumps([URLS, SESSIONS[:50]]),
                         capture_output=True, text=True, cwd=ROOT, check=True, timeout=60,
                         env={**os.environ, "PYTHONHASHSEED": "12345"})
    assert json.loads(out.stdout) == here


def test_order_does_not_depend_on_how_the_urls_are_listed() -> None:
    """Two daemons that list the same relays in different orders agree on each session."""
    for sid in SESSIONS[:100]:
        order = relay_order(URLS, sid)
        assert sorted(order) == sorted(URLS)
        assert relay_order(list(reversed(URLS)), sid) == order
        assert relay_order(URLS[2:] + URLS[:2], sid) == order


def test_sessions_spread_over_every_relay() -> None:
    """Different sessions prefer different relays, each about as often (400 sessions over
    4 relays: each is first for 60 to 140 of them)."""
    firsts = Counter(relay_order(URLS, sid)[0] for sid in SESSIONS)
    assert set(firsts) == set(URLS)
    assert all(60 <= n <= 140 for n in firsts.values()), firsts


def test_removing_a_relay_moves_only_its_sessions() -> None:
    """Without one relay, the sessions that preferred another one still prefer it, and
    the others go to their second choice."""
    gone = URLS[1]
    rest = [u for u in URLS if u != gone]
    for sid in SESSIONS:
        full = relay_order(URLS, sid)
        assert relay_order(rest, sid) == [u for u in full if u != gone]


def test_outside_a_session_the_configured_order_holds() -> None:
    assert relay_order(URLS, None) == URLS
    assert relay_order(URLS[:1], "s1") == URLS[:1]


def test_session_url_names_the_session_in_the_query() -> None:
    """/ws gets ?session=<id> (quoted) when connecting for a session, nothing otherwise."""
    assert session_url("ws://h:1", None) == "ws://h:1/ws"
    assert session_url("ws://h:1", "abc123") == "ws://h:1/ws?session=abc123"
    assert session_url("wss://h/pre", "a b&c=d") == "wss://h/pre/ws?session=a%20b%26c%3Dd"


def test_rotation_tries_each_relay_once_before_waiting() -> None:
    """Failed attempts go on to the next URL at once; once every URL failed, a wait; a drop
    after a welcome waits first, then goes on from the URL after the one that dropped."""
    order = ["a", "b", "c"]
    r = Rotation()
    assert r.pick(order) == "a"
    assert r.ended(order, was_online=False) is False
    assert r.pick(order) == "b"
    assert r.ended(order, was_online=False) is False
    assert r.pick(order) == "c"
    assert r.ended(order, was_online=False) is True  # a, b and c failed: back off
    r.waited()
    assert r.pick(order) == "a"
    r.welcomed()
    assert r.ended(order, was_online=True) is True  # a dropped: back off, then b
    r.waited()
    assert r.pick(order) == "b"
    assert r.ended(order, was_online=False) is False
    assert r.pick(order) == "c"
    assert r.ended(order, was_online=False) is False
    assert r.pick(order) == "a"
    assert r.ended(order, was_online=False) is True
    r.restart = True
    assert r.pick(order) == "a"


def test_rotation_with_one_relay_waits_after_every_failure() -> None:
    """One URL: every attempt is followed by the backoff wait, as without failover."""
    r = Rotation()
    for _ in range(3):
        assert r.pick(["a"]) == "a"
        assert r.ended(["a"], was_online=False) is True
        r.waited()


def test_config_relay_urls_replace_relay_url() -> None:
    """relay_urls, when not empty, is used instead of relay_url: trailing slashes and
    repeats dropped; relay_url alone keeps working as before."""
    cfg = load_config({"relay_url": "ws://one:1/",
                       "relay_urls": ["ws://a:1/", "wss://b.example/x", "ws://a:1"]}, [])
    assert cfg.relay_urls == ["ws://a:1", "wss://b.example/x"] and cfg.relay_url == "ws://a:1"
    cfg = load_config({"relay_url": "ws://one:1/", "relay_urls": []}, [])
    assert cfg.relay_urls == ["ws://one:1"] and cfg.relay_url == "ws://one:1"


@pytest.mark.parametrize("bad", ["http://a:1", "a:1", "ws://", "ws://a:1/?x=1", "", "ws://[::1"])
def test_config_refuses_a_relay_url_that_is_not_websocket(bad: str) -> None:
    with pytest.raises(InvalidParams, match=r"relay_urls\[1\]"):
        load_config({"relay_urls": ["ws://ok:1", bad]}, [])
