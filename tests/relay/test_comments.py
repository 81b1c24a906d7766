"""Code comment threads, their persistence across sessions, event log and export."""

from __future__ import annotations

import json

from tests.helpers import connected, new_id
from tests.relay.conftest import make_trio
from wire import (
    Ack,
    Anchor,
    ChatSend,
    CommentDelete,
    CommentEdit,
    CommentReply,
    ErrorCode,
    Event,
    EventLogQuery,
    EventLogResult,
    ExportRequest,
    ExportResult,
    MentionNotice,
    Ok,
    ReactionToggle,
    SessionEnd,
    ThreadCreate,
    ThreadResolve,
)


def anchor(path: str = "src/app.py") -> Anchor:
    return Anchor(path=path, start_line=10, end_line=11, text=["x = 1", "y = 2"],
                  before=["# setup"], after=["print(x + y)"])


async def test_thread_is_created_with_anchor_text_and_context(trio):
    tid = new_id()
    ack = await trio.editor.request(ThreadCreate(id=tid, session_id=trio.sid, anchor=anchor(),
                                                 text="why two lines?"), Ack)
    ev = await trio.viewer.expect(Event, predicate=lambda e: e.id == tid)
    assert ev.kind == "thread_created" and ev.seq == ack.seq
    t = ev.thread
    assert t is not None and t.anchor == anchor() and not t.resolved
    assert [c.text for c in t.comments] == ["why two lines?"] and t.comments[0].id == tid


async def test_replies_edits_deletes_reactions_and_resolve(trio):
    tid = new_id()
    await trio.editor.request(ThreadCreate(id=tid, session_id=trio.sid, anchor=anchor(),
                                           text="first"), Ack)
    rid = new_id()
    await trio.host.request(CommentReply(id=rid, session_id=trio.sid, thread_id=tid,
                                         text=f"@{trio.editor.user_id} agreed"), Ack)
    ev = await trio.viewer.expect(Event, predicate=lambda e: e.id == rid)
    assert ev.kind == "comment_created" and ev.comment is not None
    assert ev.comment.thread_id == tid
    note = await trio.editor.expect(MentionNotice)
    assert note.mention.thread_id == tid and note.mention.comment_id == rid
    await trio.host.request(CommentEdit(id=new_id(), session_id=trio.sid, comment_id=rid,
                                        text="agreed!"), Ack)
    ev = await trio.viewer.expect(Event, predicate=lambda e: e.kind == "comment_edited")
    assert ev.comment is not None and ev.comment.edited_at is not None
    await trio.viewer.request(ReactionToggle(id=new_id(), session_id=trio.sid, target_id=rid,
                                             emoji="+1"), Ack)
    ev = await trio.host.expect(Event, predicate=lambda e: e.kind == "comment_reaction")
    assert ev.comment is not None and ev.comment.reactions == {"+1": [trio.viewer.user_id]}
    await trio.host.request(CommentDelete(id=new_id(), session_id=trio.sid, comment_id=rid), Ack)
    ev = await trio.viewer.expect(Event, predicate=lambda e: e.kind == "comment_deleted")
    assert ev.comment is not None and ev.comment.deleted and ev.comment.text == ""
    await trio.editor.request(ThreadResolve(id=new_id(), session_id=trio.sid, thread_id=tid,
                                            resolved=True), Ack)
    ev = await trio.viewer.expect(Event, predicate=lambda e: e.kind == "thread_resolved")
    assert ev.thread is not None and ev.thread.resolved
    assert ev.thread.resolved_by == trio.editor.user_id
    await trio.editor.request(ThreadResolve(id=new_id(), session_id=trio.sid, thread_id=tid,
                                            resolved=False), Ack)
    ev = await trio.viewer.expect(Event, predicate=lambda e: e.kind == "thread_reopened")
    assert ev.thread is not None and not ev.thread.resolved


async def test_reply_to_unknown_thread_is_not_found(trio):
    err = await trio.editor.error(CommentReply(id=new_id(), session_id=trio.sid,
                                               thread_id="nope", text="x"))
    assert err.code == ErrorCode.NOT_FOUND


async def test_invalid_anchor_is_refused(trio):
    bad = Anchor(path="/etc/passwd", start_line=5, end_line=2, text=[])
    err = await trio.editor.error(ThreadCreate(id=new_id(), session_id=trio.sid, anchor=bad,
                                               text="x"))
    assert err.code == ErrorCode.INVALID_VALUE


