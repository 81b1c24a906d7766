"""The permission matrix: which role may do what (docs/protocol.md shows it as a table)."""

from __future__ import annotations

from wire import ErrorCode, ProtocolError, Role

HOST: frozenset[Role] = frozenset({"host"})
WRITERS: frozenset[Role] = frozenset({"host", "editor"})
EVERYONE: frozenset[Role] = frozenset({"host", "editor", "viewer"})

# action (message type) -> roles allowed. Actions needing authorship say so below.
MATRIX: dict[str, frozenset[Role]] = {
    "session_leave": EVERYONE,
    "status": EVERYONE,
    "cursor": EVERYONE,
    "viewport": EVERYONE,
    "focus": EVERYONE,
    "viewers": EVERYONE,
    "history": EVERYONE,
    "sync": EVERYONE,
    "export": EVERYONE,
    "chat_send": EVERYONE,
    "chat_edit": EVERYONE,  # author only
    "chat_delete": EVERYONE,  # author, or the host
    "reaction_toggle": EVERYONE,
    "thread_create": WRITERS,
    "comment_reply": WRITERS,
    "comment_edit": WRITERS,  # author only
    "comment_delete": EVERYONE,  # author, or the host
    "thread_resolve": WRITERS,
    "thread_delete": HOST,
    "invite_create": HOST,
    "invite_revoke": HOST,
    "invite_list": HOST,
    "role_set": HOST,
    "participant_remove": HOST,
    "session_end": HOST,
    "event_log": HOST,
}

AUTHOR_ONLY = frozenset({"chat_edit", "comment_edit"})
AUTHOR_OR_HOST = frozenset({"chat_delete", "comment_delete"})

# Refused once the session has ended (it becomes read-only). Removing a participant stays
# possible: it revokes access to the project's threads, which outlive the session.
WRITES = frozenset({
    "status", "cursor", "viewport", "focus", "chat_send", "chat_edit", "chat_delete",
    "reaction_toggle", "thread_create", "comment_reply", "comment_edit", "comment_delete",
    "thread_resolve", "thread_delete", "invite_create", "role_set", "session_end",
})


def allowed(action: str, role: Role) -> bool:
    return role in MATRIX.get(action, frozenset())


def check(action: str, role: Role, *, rid: str | None = None, id: str | None = None) -> None:
    if not allowed(action, role):
        raise ProtocolError(
            ErrorCode.FORBIDDEN, f"a {role} may not {action.replace('_', ' ')}", rid=rid, id=id
        )


def check_author(
    action: str, role: Role, author: str, user_id: str, *, rid: str | None, id: str | None
) -> None:
    """Edits are the author's own; deletes the author's or the host's."""
    if author == user_id:
        return
    if action in AUTHOR_OR_HOST and role == "host":
        return
    who = "the author" if action in AUTHOR_ONLY else "the author or the host"
    raise ProtocolError(ErrorCode.NOT_AUTHOR, f"only {who} may {action.replace('_', ' ')}",
                        rid=rid, id=id)
