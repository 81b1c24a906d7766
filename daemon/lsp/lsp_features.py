"""Collaboration through standard LSP features, for editors without our extension.

Pure functions from what the daemon knows (threads placed in the local file,
peers) to lsprotocol values. Nothing here talks to the client; the server core
sends the results. All of it is skipped when ``InitializationOptions.native_ui``
is true (the VS Code extension draws natively): check :func:`enabled`.

Comment threads -> diagnostics (``source="ensemble"``)
    Each open thread of a document becomes one diagnostic over its lines
    (from the first non-blank character of the first line to the end of the
    last), severity Information, message ``"alice: text (+2 replies)"``. An
    outdated thread (its code is gone locally) becomes a Hint at line 0 whose
    message starts with ``"outdated (was line N): "``. Resolved threads are
    left out. After any change to a document's threads::

        server.text_document_publish_diagnostics(
            publish_params(uri, version, thread_diagnostics(local_threads, lines, enc)))

    (``local_threads``: the ``LocalThread`` values for that URI, as made by
    ``daemon.lsp.views.local_thread``; ``lines``: the local document's lines.)

Comment threads -> code lenses
    :func:`thread_code_lenses` for a ``textDocument/codeLens`` handler; each
    lens carries the command ``ensemble.showThread`` with the thread id.

Peers' cursors -> inlay hints
    :func:`peer_inlay_hints` for a ``textDocument/inlayHint`` handler: one hint
    ``"◀ alice"`` after each peer caret in the document (``" ≈"`` appended
    when the peer's copy of the file differs). When peers move, send
    ``workspace/inlayHint/refresh`` only if :func:`inlay_refresh_supported`
    (and ``workspace/codeLens/refresh`` if :func:`code_lens_refresh_supported`).

Positions given to and returned by these functions are in the client's
negotiated encoding (``LocalThread`` and ``PeerView`` already are).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any, NamedTuple

from lsprotocol import types

from daemon.protocol import InitializationOptions, LocalThread, PeerView
from daemon.text.positions import Encoding, line_at, units
from wire import Comment, Thread

SOURCE = "ensemble"
SHOW_THREAD_COMMAND = "ensemble.showThread"
MAX_TEXT = 160


def enabled(options: InitializationOptions | None) -> bool:
    """Whether plain-LSP renderings are wanted (not when the client renders natively)."""
    return not (options is not None and options.native_ui)


def _caps_get(caps: Any, *names: str) -> Any:
    value = caps
    for name in names:
        value = getattr(value, name, None)
        if value is None:
            return None
    return value


def inlay_refresh_supported(caps: types.ClientCapabilities | None) -> bool:
    """The client accepts ``workspace/inlayHint/refresh``."""
    return bool(_caps_get(caps, "workspace", "inlay_hint", "refresh_support"))


def code_lens_refresh_supported(caps: types.ClientCapabilities | None) -> bool:
    """The client accepts ``workspace/codeLens/refresh``."""
    return bool(_caps_get(caps, "workspace", "code_lens", "refresh_support"))


def _live(comments: Sequence[Comment]) -> list[Comment]:
    return [c for c in comments if not c.deleted]


def _oneline(text: str) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= MAX_TEXT else flat[: MAX_TEXT - 1] + "…"


def summary(thread: Thread) -> str:
    """``"alice: first comment (+N replies)"`` for a thread."""
    first = thread.comments[0] if thread.comments else None
    who = first.author if first is not None else thread.author
    author = display_name(who.name, who.id)
    body = "[deleted]" if first is None or first.deleted else _oneline(first.text)
    replies = len(_live(thread.comments[1:]))
    suffix = "" if replies == 0 else f" (+{replies} {'reply' if replies == 1 else 'replies'})"
    return f"{author}: {body}{suffix}"


def _first_non_blank(line: str, encoding: Encoding) -> int:
    stripped = len(line) - len(line.lstrip())
    if stripped == len(line):
        return 0
    return units(line[:stripped], encoding)


def thread_diagnostics(
    threads: Sequence[LocalThread],
    lines: Sequence[str],
    encoding: Encoding,
    *,
    include_resolved: bool = False,
) -> list[types.Diagnostic]:
    """One diagnostic per thread of one document (see the module docstring)."""
    result: list[types.Diagnostic] = []
    for local in threads:
        thread = local.thread
        if thread.resolved and not include_resolved:
            continue
        message = summary(thread)
        if thread.resolved:
            message = "resolved: " + message
        if local.range is None:
            result.append(
                types.Diagnostic(
                    range=types.Range(
                        start=types.Position(line=0, character=0),
                        end=types.Position(line=0, character=0),
                    ),
                    message=f"outdated (was line {thread.anchor.start_line + 1}): {message}",
                    severity=types.DiagnosticSeverity.Hint,
                    source=SOURCE,
                    code="comment",
                    data={"threadId": thread.id, "outdated": True},
                )
            )
            continue
        start_no, start_text = line_at(lines, local.range.start.line)
        end_no, end_text = line_at(lines, local.range.end.line)
        result.append(
            types.Diagnostic(
                range=types.Range(
                    start=types.Position(
                        line=start_no, character=_first_non_blank(start_text, encoding)
                    ),
                    end=types.Position(line=end_no, character=units(end_text, encoding)),
                ),
                message=message,
                severity=types.DiagnosticSeverity.Information,
                source=SOURCE,
                code="comment",
                data={"threadId": thread.id, "moved": local.moved},
            )
        )
    return result


def publish_params(
    uri: str, version: int | None, diagnostics: Sequence[types.Diagnostic]
) -> types.PublishDiagnosticsParams:
    return types.PublishDiagnosticsParams(uri=uri, version=version, diagnostics=list(diagnostics))


def thread_code_lenses(
    threads: Sequence[LocalThread], *, include_resolved: bool = False
) -> list[types.CodeLens]:
    """One code lens above each thread (outdated ones at line 0)."""
    lenses: list[types.CodeLens] = []
    for local in threads:
        thread = local.thread
        if thread.resolved and not include_resolved:
            continue
        line = local.range.start.line if local.range is not None else 0
        title = "💬 " + summary(thread)
        if local.range is None:
            title = "💬 outdated: " + summary(thread)
        where = types.Position(line=line, character=0)
        lenses.append(
            types.CodeLens(
                range=types.Range(start=where, end=where),
                command=types.Command(
                    title=title, command=SHOW_THREAD_COMMAND, arguments=[thread.id]
                ),
            )
        )
    return lenses


class _Caret(NamedTuple):
    peer: PeerView
    name: str  # display name with the username where they differ
    line: int
    character: int  # clamped into the line
    limit: int  # the line's length in the client's units


def _carets(peers: Sequence[PeerView], uri: str, lines: Sequence[str],
            encoding: Encoding) -> Iterator[_Caret]:
    """Each online peer's caret in ``uri``, clamped into ``lines``."""
    for peer in peers:
        if not peer.online or peer.uri != uri:
            continue
        name = display_name(peer.user.name, peer.user.id)
        for selection in peer.selections:
            active = selection.active
            if active.line < 0 or active.character < 0:
                continue
            number, text = line_at(lines, active.line)
            limit = units(text, encoding)
            character = limit if number != active.line else min(active.character, limit)
            yield _Caret(peer, name, number, character, limit)


