"""Sans-I/O parts of the daemon: backoff, coalescing, the session mirror, the outbox, config."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from daemon.config import load_config
from daemon.errors import InvalidParams
from daemon.lsp.views import color_of
from daemon.session.connection import BACKOFF_BASE, BACKOFF_CAP, backoff_delay
from daemon.session.mirror import SessionMirror
from daemon.session.outbox import Outbox, OutboxError
from daemon.session.traffic import Coalescer
from wire import (
    Anchor,
    ChatMessage,
    ChatSend,
    Comment,
    CursorUpdate,
    Event,
    Heartbeat,
    Message,
    Participant,
    PeerPresence,
    RepoIdentity,
    SessionInfo,
    SessionState,
    Thread,
    UserRef,
)

ROOT = Path(__file__).resolve().parents[2]
ALICE = UserRef(id="alice", name="Alice")
BOB = UserRef(id="bob", name="Bob")


def test_backoff_is_decorrelated_jitter_capped_at_five_seconds() -> None:
    """Each wait is uniform in [0.5, 3 * previous], never above the 5 s default cap: a
    client is back at most 5 s after the relay."""
    prev = BACKOFF_BASE
    waits = []
    for _ in range(2000):
        d = backoff_delay(prev)
        assert BACKOFF_BASE <= d <= min(BACKOFF_CAP, 3 * prev) + 1e-9
        waits.append(d)
        prev = d
    assert BACKOFF_CAP == 5.0 and max(waits) > 4.0
    assert len({round(w, 3) for w in waits}) > 100  # spread, not lock-step
    assert max(backoff_delay(100.0, 30.0) for _ in range(200)) <= 30.0


@pytest.mark.parametrize(("env", "floor", "cap", "warned"), [
    ({"ENSEMBLE_RECONNECT_MIN": "30", "ENSEMBLE_RECONNECT_MAX": "120"}, 30.0, 120.0, []),
    ({"ENSEMBLE_RECONNECT_MIN": "9", "ENSEMBLE_RECONNECT_MAX": "2"}, 2.0, 2.0, []),
    ({"ENSEMBLE_RECONNECT_MIN": "soon", "ENSEMBLE_RECONNECT_MAX": "-3"}, 0.5, 5.0,
     ["ENSEMBLE_RECONNECT_MIN", "ENSEMBLE_RECONNECT_MAX"]),
    ({"ENSEMBLE_RECONNECT_MIN": "0", "ENSEMBLE_RECONNECT_MAX": "inf"}, 0.5, 5.0,
     ["ENSEMBLE_RECONNECT_MIN", "ENSEMBLE_RECONNECT_MAX"]),
    ({"ENSEMBLE_RECONNECT_MIN": "nan"}, 0.5, 5.0, ["ENSEMBLE_RECONNECT_MIN"]),
])
def test_backoff_floor_and_cap_come_from_the_environment(
        env: dict[str, str], floor: float, cap: float, warned: list[str]) -> None:
    """ENSEMBLE_RECONNECT_MIN / _MAX set the shortest and longest wait (a floor above the
    cap is the cap); a value that is not a positive number of seconds is reported on
    stderr and the default used. Read at import, so each case is a fresh interpreter."""
    code = ("from daemon.session.connection import BACKOFF_BASE as b, BACKOFF_CAP as c, "
            "backoff_delay as d\n"
            "w = [d(b) for _ in range(500)]\n"
            "print(b, c, min(w), max(w))")
    clean = {k: v for k, v in os.environ.items() if not k.startswith("ENSEMBLE_RECONNECT")}
    out = subprocess.run([sys.executable, "-c", code], env={**clean, **env}, cwd=ROOT,
                         capture_output=True, text=True, timeout=60, check=True)
    base, top, low, high = map(float, out.stdout.split())
    assert (base, top) == (floor, cap)
    assert floor <= low <= high <= min(cap, 3 * floor) + 1e-9
    for name in ("ENSEMBLE_RECONNECT_MIN", "ENSEMBLE_RECONNECT_MAX"):
        assert (name in out.stderr) == (name in warned), out.stderr


async def test_coalescer_sends_first_and_latest_and_skips_repeats() -> None:
    """Inside one interval only the first and the latest value go out; repeats are dropped."""
    sent: list[int] = []

    async def send(msg: Message) -> bool:
        assert isinstance(msg, CursorUpdate)
        sent.append(msg.selections[0].active.line)
        return True

    def cursor(line: int) -> CursorUpdate:
        from wire import Position, Selection
        pos = Position(line=line, character=0)
        return CursorUpdate(session_id="s", path="a", selections=[Selection(anchor=pos,
                                                                            active=pos)])

    c = Coalescer(0.2, send)
    c.put("cursor", cursor(1), 1)
    while not sent:  # the first value goes out as soon as the loop runs
        await asyncio.sleep(0)
    for line in range(2, 11):
        c.put("cursor", cursor(line), line)
    deadline = time.monotonic() + 5
    while sent != [1, 10]:
        assert time.monotonic() < deadline, sent
        await asyncio.sleep(0.01)
    c.put("cursor", cursor(10), 10)
    # A marker next: it must be the next value out. It is put once the interval is over, so
    # a wrongly kept repeat has gone out already rather than being replaced by it.
    await asyncio.sleep(0.3)
    c.put("cursor", cursor(11), 11)
    while len(sent) < 3:
        assert time.monotonic() < deadline, sent
        await asyncio.sleep(0.01)
    assert sent == [1, 10, 11]
    c.forget()
    c.put("cursor", cursor(11), 11)  # forgotten: the same value goes out again
    while len(sent) < 4:
        assert time.monotonic() < deadline, sent
        await asyncio.sleep(0.01)
    assert sent == [1, 10, 11, 11]
    c.cancel()


def state(**kw: Any) -> SessionState:
    info = SessionInfo(session_id="s1", name="n", repo=RepoIdentity(), host=ALICE,
                       created_at=1.0)
    base: dict[str, Any] = dict(
        session=info, you=Participant(user=BOB, role="editor", online=True),
        participants=[Participant(user=ALICE, role="host", online=True)], presence=[],
        last_seq=3, chat=[], chat_has_more=False, threads=[], mentions=[])
    base.update(kw)
    return SessionState(**base)


def test_mirror_upserts_events_and_merges_presence() -> None:
    """Events upsert chat and comments idempotently; presence merges field by field."""
    m = SessionMirror(state())
    msg = ChatMessage(id="m1", session_id="s1", seq=4, author=ALICE, text="hi", created_at=2.0)
    ev = Event(session_id="s1", seq=4, id="m1", kind="chat_created", actor=ALICE, at=2.0,
               message=msg)
    change = m.apply(ev)
    m.apply(ev)
    assert [c.id for c in change.chat] == ["m1"] and m.last_seq == 4 and len(m.chat) == 1
    thread = Thread(id="t1", session_id="s1", author=ALICE, created_at=3.0, comments=[],
                    anchor=Anchor(path="a.py", start_line=0, end_line=0, text=["x"]))
    m.apply(Event(session_id="s1", seq=5, id="t1", kind="thread_created", actor=ALICE, at=3.0,
                  thread=thread))
    reply = Comment(id="c2", thread_id="t1", author=BOB, text="ok", created_at=4.0)
    change = m.apply(Event(session_id="s1", seq=6, id="c2", kind="comment_created", actor=BOB,
                           at=4.0, comment=reply))
    assert [c.id for c in m.threads["t1"].comments] == ["c2"] and change.threads[0].id == "t1"
    edited = Comment(id="c2", thread_id="t1", author=BOB, text="ok!", created_at=4.0)
    m.apply(Event(session_id="s1", seq=7, id="e", kind="comment_edited", actor=BOB, at=5.0,
                  comment=edited))
    assert [c.text for c in m.threads["t1"].comments] == ["ok!"]

    assert m.merge_presence(PeerPresence(user_id="alice", status="idle"))
    assert m.merge_presence(PeerPresence(user_id="alice", focus="a.py"))
    assert not m.merge_presence(PeerPresence(user_id="alice", focus="a.py"))
    assert m.presence["alice"].status == "idle" and m.presence["alice"].focus == "a.py"
    assert not m.merge_presence(PeerPresence(user_id="bob", status="away"))  # ourselves
    ended = m.apply(Event(session_id="s1", seq=8, id="x", kind="session_ended", actor=ALICE,
                          at=6.0))
    assert ended.ended


def test_mirror_drops_deleted_threads_live_in_catch_up_and_across_a_rejoin() -> None:
    """thread_deleted removes the thread (also from a catch-up's upserts); a rejoin whose
    state no longer lists a thread reports it removed."""
    def thread(tid: str) -> Thread:
        return Thread(id=tid, session_id="s1", author=ALICE, created_at=3.0, comments=[],
                      anchor=Anchor(path="a.py", start_line=0, end_line=0, text=["x"]))

    m = SessionMirror(state(threads=[thread("t1"), thread("t2"), thread("t3")]))
    change = m.apply(Event(session_id="s1", seq=4, id="d", kind="thread_deleted", actor=ALICE,
                           at=4.0, thread=thread("t1")))
    assert change.removed_threads == ["t1"] and change.threads == []
    assert sorted(m.threads) == ["t2", "t3"]
    late = Comment(id="c", thread_id="t1", author=BOB, text="late", created_at=5.0)
    assert m.apply(Event(session_id="s1", seq=5, id="c", kind="comment_created", actor=BOB,
                         at=5.0, comment=late)).threads == []
    gone = Event(session_id="s1", seq=6, id="d2", kind="thread_deleted", actor=ALICE, at=6.0,
                 thread=thread("t2"))
    change = m.load(state(threads=[thread("t2")], events=[gone]))
    assert sorted(change.removed_threads) == ["t2", "t3"] and change.threads == []
    assert m.threads == {}


def test_outbox_keeps_order_and_state_across_reopen(tmp_path: Path) -> None:
    """Entries come back in write order after reopening; ids are unique; state persists."""
    path = tmp_path / "o.sqlite3"
    box = Outbox(path)
    for i in range(5):
        box.add(ChatSend(id=f"id{i}", session_id="s" if i % 2 else "t", text=f"m{i}"), "m")
    box.add(ChatSend(id="id0", session_id="t", text="again"), "m")
    box.set_state("session_id", "s")
    box.close()
    box = Outbox(path)
    assert [e.id for e in box.pending()] == [f"id{i}" for i in range(5)]
    assert [e.id for e in box.pending("s")] == ["id1", "id3"]
    assert box.get_state("session_id") == "s"
    assert box.remove("id3") is not None and box.remove("id3") is None
    assert box.count() == 4
    with pytest.raises(OutboxError):
        box.add(Heartbeat(), "m")
    box.close()


def test_config_rejects_bad_options_and_colors_are_stable() -> None:
    """Bad initialization options are invalid params; a user's color never changes."""
    cfg = load_config({"relay_url": "ws://h:1/", "cursor_rate": 5}, ["file:///w"])
    assert cfg.relay_url == "ws://h:1" and cfg.cursor_rate == 5 and cfg.workspace_roots == [
        "file:///w"]
    with pytest.raises(InvalidParams):
        load_config({"cursor_rate": "fast"}, [])
    with pytest.raises(InvalidParams):
        load_config({"cursor_rate": 0}, [])
    assert color_of("alice") == color_of("alice") and 0 <= color_of("bob") < 12
    assert len({color_of(f"user{i}") for i in range(100)}) == 12


def test_outbox_entries_belong_to_their_author(tmp_path: Path) -> None:
    """Another user signing in neither sees nor sends the first user's pending actions;
    they are there again when the first user comes back."""
    box = Outbox(tmp_path / "o.sqlite3")
    box.set_owner("alice")
    box.add(ChatSend(id="a1", session_id="s", text="from alice"), "m")
    box.set_state("session_id", "s")
    box.set_owner("bob")
    assert box.pending() == [] and box.count() == 0 and box.get_state("session_id") is None
    box.add(ChatSend(id="b1", session_id="s", text="from bob"), "m")
    box.close()
    box = Outbox(tmp_path / "o.sqlite3")
    assert box.owner == "bob" and [e.id for e in box.pending()] == ["b1"]
    box.set_owner("alice")
    assert [e.id for e in box.pending("s")] == ["a1"] and box.get_state("session_id") == "s"
    box.close()