async def test_threads_outlive_the_session_and_show_in_the_hosts_later_session_on_the_same_repo(
        relay):
    first = await make_trio(relay.url, root_commit="c0ffee")
    tid = new_id()
    await first.editor.request(ThreadCreate(id=tid, session_id=first.sid, anchor=anchor(),
                                            text="keep me"), Ack)
    await first.host.request(SessionEnd(session_id=first.sid), Ok)
    later = await first.host.create_session("next day", root_commit="C0FFEE")
    assert [t.id for t in later.threads] == [tid]
    assert later.threads[0].comments[0].text == "keep me"
    # ... and can be continued there.
    await first.host.request(CommentReply(id=new_id(), session_id=later.session.session_id,
                                          thread_id=tid, text="still relevant"), Ack)
    unrelated = await first.host.create_session("elsewhere", root_commit="beef")
    assert unrelated.threads == []
    # Another user claiming the same repository starts an empty project of their own.
    other = await connected(relay.url, "other")
    assert (await other.create_session("mine", root_commit="c0ffee")).threads == []
    await first.close()


async def test_repository_matches_by_normalized_remote_when_no_root_commit(relay):
    a = await connected(relay.url, "a")
    s1 = (await a.create_session(remote="git@github.com:Acme/Widget.git")).session.session_id
    tid = new_id()
    await a.request(ThreadCreate(id=tid, session_id=s1, anchor=anchor(), text="t"), Ack)
    again = await a.create_session(remote="https://github.com/acme/widget")
    assert [t.id for t in again.threads] == [tid]


async def test_event_log_records_joins_roles_comments_and_end(trio):
    tid = new_id()
    await trio.editor.request(ThreadCreate(id=tid, session_id=trio.sid, anchor=anchor(),
                                           text="x"), Ack)
    await trio.editor.request(ThreadResolve(id=new_id(), session_id=trio.sid, thread_id=tid,
                                            resolved=True), Ack)
    await trio.viewer.close()
    await trio.host.request(SessionEnd(session_id=trio.sid), Ok)
    log = await trio.host.request(EventLogQuery(session_id=trio.sid), EventLogResult)
    kinds = [e.kind for e in log.entries]
    for kind in ("session_created", "join", "member_added", "thread_created",
                 "thread_resolved", "leave", "session_ended"):
        assert kind in kinds, kinds
    seqs = [e.seq for e in log.entries]
    assert seqs == sorted(seqs)


async def test_export_as_json_and_markdown_holds_threads_and_chat(trio):
    tid = new_id()
    await trio.editor.request(ThreadCreate(id=tid, session_id=trio.sid, anchor=anchor(),
                                           text="comment body"), Ack)
    await trio.host.request(ChatSend(id=new_id(), session_id=trio.sid, text="chat body"), Ack)
    await trio.host.request(ChatSend(id=new_id(), session_id=trio.sid, text="private",
                                     to=trio.editor.user_id), Ack)
    res = await trio.viewer.request(ExportRequest(session_id=trio.sid, format="json"),
                                    ExportResult)
    data = json.loads(res.content)
    assert data["session"]["session_id"] == trio.sid
    assert [t["id"] for t in data["threads"]] == [tid]
    assert [m["text"] for m in data["chat"]] == ["chat body"]
    res = await trio.editor.request(ExportRequest(session_id=trio.sid, format="markdown"),
                                    ExportResult)
    md = res.content
    assert md.startswith("# trio") and "## Comment threads" in md and "## Chat" in md
    assert "src/app.py:11-12" in md and "comment body" in md and "chat body" in md
    assert "private" in md  # the recipient sees their direct message



async def test_markdown_export_keeps_code_and_bodies_in_their_place(trio):
    """A ``` line in a thread's code stays inside its fence; comment and chat bodies
    cannot add headings or load remote images."""
    code = ["s = '''", "```", "# not a heading", "'''"]
    a = Anchor(path="src/we`ird.py", start_line=0, end_line=3, text=code, before=[], after=[])
    body = "# Injected heading\n![tracker](http://evil.example/p.png)\n<img src=x>\nok\n==="
    await trio.editor.request(ThreadCreate(id=new_id(), session_id=trio.sid, anchor=a,
                                           text=body), Ack)
    await trio.host.request(ChatSend(id=new_id(), session_id=trio.sid,
                                     text="## chat heading\n![](http://evil.example/c.png)"), Ack)
    res = await trio.editor.request(ExportRequest(session_id=trio.sid, format="markdown"),
                                    ExportResult)
    lines = res.content.splitlines()
    headings = [line for line in lines if line.startswith("#") and line not in code]
    assert headings == ["# trio", "## Comment threads", r"### src/we\`ird.py:1-4 (open)",
                        "## Chat"]
    start = lines.index(r"### src/we\`ird.py:1-4 (open)") + 2
    assert lines[start] == "````" and lines[start + 1:start + 5] == code
    assert lines[start + 5] == "````"
    assert "![" not in res.content.replace("\\![", "")
    assert "<img" not in res.content
    quoted = [line for line in lines if line.startswith("  > ")]
    assert r"  > \# Injected heading" in quoted and r"  > \## chat heading" in quoted
    assert r"  > \===" in quoted