def peer_inlay_hints(
    peers: Sequence[PeerView],
    uri: str,
    lines: Sequence[str],
    encoding: Encoding,
    within: types.Range | None = None,
) -> list[types.InlayHint]:
    """An inlay hint at each online peer's caret in ``uri``, clamped into ``lines``,
    limited to the requested range ``within`` when given."""
    hints: list[types.InlayHint] = []
    for c in _carets(peers, uri, lines, encoding):
        if within is not None and not (within.start.line <= c.line <= within.end.line):
            continue
        label = f"◀ {c.name}" + (" ≈" if c.peer.approximate else "")
        tooltip = (
            f"{c.name}'s copy of this file differs: the position is approximate"
            if c.peer.approximate
            else f"{c.name} is here"
        )
        hints.append(
            types.InlayHint(
                position=types.Position(line=c.line, character=c.character),
                label=label,
                padding_left=True,
                tooltip=tooltip,
            )
        )
    return hints


def peer_diagnostics(
    peers: Sequence[PeerView], uri: str, lines: Sequence[str], encoding: Encoding
) -> list[types.Diagnostic]:
    """A Hint diagnostic "alice is here" at each online peer's caret in ``uri`` (clamped
    into ``lines``), for editors that cannot draw inlay hints (Neovim 0.7)."""
    out: list[types.Diagnostic] = []
    for c in _carets(peers, uri, lines, encoding):
        end = min(c.limit, c.character + 1)
        message = f"{c.name} is here" + (" (approximate: their copy of this file differs)"
                                         if c.peer.approximate else "")
        out.append(types.Diagnostic(
            range=types.Range(start=types.Position(line=c.line, character=c.character),
                              end=types.Position(line=c.line, character=end)),
            message=message,
            severity=types.DiagnosticSeverity.Hint,
            source=SOURCE,
            code="peer",
            data={"userId": c.peer.user.id},
        ))
    return out


def display_name(name: str, username: str) -> str:
    """``"Alice (@mallory)"``: the username beside the display name when they differ (case
    aside), so two people showing the same name are told apart. A name shown alone is
    always its owner's username, which the relay keeps unique."""
    if not username or username.casefold() == name.casefold():
        return name or username
    return f"{name} (@{username})" if name else f"@{username}"
