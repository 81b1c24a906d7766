"""The cursor fast path: same messages and errors as the generic decoder, same order."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from relay.adapters.local_bus import LocalBus
from relay.adapters.sqlite_store import SqliteStore
from relay.config import Config
from relay.core.service import Core
from relay.metrics import Metrics
from relay.ws import fastpath
from tests.helpers import connected
from tests.relay.coreharness import Harness
from tests.relay.coreharness import session as _session
from wire import (
    CloseCode,
    CursorUpdate,
    Error,
    ErrorCode,
    InviteCreate,
    InviteResult,
    Position,
    PresenceUpdate,
    ProtocolError,
    Selection,
    SessionJoin,
    SessionState,
    decode_client,
)
from wire.bounds import PATH_CACHE, path_problem

SID = "0123456789abcdef"
SEL = {"anchor": {"line": 3, "character": 1}, "active": {"line": 4, "character": 0}}


def frame(**fields: object) -> str:
    data: dict[str, object] = {"type": "cursor", "session_id": SID, "path": "src/a.py",
                               "selections": [SEL]}
    data.update(fields)
    return json.dumps({k: v for k, v in data.items() if v is not ...})


VALID = [
    frame(),
    frame(sent_at=1795641768.25),
    frame(sent_at=1795641768),  # an integer time becomes a float
    frame(sent_at=None, content_hash=None, rid=None),  # nulls are absent optionals
    frame(content_hash="a" * 40, rid="r1"),
    frame(selections=[]),
    frame(selections=[SEL, SEL, {**SEL, "extra": 1}]),  # unknown keys are ignored
    frame(unknown="ignored"),
    frame(selections=[SEL] * 20),  # more brackets than the nesting bound, nested 4 deep
]

UNUSUAL = [
    "{not json",
    "[1, 2]",
    frame(session_id=...),
    frame(session_id=7),
    frame(path=None),
    frame(selections={"anchor": 1}),
    frame(selections=[1]),
    frame(selections=[{"anchor": {"line": 1, "character": 0}}]),
    frame(selections=[{"anchor": {"line": True, "character": 0},
                       "active": {"line": 1, "character": 0}}]),
    frame(selections=[{"anchor": {"line": 1.0, "character": 0},
                       "active": {"line": 1, "character": 0}}]),
    frame(sent_at="now"),
    frame(sent_at=True),
    frame(content_hash=5),
    frame(rid=5),
    json.dumps({"type": "heartbeat", "note": "cursor"}),
    # Bounds: the fast path declines, the generic decoder answers invalid_value or bad_json.
    frame(path="/etc/passwd"),
    frame(path=""),
    frame(path="a\\b.py"),
    frame(path="x" * 1025),
    frame(path="a/../b.py"),
    frame(path="a//b.py"),
    frame(path="./a.py"),
    frame(path="C:/a.py"),
    frame(path="a\u202eb.py"),
    frame(selections=[{"anchor": {"line": -5, "character": 0},
                       "active": {"line": 1, "character": 0}}]),
    frame(selections=[{"anchor": {"line": 1, "character": 0},
                       "active": {"line": 1, "character": 10**30}}]),
    frame(selections=[{"anchor": {"line": 2**31, "character": 0},
                       "active": {"line": 1, "character": 0}}]),
    frame(sent_at=float("nan")),
    frame(sent_at=float("inf")),
    frame(sent_at=10**30),
    frame(rid="r" * 129),
    frame(session_id="s" * 129),
    frame(content_hash="h" * 129),
    frame(extra=json.loads("[" * 40 + "]" * 40)),
    " " + frame(),  # whitespace around the object: valid, left to the generic decoder
    frame() + "\n",
    frame() + "{}",
]


@pytest.mark.parametrize("raw", VALID)
def test_fast_decoder_builds_the_same_cursor_update_as_the_generic_one(raw: str) -> None:
    fast = fastpath.cursor(raw)
    assert fast is not None
    assert fast == decode_client(raw)
    assert fastpath.decode(raw) == decode_client(raw)


@pytest.mark.parametrize("raw", UNUSUAL)
def test_unusual_frames_get_exactly_the_generic_decoders_answer(raw: str) -> None:
    assert fastpath.cursor(raw) is None
    try:
        expected: object = decode_client(raw)
    except ProtocolError as exc:
        with pytest.raises(ProtocolError) as got:
            fastpath.decode(raw)
        assert (got.value.code, got.value.message, got.value.rid) == (exc.code, exc.message,
                                                                      exc.rid)
    else:
        assert fastpath.decode(raw) == expected


def test_fast_path_matches_the_protocols_cursor_fields() -> None:
    """If CursorUpdate gains a field, the fast path must be updated (it switches off)."""
    assert fastpath.ENABLED


async def test_cursor_pipelined_behind_a_join_is_handled_after_the_join(trio, relay):
    inv = await trio.host.request(InviteCreate(session_id=trio.sid, role="editor"), InviteResult)
    late = await connected(relay.url, "late")
    # Both frames leave at once: the join is still being stored when the cursor arrives.
    await late.send(SessionJoin(invite=inv.invite.token, rid="join"))
    await late.send(CursorUpdate(session_id=trio.sid, path="src/late.py", rid="cur",
                                 selections=[Selection(anchor=Position(line=9, character=0),
                                                       active=Position(line=9, character=2))],
                                 sent_at=time.time()))
    await late.expect(SessionState, predicate=lambda s: s.rid == "join")
    frame = await trio.host.expect(
        PresenceUpdate, predicate=lambda f: any(p.user_id == late.user_id for p in f.peers))
    entry = next(p for p in frame.peers if p.user_id == late.user_id)
    assert entry.cursor is not None and entry.cursor.path == "src/late.py"
    await late.barrier()
    assert late.take(Error) == []
    await late.close()


async def test_cursor_flood_is_rate_limited_then_closed_4029(relay_factory):
    relay = relay_factory("--rate-per-second", "5", "--rate-burst", "5", "--rate-strikes", "20")
    c = await connected(relay.url)
    sid = (await c.create_session()).session.session_id
    for i in range(40):
        await c.send(CursorUpdate(session_id=sid, path="a.py", rid=f"c{i}",
                                  selections=[Selection(anchor=Position(line=i, character=0),
                                                        active=Position(line=i, character=0))]))
    await c.wait_closed()
    assert c.close_code == CloseCode.RATE_LIMITED
    errors = c.take(Error)
    assert errors and all(e.code == ErrorCode.RATE_LIMITED for e in errors)
    assert all(e.rid is not None and e.rid.startswith("c") for e in errors)


@pytest.mark.parametrize("raw", VALID)
def test_cursor_fields_carry_the_same_values_as_the_generic_decoder(raw: str) -> None:
    fields = fastpath.cursor_fields(raw)
    msg = decode_client(raw)
    assert isinstance(msg, CursorUpdate) and fields is not None
    sid, path, sels, sent_at, content_hash, rid = fields
    assert (sid, path, sent_at, content_hash, rid) == (msg.session_id, msg.path, msg.sent_at,
                                                       msg.content_hash, msg.rid)
    assert sels == [{"anchor": {"line": s.anchor.line, "character": s.anchor.character},
                     "active": {"line": s.active.line, "character": s.active.character}}
                    for s in msg.selections]


@pytest.mark.parametrize("raw", UNUSUAL)
def test_cursor_fields_leave_unusual_frames_to_the_generic_decoder(raw: str) -> None:
    assert fastpath.cursor_fields(raw) is None


@pytest.fixture
async def core_harness(tmp_path: Path):
    cfg = Config(data_dir=tmp_path, jwt_secret="s" * 32, presence_timeout=5.0)
    store = SqliteStore(":memory:")
    await store.open()
    metrics = Metrics()
    yield Harness(Core(cfg, store, LocalBus(), metrics))
    await store.close()


def _fields(sid: str, **changes: object) -> str:
    data: dict[str, object] = {"type": "cursor", "session_id": sid, "path": "src/a.py",
                               "selections": [SEL], "sent_at": 12.5, "content_hash": "h",
                               "rid": "r7"}
    data.update(changes)
    return json.dumps({k: v for k, v in data.items() if v is not ...})


CORE_CASES = [
    {},
    {"rid": ...},
    {"sent_at": ..., "content_hash": ...},
    {"selections": [{**SEL, "extra": 1}, SEL]},
    {"selections": [SEL] * 101},  # too many selections
    {"session_id": "feedfacefeedface"},  # not joined: not_in_session
]


@pytest.mark.parametrize("changes", CORE_CASES)
async def test_core_cursor_fast_path_sends_what_the_generic_path_sends(core_harness, changes):
    """Presence frames and errors (code, message, rid) match frame for frame."""
    h = core_harness
    sid = await _session(h, ("bob", "editor"), ("cat", "viewer"))
    for w in h.wires.values():
        w.frames.clear()
    raw = _fields(sid, **changes)
    outputs = []
    for sender in ("bob", "cat"):  # an editor and a viewer
        fields = fastpath.cursor_fields(raw)
        assert fields is not None
        h.core.cursor(h.clients[sender], fields)
        h.core.delivery.flush()
        fast = {n: list(w.frames) for n, w in h.wires.items()}
        for w in h.wires.values():
            w.frames.clear()
        h.core.ephemeral(h.clients[sender], decode_client(raw))
        h.core.delivery.flush()
        generic = {n: list(w.frames) for n, w in h.wires.items()}
        for w in h.wires.values():
            w.frames.clear()
        assert fast == generic
        outputs.append(fast)
    assert any(frames for out in outputs for frames in out.values())


def test_path_verdicts_are_remembered_and_stay_bounded() -> None:
    """Path checks are cached (a cursor's path is checked on decoding and in the core):
    the memory stays bounded and a remembered verdict is still the right one."""
    path_problem.cache_clear()
    for i in range(PATH_CACHE + 100):
        assert fastpath.cursor_fields(frame(path=f"src/f{i}.py")) is not None
    assert path_problem.cache_info().currsize == PATH_CACHE
    for _ in range(2):
        assert fastpath.cursor_fields(frame(path="src/../x.py")) is None
        assert path_problem("src/../x.py") is not None
    assert path_problem.cache_info().hits >= 2
