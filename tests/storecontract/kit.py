"""Records and writes for store tests, shaped like the ones relay/core makes.

A write's event and new chat message have seq 0 until the store stamps them; server-made
events get their id from a prefix and the seq ("join" -> "join-3").
"""

from __future__ import annotations

from relay.core.ports import Store
from relay.core.records import (
    Guard,
    LogLine,
    MemberRecord,
    ProjectMemberRecord,
    ProjectRecord,
    SessionRecord,
    UserRecord,
    Write,
    snapshot,
)
from wire import (
    Anchor,
    ChatMessage,
    Comment,
    Event,
    Mention,
    Participant,
    RepoIdentity,
    Role,
    Thread,
    UserRef,
)

NAMES = {"ann": "Ann", "bob": "Bob", "cy": "Cy", "dee": "Dee"}
SID, PID = "s1", "p-s1"  # the session most tests use, and its project
WRITERS: frozenset[Role] = frozenset({"host", "editor"})
REPO_KEY = "remote:example.com/app"


def ref(uid: str) -> UserRef:
    return UserRef(id=uid, name=NAMES.get(uid, uid.title()))


async def users(store: Store, *uids: str) -> None:
    """Accounts for ``uids`` (those that do not exist yet)."""
    for uid in uids:
        if await store.get_user(uid) is None:
            await store.create_user(UserRecord(id=uid, name=ref(uid).name, pw_hash="x",
                                               created_at=1.0))


async def new_session(store: Store, sid: str, host: str = "ann", *, project: str | None = None,
                      new_project: bool = True, repo_key: str = REPO_KEY,
                      at: float = 1.0) -> SessionRecord:
    """A session hosted by ``host`` in project ``project`` (default ``p-<sid>``), created with
    it unless ``new_project`` is false."""
    pid = project or f"p-{sid}"
    repo = RepoIdentity(remote=repo_key.removeprefix("remote:"), name="app")
    record = SessionRecord(id=sid, name=f"name of {sid}", repo=repo, repo_key=repo_key,
                           host=host, created_at=at, project_id=pid)
    host_member = MemberRecord(session_id=sid, user_id=host, name=ref(host).name,
                               role="host", joined_at=at)
    proj = ProjectRecord(id=pid, owner=host, repo_key=repo_key, created_at=at) \
        if new_project else None
    await store.create_session(record, host_member, proj)
    return record


async def session(store: Store, sid: str = SID, **members: Role) -> str:
    """Session ``sid`` hosted by ann in project ``p-<sid>``, with ``members`` (user id ->
    role) joined; their accounts are made as needed."""
    await users(store, "ann", *members)
    await new_session(store, sid)
    for uid, role in members.items():
        await store.commit(join(sid, f"p-{sid}", uid, role))
    return sid


def event(sid: str, eid: str, kind: str, actor: str = "ann", **what: object) -> Event:
    return Event(session_id=sid, seq=0, id=eid, kind=kind, actor=ref(actor),  # type: ignore[arg-type]
                 at=2.0, **what)  # type: ignore[arg-type]


def chat(sid: str, mid: str, text: str = "hello", author: str = "ann", *, to: str | None = None,
         at: float = 2.0, mentions: list[str] | None = None, fingerprint: str | None = None,
         guard: Guard | None = None) -> Write:
    """A new chat message (client id = its id), a direct message when ``to`` is set."""
    msg = ChatMessage(id=mid, session_id=sid, seq=0, author=ref(author), text=text,
                      created_at=at, to=to, mentions=mentions or [])
    audience = frozenset({author, to}) if to else None
    rows = [(u, Mention(session_id=sid, seq=0, by=ref(author), text=text, at=at,
                        message_id=mid)) for u in mentions or []]
    return Write(session_id=sid, event=event(sid, mid, "chat_created", author, message=msg),
                 client_id=mid, user_id=author, fingerprint=fingerprint or f"fp-{mid}",
                 guard=guard, audience=audience, chats=[msg], mentions=rows)


def chat_update(sid: str, msg: ChatMessage, action_id: str, kind: str = "chat_edited",
                actor: str = "ann", *, base: ChatMessage | None = None) -> Write:
    """A changed message (edit, reaction, delete) stored again under a new client id;
    with ``base``, only if the stored message is still ``base``."""
    audience = frozenset({msg.author.id, msg.to}) if msg.to else None
    return Write(session_id=sid, event=event(sid, action_id, kind, actor, message=msg),
                 client_id=action_id, user_id=actor, fingerprint=f"fp-{action_id}",
                 audience=audience, chats=[msg],
                 bases=[snapshot(base)] if base is not None else [])


