"""The Ensemble chat panel, inside its webview frames."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from tests.e2e.vscode_core import DEFAULT_TIMEOUT
from tests.e2e.vscode_views import ViewsMixin

# ---- chat panel (webview) ----------------------------------------------------------------

_CHAT_MESSAGES_JS = """(root) => [...root.querySelectorAll('.msg')].map(m => ({
  id: m.dataset.id || '',
  author: (m.querySelector(':scope > .msg-head > .author') || {textContent: ''})
    .textContent.trim(),
  text: (m.querySelector(':scope > .msg-body') || {textContent: ''}).textContent.trim(),
  html: (m.querySelector(':scope > .msg-body') || {innerHTML: ''}).innerHTML,
  parent: m.dataset.parent || null,
  pending: m.classList.contains('pending'),
  mentions: [...m.querySelectorAll(':scope > .msg-body .mention')].map(s => s.textContent.trim()),
  elements: [...m.querySelectorAll(':scope > .msg-body *')].map(e => e.tagName.toLowerCase()),
}))"""


@dataclass(frozen=True)
class ChatMessage:
    id: str
    author: str
    text: str
    html: str
    parent: str | None
    pending: bool
    mentions: tuple[str, ...]
    elements: tuple[str, ...]  # tag names inside the rendered body


class Chat:
    """The Ensemble chat panel, read and driven inside its webview frames."""

    def __init__(self, wb: ViewsMixin) -> None:
        self.wb = wb
        self.page = wb.page

    @property
    def frame(self) -> Any:
        return self.wb.webview()

    def open(self) -> None:
        self.wb.run_command("Ensemble: Open Chat")
        self.wb.wait_for(
            lambda: self.page.locator("iframe.webview.ready").count() > 0,
            "the chat webview",
        )
        self.frame.locator("#composer").wait_for(timeout=DEFAULT_TIMEOUT * 1000)

    def messages(self) -> list[ChatMessage]:
        try:
            raw = self.frame.locator("#messages").evaluate(_CHAT_MESSAGES_JS, timeout=5000)
        except Exception:  # the frame is being (re)loaded
            return []
        return [
            ChatMessage(
                m["id"],
                m["author"],
                m["text"],
                m["html"],
                m["parent"],
                m["pending"],
                tuple(m["mentions"]),
                tuple(m["elements"]),
            )
            for m in raw
        ]

    def wait_message(
        self, predicate: Callable[[ChatMessage], bool], what: str, timeout: float = DEFAULT_TIMEOUT
    ) -> ChatMessage:
        return self.wb.wait_for(
            lambda: next((m for m in self.messages() if predicate(m)), None),
            f"{what} (messages: {[(m.author, m.text) for m in self.messages()]})",
            timeout,
        )

    def send(self, text: str) -> None:
        composer = self.frame.locator("#composer")
        composer.click()
        composer.fill(text)
        composer.press("Enter")
        self.wb.wait_for(lambda: composer.input_value() == "", "the composer to clear")

    def reply_to(self, message_id: str, text: str) -> None:
        msg = self.frame.locator(f'.msg[data-id="{message_id}"]')
        msg.hover()
        msg.locator(":scope > .msg-actions > button.reply").click()
        self.send(text)

    def frame_eval(self, js: str) -> Any:
        return self.frame.locator("body").evaluate(js)
