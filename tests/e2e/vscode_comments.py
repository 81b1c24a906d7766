"""Comment threads (Comments API) in the active editor."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from tests.e2e.vscode_core import DEFAULT_TIMEOUT, WorkbenchBase

# ---- comment threads (Comments API) ------------------------------------------------------

_THREADS_JS = """() => {
  const g = document.querySelector('.editor-group-container.active') || document;
  return [...g.querySelectorAll('.zone-widget .review-widget')].map(w => {
    const c = w.querySelector('.comments-container');
    const label = c ? c.getAttribute('aria-label') || '' : '';
    const m = label.match(/with (\\d+) comments? on lines? (\\d+)(?: through (\\d+))?/);
    return {
      label,
      title: (w.querySelector('.review-title') || {textContent: ''}).textContent.trim(),
      count: m ? parseInt(m[1], 10) : null,
      start: m ? parseInt(m[2], 10) : null,
      end: m ? parseInt(m[3] || m[2], 10) : null,
      comments: [...w.querySelectorAll('.review-comment')].map(r => ({
        author: (r.querySelector('.author') || {textContent: ''}).textContent.trim(),
        body: (r.querySelector('.comment-body .rendered-markdown') ||
               r.querySelector('.comment-body') || {textContent: ''}).textContent.trim(),
        html: (r.querySelector('.comment-body .rendered-markdown') || {innerHTML: ''}).innerHTML,
        reactions: [...r.querySelectorAll('.comment-reactions .action-item .action-label')]
          .filter(a => !a.classList.contains('toolbar-toggle-pickReactions'))
          .map(a => ((a.textContent || '') + ' ' + (a.getAttribute('aria-label') || '')).trim())
          .filter(Boolean),
      })),
    };
  });
}"""


# Lines (one-based) whose gutter shows a comment thread's glyph, in the active editor.
_GLYPH_LINES_JS = """() => {
  const g = document.querySelector('.editor-group-container.active') || document;
  const lines = [];
  for (const row of g.querySelectorAll('.monaco-editor .margin-view-overlays > div')) {
    const n = row.querySelector('.line-numbers');
    const glyph = [...row.querySelectorAll('.comment-range-glyph')]
      .some(e => [...e.classList].some(c => c.startsWith('comment-thread')));
    if (n && glyph) lines.push(parseInt(n.textContent, 10));
  }
  return lines.sort((a, b) => a - b);
}"""


@dataclass(frozen=True)
class CommentView:
    author: str
    body: str
    html: str
    reactions: tuple[str, ...]


@dataclass(frozen=True)
class ThreadView:
    """A comment thread widget as drawn in the active editor (lines are one-based)."""

    label: str
    title: str
    count: int | None
    start: int | None
    end: int | None
    comments: tuple[CommentView, ...]


class Comments:
    """Comment threads in the active editor: gutter "+", thread widgets, replies, reactions."""

    def __init__(self, wb: WorkbenchBase) -> None:
        self.wb = wb
        self.page = wb.page

    def threads(self) -> list[ThreadView]:
        out = []
        for t in self.page.evaluate(_THREADS_JS):
            comments = tuple(
                CommentView(c["author"], c["body"], c["html"], tuple(c["reactions"]))
                for c in t["comments"]
            )
            out.append(
                ThreadView(t["label"], t["title"], t["count"], t["start"], t["end"], comments)
            )
        return out

    def wait_thread_gone(
        self, predicate: Callable[[ThreadView], bool], what: str, timeout: float = DEFAULT_TIMEOUT
    ) -> None:
        self.wb.wait_for(
            lambda: not any(predicate(t) for t in self.threads()),
            f"{what} (threads: {self.threads()})",
            timeout,
        )

    def glyph_lines(self) -> list[int]:
        """Lines (one-based, visible ones) whose gutter shows a comment thread's glyph."""
        return list(self.page.evaluate(_GLYPH_LINES_JS))

    def wait_thread(
        self, predicate: Callable[[ThreadView], bool], what: str, timeout: float = DEFAULT_TIMEOUT
    ) -> ThreadView:
        return self.wb.wait_for(
            lambda: next((t for t in self.threads() if predicate(t)), None),
            f"{what} (threads: {self.threads()})",
            timeout,
        )

    def _margin_row(self, line: int) -> Any:
        return (
            self.page.locator(".editor-group-container.active .margin-view-overlays > div")
            .filter(has=self.page.locator(".line-numbers", has_text=re.compile(rf"^{line}$")))
            .first
        )

    def hover_plus(self, line: int) -> Any:
        """Hover the gutter of `line` until its "+" shows; the "+" locator is returned.

        VS Code draws the "+" on a mouse move over a commenting range, and the ranges come from
        the extension a moment after the file opens: a hover that came first shows nothing, so
        the mouse leaves the gutter and comes back until the "+" is there."""
        row = self._margin_row(line)
        glyph = self.page.locator(".editor-group-container.active .comment-range-glyph.line-hover")

        def shown() -> bool:
            box = row.bounding_box()
            if not box:
                return False
            self.page.mouse.move(box["x"] + box["width"] + 60, box["y"] + box["height"] / 2)
            self.page.mouse.move(box["x"] + box["width"] - 8, box["y"] + box["height"] / 2)
            return glyph.count() > 0

        self.wb.wait_for(shown, f"the comment '+' in the gutter of line {line}", every=0.2)
        return glyph

    def add_via_gutter(self, line: int, text: str, button: str = "Add Comment") -> None:
        """Hover the gutter of `line`, click its "+", type the comment, press the button."""
        self.hover_plus(line).first.click()
        self.page.wait_for_selector(
            ".review-widget .comment-form .monaco-editor.focused", timeout=DEFAULT_TIMEOUT * 1000
        )
        self.page.keyboard.type(text)
        self._click_form_button(button)

    def _widget(self, line: int) -> Any:
        return self.page.locator(
            ".editor-group-container.active .zone-widget .review-widget",
            has=self.page.locator(
                f'.comments-container[aria-label*="on lines {line} "], '
                f'.comments-container[aria-label*="on line {line} "], '
                f'.comments-container[aria-label*="on lines {line}."], '
                f'.comments-container[aria-label*="on line {line}."]'
            ),
        ).first

    def _click_form_button(self, label: str, widget: Any = None) -> None:
        scope = widget if widget is not None else self.page.locator(".review-widget")
        scope.locator(".monaco-button", has_text=re.compile(rf"^{re.escape(label)}$")).first.click()

    def _glyph(self, line: int) -> Any:
        return self._margin_row(line).locator(
            ".comment-range-glyph.comment-thread, .comment-range-glyph.comment-thread-unresolved,"
            " .comment-range-glyph.comment-thread-resolved"
        )

    def has_glyph(self, line: int) -> bool:
        """A thread (collapsed or not) sits on `line`."""
        return self._glyph(line).count() > 0

    def expand_at(self, line: int) -> None:
        """Click the thread glyph in the gutter of `line` to show a collapsed thread."""
        self._glyph(line).first.click()

    def thread_actions(self, line: int) -> list[str]:
        """Titles of the actions in the title bar of the thread widget on `line`."""
        head = self._widget(line).locator(".head")
        head.hover()
        labels = head.locator(".action-label").evaluate_all(
            "els => els.map(e => e.getAttribute('aria-label') || '')")
        return [str(x) for x in labels]

    def click_thread_action(self, line: int, title: str) -> None:
        head = self._widget(line).locator(".head")
        head.hover()
        head.locator(f'.action-label[aria-label^="{title}"]').first.click()

    def reply(self, line: int, text: str, button: str = "Reply") -> None:
        widget = self._widget(line)
        reply_button = widget.locator(".review-thread-reply-button")
        if reply_button.count() and reply_button.first.is_visible():
            reply_button.first.click()
        else:
            widget.locator(".comment-form .monaco-editor").first.click()
        self.page.wait_for_selector(
            ".review-widget .comment-form .monaco-editor.focused", timeout=DEFAULT_TIMEOUT * 1000
        )
        self.page.keyboard.type(text)
        self._click_form_button(button, widget)

    def react(self, line: int, comment_index: int, emoji: str) -> None:
        """Pick `emoji` from the comment's reaction menu (the smiley in its title bar)."""
        comment = self._widget(line).locator(".review-comment").nth(comment_index)
        comment.hover()
        comment.locator(".toolbar-toggle-pickReactions").first.click()
        self.page.locator(
            f'.context-view .monaco-menu .action-menu-item .action-label[aria-label="{emoji}"]'
        ).first.click()