def edit(read: ChatMessage, text: str) -> Write:
    """``read`` with a new text, built from ``read`` as it was read (its base)."""
    edited = snapshot(read)
    edited.text = text
    return chat_update(read.session_id, edited, f"edit-{read.id}-{text}", base=read)


def new_thread(sid: str, pid: str, tid: str, text: str = "first", author: str = "ann",
               at: float = 3.0) -> Write:
    """A thread with its first comment (the comment's id is ``<tid>-c0``)."""
    first = Comment(id=f"{tid}-c0", thread_id=tid, author=ref(author), text=text, created_at=at)
    thread = Thread(id=tid, session_id=sid, author=ref(author), created_at=at, comments=[first],
                    anchor=Anchor(path="src/app.py", start_line=3, end_line=4,
                                  text=["a = 1", "b = 2"], before=["# top"]))
    return Write(session_id=sid, event=event(sid, tid, "thread_created", author, thread=thread),
                 client_id=tid, user_id=author, fingerprint=f"fp-{tid}", threads=[thread],
                 thread_project_id=pid, thread_repo_key=REPO_KEY, comments=[first])


def comment_write(sid: str, comment: Comment, action_id: str, kind: str = "comment_created",
                  actor: str = "ann", *, base: Comment | None = None) -> Write:
    return Write(session_id=sid, event=event(sid, action_id, kind, actor, comment=comment),
                 client_id=action_id, user_id=actor, fingerprint=f"fp-{action_id}",
                 comments=[comment], bases=[snapshot(base)] if base is not None else [])


def thread_write(sid: str, pid: str, thread: Thread, action_id: str,
                 kind: str = "thread_resolved") -> Write:
    return Write(session_id=sid, event=event(sid, action_id, kind, thread=thread),
                 client_id=action_id, user_id="ann", fingerprint=f"fp-{action_id}",
                 threads=[thread], thread_project_id=pid, thread_repo_key=REPO_KEY)


def _participant(sid: str, uid: str, role: Role, kind: str, prefix: str,
                 members: list[MemberRecord], **more: object) -> Write:
    p = Participant(user=ref(uid), role=role, online=False)
    return Write(session_id=sid, id_prefix=prefix,
                 event=event(sid, "", kind, uid if kind == "participant_joined" else "ann",
                             participant=p),
                 members=members, **more)  # type: ignore[arg-type]


def join(sid: str, pid: str, uid: str, role: Role = "editor", at: float = 5.0) -> Write:
    """``uid`` joins the session (and is granted its project), like an accepted invite; a
    member joining again gets the new role."""
    member = MemberRecord(session_id=sid, user_id=uid, name=ref(uid).name, role=role,
                          joined_at=at)
    return _participant(
        sid, uid, role, "participant_joined", "join", [member],
        project_members=[ProjectMemberRecord(project_id=pid, user_id=uid, granted_at=at)],
        log=[LogLine(kind="member_added", actor=uid, at=at, subject=uid)])


def remove(sid: str, uid: str, role: Role, joined_at: float, at: float,
           revoke_project: str | None = None) -> Write:
    """``uid`` removed from the session; with ``revoke_project``, from that project too."""
    member = MemberRecord(session_id=sid, user_id=uid, name=ref(uid).name, role=role,
                          joined_at=joined_at, removed_at=at)
    revocation = [ProjectMemberRecord(project_id=revoke_project, user_id=uid, granted_at=at,
                                      removed_at=at)] if revoke_project else []
    return _participant(sid, uid, role, "participant_removed", "remove", [member],
                        project_members=revocation)


def end(sid: str, at: float) -> Write:
    return Write(session_id=sid, id_prefix="end", event=event(sid, "", "session_ended"),
                 ended_at=at, log=[LogLine(kind="session_ended", actor="ann", at=at)])


async def seqs(store: Store, sid: str = SID, uid: str = "ann") -> list[int]:
    """The seqs of the session's events that ``uid`` may see."""
    return [e.seq for e in await store.events_after(sid, 0, uid, 1000)]
