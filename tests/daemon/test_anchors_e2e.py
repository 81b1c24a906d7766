"""Re-anchoring end to end: one thread from Alice, rendered by Bob's daemon against
shifted, typed-in, diverged and deleted versions of his copy of the file."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from lsprotocol import types as lsp

from daemon.protocol import Method

pytestmark = pytest.mark.timeout(180)

CODE = """\
import sys


def parse(text):
    result = {}
    for line in text.splitlines():
        key, _, value = line.partition("=")
        result[key.strip()] = value.strip()
    return result


def main():
    print(parse(sys.stdin.read()))
"""
LINES = CODE.splitlines()
START, END = 5, 7  # the loop of parse()


async def _signed_up(make: Any, relay: Any, name: str, tmp_path: Path) -> Any:
    ws = tmp_path / f"ws-{name}"
    ws.mkdir()
    (ws / "conf.py").write_text(CODE, encoding="utf-8")
    client = await make(name, relay.url, workspace=ws)
    await client.request(Method.SIGN_UP, {"username": name, "password": "correct horse 1",
                                          "display_name": name.title()})
    await client.wait_for(Method.DID_CHANGE_CONNECTION, lambda p: p["state"] == "online")
    return client


def _placed(thread_id: str, start: int | None, *, moved: bool | None = None) -> Any:
    """Predicate: a didChangeThreads that places ``thread_id`` at ``start`` (None: outdated)."""
    def check(p: Any) -> bool:
        for lt in p["threads"]:
            if lt["thread"]["id"] != thread_id:
                continue
            if start is None:
                return bool(lt["outdated"] and lt.get("range") is None)
            rng = lt.get("range")
            return (rng is not None and rng["start"]["line"] == start
                    and not lt["outdated"] and (moved is None or lt["moved"] is moved))
        return False
    return check


def _diagnostic_at(uri: str, line: int | None) -> Any:
    def check(p: Any) -> bool:
        if p["uri"] != uri:
            return False
        ours = [d for d in p["diagnostics"] if d.get("source") == "ensemble"]
        if line is None:
            return len(ours) == 1 and ours[0]["message"].startswith("outdated")
        return len(ours) == 1 and ours[0]["range"]["start"]["line"] == line
    return check


def _change(bob: Any, uri: str, version: int, text: str,
            at: tuple[int, int] | None = None) -> None:
    change: Any
    if at is None:
        change = lsp.TextDocumentContentChangeWholeDocument(text=text)
    else:
        pos = lsp.Position(line=at[0], character=at[1])
        change = lsp.TextDocumentContentChangePartial(range=lsp.Range(start=pos, end=pos),
                                                      text=text)
    bob.client.text_document_did_change(lsp.DidChangeTextDocumentParams(
        text_document=lsp.VersionedTextDocumentIdentifier(uri=uri, version=version),
        content_changes=[change]))


async def test_thread_is_re_anchored_in_shifted_edited_diverged_and_deleted_copies(
    daemons: Any, relay: Any, tmp_path: Path
) -> None:
    """Bob's daemon moves the thread with its code, follows his typing, finds it in
    another branch's version, and marks it outdated (no range) once the code is gone;
    his plain-LSP diagnostics follow the same way."""
    alice = await _signed_up(daemons, relay, "alice", tmp_path)
    bob = await _signed_up(daemons, relay, "bob", tmp_path)
    await alice.request(Method.CREATE_SESSION, {"name": "anchors"})
    invite = await alice.request(Method.CREATE_INVITE, {"role": "editor"})
    await bob.request(Method.JOIN_SESSION, {"invite": invite["token"]})
    rng = {"start": {"line": START, "character": 0}, "end": {"line": END, "character": 0}}
    queued = await alice.request(Method.CREATE_THREAD, {
        "uri": alice.uri("conf.py"), "range": rng, "text": "use csv instead?"})
    tid = queued["id"]
    await bob.wait_for(Method.DID_CHANGE_THREADS, _placed(tid, START, moved=False))

    # shifted: Bob's copy has three more lines on top
    shifted = "#!/usr/bin/env python\n# -*- coding: utf-8 -*-\n\n" + CODE
    uri = await bob.open("conf.py", shifted)
    await bob.wait_for(Method.DID_CHANGE_THREADS, _placed(tid, START + 3, moved=True))
    await bob.wait_for("textDocument/publishDiagnostics", _diagnostic_at(uri, START + 3))

    # typing above the thread (before any save) moves it along
    _change(bob, uri, 2, "import os\nimport re\n", at=(3, 0))
    await bob.wait_for(Method.DID_CHANGE_THREADS, _placed(tid, START + 5))
    await bob.wait_for("textDocument/publishDiagnostics", _diagnostic_at(uri, START + 5))

    # diverged: another branch moved parse() below main() and renamed a variable
    diverged = (
        "import sys\n\n\ndef main():\n    print(parse(sys.stdin.read()))\n\n\n"
        "def parse(text):\n    result = {}\n    for line in text.splitlines():\n"
        '        key, _, val = line.partition("=")\n'
        "        result[key.strip()] = val.strip()\n    return result\n"
    )
    _change(bob, uri, 3, diverged)
    await bob.wait_for(Method.DID_CHANGE_THREADS, _placed(tid, 9, moved=True))

    # deleted: parse() is gone; the thread is outdated, never pinned elsewhere
    deleted = "import sys\n\n\ndef main():\n    print(sys.stdin.read())\n"
    _change(bob, uri, 4, deleted)
    await bob.wait_for(Method.DID_CHANGE_THREADS, _placed(tid, None))
    await bob.wait_for("textDocument/publishDiagnostics", _diagnostic_at(uri, None))


async def test_closing_an_unsaved_document_places_threads_against_the_file_on_disk(
    daemons: Any, relay: Any, tmp_path: Path
) -> None:
    """Typed-in lines that were never saved stop counting once the document closes."""
    alice = await _signed_up(daemons, relay, "alice", tmp_path)
    bob = await _signed_up(daemons, relay, "bob", tmp_path)
    await alice.request(Method.CREATE_SESSION, {"name": "close"})
    invite = await alice.request(Method.CREATE_INVITE, {"role": "editor"})
    await bob.request(Method.JOIN_SESSION, {"invite": invite["token"]})
    rng = {"start": {"line": START, "character": 0}, "end": {"line": END, "character": 0}}
    queued = await alice.request(Method.CREATE_THREAD, {
        "uri": alice.uri("conf.py"), "range": rng, "text": "close me"})
    tid = queued["id"]
    uri = await bob.open("conf.py")
    await bob.wait_for(Method.DID_CHANGE_THREADS, _placed(tid, START, moved=False))
    _change(bob, uri, 2, "# a\n# b\n# c\n# d\n", at=(0, 0))
    await bob.wait_for(Method.DID_CHANGE_THREADS, _placed(tid, START + 4))
    bob.client.text_document_did_close(lsp.DidCloseTextDocumentParams(
        text_document=lsp.TextDocumentIdentifier(uri=uri)))
    count = len(bob.notes[Method.DID_CHANGE_THREADS])
    await bob.wait_for(Method.DID_CHANGE_THREADS, lambda p: (
        len(bob.notes[Method.DID_CHANGE_THREADS]) > count and _placed(tid, START)(p)))
