"""thread_delete: the host removes a whole thread; peers drop it; nothing of it remains."""

from __future__ import annotations

from tests.helpers import new_id
from tests.relay.conftest import Trio
from wire import (
    Ack,
    Anchor,
    CommentReply,
    ErrorCode,
    Event,
    EventLogQuery,
    EventLogResult,
    Ok,
    ReactionToggle,
    SessionEnd,
    SyncRequest,
    SyncResult,
    ThreadCreate,
    ThreadDelete,
)


def anchor() -> Anchor:
    return Anchor(path="src/app.py", start_line=3, end_line=3, text=["x = 1"])


async def _thread(trio: Trio) -> tuple[str, str]:
    tid, rid = new_id(), new_id()
    await trio.editor.request(ThreadCreate(id=tid, session_id=trio.sid, anchor=anchor(),
                                           text="first"), Ack)
    await trio.editor.request(CommentReply(id=rid, session_id=trio.sid, thread_id=tid,
                                           text="second"), Ack)
    return tid, rid


async def test_editor_and_viewer_may_not_delete_a_thread(trio):
    tid, _ = await _thread(trio)
    for c in (trio.editor, trio.viewer):
        err = await c.error(ThreadDelete(id=new_id(), session_id=trio.sid, thread_id=tid))
        assert err.code == ErrorCode.FORBIDDEN
    state = await trio.viewer.join(session_id=trio.sid)
    assert [t.id for t in state.threads] == [tid]


async def test_host_deletes_a_thread_and_every_peer_gets_the_event(trio):
    tid, rid = await _thread(trio)
    did = new_id()
    ack = await trio.host.request(ThreadDelete(id=did, session_id=trio.sid, thread_id=tid), Ack)
    for c in (trio.editor, trio.viewer):
        ev = await c.expect(Event, predicate=lambda e: e.id == did)
        assert ev.kind == "thread_deleted" and ev.seq == ack.seq
        assert ev.thread is not None and ev.thread.id == tid and ev.thread.comments == []
    # Gone for good: not listed on join, not reachable by its own or its comments' ids.
    state = await trio.editor.join(session_id=trio.sid)
    assert state.threads == []
    err = await trio.editor.error(CommentReply(id=new_id(), session_id=trio.sid, thread_id=tid,
                                               text="late"))
    assert err.code == ErrorCode.NOT_FOUND
    err = await trio.editor.error(ReactionToggle(id=new_id(), session_id=trio.sid,
                                                 target_id=rid, emoji="+1"))
    assert err.code == ErrorCode.NOT_FOUND
    err = await trio.host.error(ThreadDelete(id=new_id(), session_id=trio.sid, thread_id=tid))
    assert err.code == ErrorCode.NOT_FOUND
    sync = await trio.viewer.request(SyncRequest(session_id=trio.sid, after_seq=ack.seq - 1),
                                     SyncResult)
    assert [e.kind for e in sync.events] == ["thread_deleted"]
    log = await trio.host.request(EventLogQuery(session_id=trio.sid), EventLogResult)
    assert any(e.kind == "thread_deleted" and e.subject == tid for e in log.entries)


async def test_a_resent_thread_delete_is_acked_again_and_stored_once(trio):
    tid, _ = await _thread(trio)
    msg = ThreadDelete(id=new_id(), session_id=trio.sid, thread_id=tid)
    first = await trio.host.request(msg, Ack)
    msg.rid = None
    again = await trio.host.request(msg, Ack)
    assert again.seq == first.seq
    await trio.viewer.barrier()
    events = [e for e in trio.viewer.take(Event) if e.kind == "thread_deleted"]
    assert [e.seq for e in events] == [first.seq]
    # The same id for another thread is a conflict, not a second delete.
    other, _ = await _thread(trio)
    err = await trio.host.error(ThreadDelete(id=msg.id, session_id=trio.sid, thread_id=other))
    assert err.code == ErrorCode.ID_CONFLICT


async def test_no_thread_is_deleted_once_the_session_ended(trio):
    tid, _ = await _thread(trio)
    await trio.host.request(SessionEnd(session_id=trio.sid), Ok)
    err = await trio.host.error(ThreadDelete(id=new_id(), session_id=trio.sid, thread_id=tid))
    assert err.code == ErrorCode.SESSION_ENDED
