"""Refused actions in a real VS Code window: nothing the relay refused stays on screen.

Bob edits his chat message while the relay is down (the edit is shown at once and queued).
Meanwhile the relay's record of that message changes behind his daemon's back (its author
is rewritten in the relay's database while the relay is down), so only the relay knows and
the rejoin does not re-deliver the message (one message per history page): when bob is
back, the relay refuses the edit. His panel must drop the edit at once, without waiting
for another reconnect, and say why in words for people, not codes and ids.
"""

from __future__ import annotations

import json
import re
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from tests.e2e import ensemble as ui
from tests.e2e.harness import CodeServerFactory, SharedRepo, WindowOpener
from tests.e2e.vscode_chat import Chat

pytestmark = [pytest.mark.vscode, pytest.mark.timeout(300)]

NOT_YOURS = "You can only edit your own messages."


def change_author_behind_the_daemon(relay: Any, message_id: str) -> None:
    """Make alice the author of a chat message in the stopped relay's database."""
    db = sqlite3.connect(relay.data_dir / "relay.sqlite3")
    with db:
        row = db.execute("SELECT data FROM chat WHERE id = ?", (message_id,)).fetchone()
        data = json.loads(row[0])
        data["author"] = {"id": "alice", "name": "Alice"}
        db.execute("UPDATE chat SET data = ? WHERE id = ?", (json.dumps(data), message_id))
    db.close()


def banner(chat: Chat) -> str:
    text: str = chat.frame_eval("() => document.getElementById('banner').textContent || ''")
    return text


def test_a_refused_chat_edit_is_rolled_back_with_a_message_for_people(
    relay_factory: Any,
    code_server: CodeServerFactory,
    browser: WindowOpener,
    workspace: SharedRepo,
    vsix: Path,
) -> None:
    """The relay refuses bob's queued edit: his panel shows the message as before at once,
    and the banner and the notification say why without codes or ids."""
    relay = relay_factory("--history-page", "1")
    _alice, bob = ui.start_pair(code_server, browser, workspace, relay, vsix)
    chat = Chat(bob)
    chat.open()
    chat.send("I wrote a typo")
    sent = chat.wait_message(lambda m: m.text == "I wrote a typo" and not m.pending, "stored")
    chat.send("and another message")
    chat.wait_message(lambda m: m.text == "and another message" and not m.pending, "stored")

    relay.kill()
    bob.wait_for(lambda: "participant" not in ui.status_text(bob), "bob's status bar offline")
    msg = chat.frame.locator(f'.msg[data-id="{sent.id}"]')
    msg.hover()
    msg.locator(":scope > .msg-actions > button.edit").click()
    composer = chat.frame.locator("#composer")
    composer.fill("I fixed the typo")
    composer.press("Enter")
    chat.wait_message(lambda m: m.id == sent.id and m.text == "I fixed the typo",
                      "the edit shown at once while offline")
    change_author_behind_the_daemon(relay, sent.id)

    relay.start(relay.port)
    chat.wait_message(lambda m: m.id == sent.id and m.text == "I wrote a typo",
                      "the refused edit rolled back", timeout=60)
    assert bob.wait_for(lambda: NOT_YOURS in banner(chat), "the reason in the chat panel")
    note = bob.wait_notification(re.escape(NOT_YOURS))
    assert sent.id not in note.message and "chat_edit" not in note.message
    assert not [m for m in chat.messages() if "fixed" in m.text]
