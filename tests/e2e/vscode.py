"""Page objects for VS Code's workbench (1.139, code-server) driven through Playwright.

Everything reads the real DOM; every wait is a condition wait with a deadline. Selectors follow
docs/testing.md ("Selectors").
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

T = TypeVar("T")

DEFAULT_TIMEOUT = 30.0

QUICK_INPUT = ".quick-input-widget"
QUICK_INPUT_BOX = ".quick-input-widget .quick-input-box input"
QUICK_ROWS = ".quick-input-widget .quick-input-list .monaco-list-row"


class VSCodeError(Exception):
    """A workbench did not reach the expected state in time."""


@dataclass(frozen=True)
class NameTag:
    """A decoration's `after.contentText` (drawn through a CSS ::after), with its line."""

    line: int  # one-based, as shown in the gutter
    text: str
    class_name: str


@dataclass(frozen=True)
class TreeRow:
    label: str
    description: str
    aria_label: str
    level: int


@dataclass(frozen=True)
class StatusItem:
    id: str
    text: str
    aria_label: str


@dataclass(frozen=True)
class Notification:
    message: str
    source: str
    buttons: tuple[str, ...]


# One evaluate() per read, so a read sees one consistent frame of the DOM.
_VISIBLE_LINES_JS = """(uriSuffix) => {
  const ed = [...document.querySelectorAll('.editor-instance .monaco-editor[data-uri]')]
    .find(e => !uriSuffix || e.getAttribute('data-uri').endsWith(uriSuffix));
  if (!ed) return null;
  const nums = [...ed.querySelectorAll('.margin-view-overlays > div')]
    .map(d => [parseFloat(d.style.top), d.querySelector('.line-numbers')])
    .filter(([, n]) => n).map(([top, n]) => [top, parseInt(n.textContent, 10)]);
  const byTop = new Map(nums);
  return [...ed.querySelectorAll('.view-lines .view-line')]
    .map(l => [parseFloat(l.style.top), l.textContent.replace(/\\u00a0/g, ' ')])
    .sort((a, b) => a[0] - b[0])
    .map(([top, text]) => [byTop.has(top) ? byTop.get(top) : null, text]);
}"""

_NAME_TAGS_JS = """(uriSuffix) => {
  const editors = [...document.querySelectorAll('.editor-instance .monaco-editor[data-uri]')]
    .filter(e => !uriSuffix || e.getAttribute('data-uri').endsWith(uriSuffix));
  const out = [];
  for (const ed of editors) {
    const nums = [...ed.querySelectorAll('.margin-view-overlays > div')]
      .map(d => [parseFloat(d.style.top), d.querySelector('.line-numbers')])
      .filter(([, n]) => n).map(([top, n]) => [top, parseInt(n.textContent, 10)]);
    const byTop = new Map(nums);
    for (const line of ed.querySelectorAll('.view-lines .view-line')) {
      const top = parseFloat(line.style.top);
      for (const span of line.querySelectorAll('span[class*="ced-"]')) {
        let content = getComputedStyle(span, '::after').content;
        if (!content || content === 'none' || content === 'normal') continue;
        try { content = JSON.parse(content); }
        catch (e) { content = content.replace(/^"|"$/g, ''); }
        content = content.replace(/\\u00a0/g, ' ');
        if (!content.trim()) continue;
        const cls = [...span.classList].find(c => c.startsWith('ced-')) || '';
        out.push([byTop.has(top) ? byTop.get(top) : -1, content, cls]);
      }
    }
  }
  return out;
}"""

_TREE_ROWS_JS = """(viewTitle) => {
  const panes = [...document.querySelectorAll('.pane')].filter(p => {
    const t = p.querySelector('.pane-header h3.title');
    return t && t.textContent.trim().toLowerCase() === viewTitle.toLowerCase();
  });
  if (!panes.length) return null;
  return [...panes[0].querySelectorAll('.monaco-list-row[role=treeitem]')].map(r => [
    (r.querySelector('.label-name') || r).textContent.trim(),
    (r.querySelector('.label-description') || {textContent: ''}).textContent.trim(),
    r.getAttribute('aria-label') || '',
    parseInt(r.getAttribute('aria-level') || '1', 10),
  ]);
}"""

_STATUS_JS = """() => [...document.querySelectorAll('.part.statusbar .statusbar-item')]
  .map(e => [e.id || '', e.innerText.replace(/\\s+/g, ' ').trim(),
             e.getAttribute('aria-label') || ''])"""

_NOTIFICATIONS_JS = """() => {
  const sel = '.notifications-toasts.visible .notification-list-item, ' +
              '.notifications-center.visible .notification-list-item';
  return [...document.querySelectorAll(sel)].map(n => [
    (n.querySelector('.notification-list-item-message') || n).textContent.trim(),
    (n.querySelector('.notification-list-item-source') || {textContent: ''}).textContent.trim(),
    [...n.querySelectorAll('.notification-list-item-buttons-container .monaco-button')]
      .map(b => b.textContent.trim()),
  ]);
}"""

_QUICK_ROWS_JS = """() => [...document.querySelectorAll(
    '.quick-input-widget .quick-input-list .monaco-list-row')]
  .map(r => [(r.querySelector('.label-name') || r).textContent.replace(/\\u00a0/g, ' ').trim(),
             r.getAttribute('aria-label') || '', r.getAttribute('data-index')])"""


class Workbench:
    """One browser window on one code-server: a user's VS Code."""

    def __init__(self, page: Any, name: str = "") -> None:
        self.page = page
        self.name = name

    # ---- waiting -------------------------------------------------------------------------
    def wait_for(
        self,
        read: Callable[[], T | None],
        what: str,
        timeout: float = DEFAULT_TIMEOUT,
        every: float = 0.05,
    ) -> T:
        """Poll `read` until it returns something truthy; that value is returned."""
        deadline = time.monotonic() + timeout
        last: Any = None
        while True:
            last = read()
            if last:
                return last
            if time.monotonic() > deadline:
                raise VSCodeError(f"{self.name}: timed out after {timeout:.0f}s waiting for {what}")
            self.page.wait_for_timeout(every * 1000)

    def wait_ready(self, timeout: float = 90.0) -> None:
        """The workbench is drawn and its status bar (hence the remote connection) is up."""
        self.page.wait_for_selector(".monaco-workbench", timeout=timeout * 1000)
        self.page.wait_for_selector(
            ".part.statusbar .statusbar-item#status\\.problems", timeout=timeout * 1000
        )

    # ---- commands and quick input --------------------------------------------------------
    def quick_rows(self) -> list[tuple[str, str]]:
        return [(label, aria) for label, aria, _ in self.page.evaluate(_QUICK_ROWS_JS)]

    def _open_quick_input(self, key: str) -> None:
        self.page.keyboard.press("Escape")
        self.page.keyboard.press(key)
        self.page.wait_for_selector(QUICK_INPUT_BOX, state="visible", timeout=10_000)

    def pick(
        self,
        label: str | re.Pattern[str],
        timeout: float = DEFAULT_TIMEOUT,
        before_click: Callable[[], None] | None = None,
    ) -> None:
        """Click the quick-pick row whose label is exactly `label` (or matches the pattern)."""

        def matches(text: str) -> bool:
            if isinstance(label, re.Pattern):
                return bool(label.fullmatch(text))
            return text == label

        def find() -> int | None:
            for text, _aria, index in self.page.evaluate(_QUICK_ROWS_JS):
                if matches(text):
                    return int(index)
            return None

        index = self.wait_for(
            lambda: (i,) if (i := find()) is not None else None,
            f"quick pick row {label!r}",
            timeout,
        )[0]
        row = self.page.locator(f'{QUICK_ROWS}[data-index="{index}"]')
        if before_click is not None:
            before_click()
        row.click()

    def run_command(
        self,
        title: str,
        timeout: float = DEFAULT_TIMEOUT,
        before_click: Callable[[], None] | None = None,
    ) -> None:
        """F1, type the title, click the row whose label is exactly the title."""
        self._open_quick_input("F1")
        self.page.fill(QUICK_INPUT_BOX, ">" + title)
        try:
            self.pick(title, timeout, before_click)
        except VSCodeError as exc:
            rows = self.quick_rows()
            self.page.keyboard.press("Escape")
            raise VSCodeError(f"{self.name}: no command {title!r}; palette shows {rows}") from exc
        # The palette closes before the command runs; a later prompt reuses the same widget.
        self.wait_for(
            lambda: (
                not self.quick_input_visible()
                or not self.page.input_value(QUICK_INPUT_BOX).startswith(">")
            ),
            f"the command palette to close after {title!r}",
            timeout=10,
        )

    def quick_input_visible(self) -> bool:
        return bool(self.page.is_visible(QUICK_INPUT_BOX))

    def quick_input_prompt(self) -> str | None:
        """Title, placeholder, aria-label and message of the open input box; None when closed."""
        prompt = self.page.evaluate(
            """() => {
            const w = document.querySelector('.quick-input-widget');
            if (!w || w.style.display === 'none' || !w.offsetParent) return null;
            const i = w.querySelector('.quick-input-box input');
            if (!i || !i.offsetParent) return null;
            const m = w.querySelector('.quick-input-message');
            const t = w.querySelector('.quick-input-title');
            return [t && t.textContent, i.placeholder, i.getAttribute('aria-label'),
                    m && m.textContent].filter(Boolean).join(' | ');
        }"""
        )
        return None if prompt is None else str(prompt)

    def wait_quick_input(self, timeout: float = DEFAULT_TIMEOUT) -> str:
        """Wait for an input box / quick pick to show; return its prompt text."""
        return self.wait_for(
            lambda: (p,) if (p := self.quick_input_prompt()) is not None else None,
            "an input box",
            timeout,
        )[0]

    def answer_input(self, text: str, timeout: float = DEFAULT_TIMEOUT) -> None:
        """Type into the open input box and accept it."""
        self.wait_quick_input(timeout)
        self.page.fill(QUICK_INPUT_BOX, text)
        self.page.keyboard.press("Enter")

    def wait_input_closed(self, timeout: float = DEFAULT_TIMEOUT) -> None:
        self.page.wait_for_selector(QUICK_INPUT_BOX, state="hidden", timeout=timeout * 1000)

    # ---- editors -------------------------------------------------------------------------
    def active_editor_uri(self) -> str | None:
        uri = self.page.evaluate(
            """() => {
              const g = document.querySelector('.editor-group-container.active') || document;
              const e = g.querySelector('.editor-instance .monaco-editor[data-uri]');
              return e ? e.getAttribute('data-uri') : null;
            }"""
        )
        return str(uri) if uri else None

    def wait_active_editor(self, path_suffix: str, timeout: float = DEFAULT_TIMEOUT) -> str:
        return self.wait_for(
            lambda: (u := self.active_editor_uri()) and u.endswith(path_suffix) and u,
            f"active editor on {path_suffix} (now {self.active_editor_uri()})",
            timeout,
        )

    def open_file(self, rel_path: str, timeout: float = DEFAULT_TIMEOUT) -> None:
        """Ctrl+P, type the path, click the row for that file; wait until its editor is active."""
        name = rel_path.rsplit("/", 1)[-1]
        folder = rel_path.rsplit("/", 1)[0] if "/" in rel_path else ""
        self._open_quick_input("Control+P")
        self.page.fill(QUICK_INPUT_BOX, rel_path)

        def row() -> int | None:
            for label, aria, index in self.page.evaluate(_QUICK_ROWS_JS):
                if label == name and (not folder or folder in aria):
                    return int(index)
            return None

        index = self.wait_for(
            lambda: (i,) if (i := row()) is not None else None,
            f"quick open row {rel_path}",
            timeout,
        )[0]
        self.page.locator(f'{QUICK_ROWS}[data-index="{index}"]').click()
        self.wait_active_editor("/" + rel_path, timeout)
        self.page.wait_for_selector(
            ".editor-group-container.active .monaco-editor .view-lines .view-line",
            timeout=timeout * 1000,
        )

    def cursor_position(self) -> tuple[int, int] | None:
        """(line, column) from the status bar's "Ln x, Col y" item, one-based."""
        text = self.page.evaluate(
            """() => { const e = document.querySelector('#status\\\\.editor\\\\.selection');
                      return e ? e.innerText : null; }"""
        )
        m = re.search(r"Ln (\d+), Col (\d+)", text or "")
        return (int(m.group(1)), int(m.group(2))) if m else None

    def go_to_line(
        self, line: int, column: int | None = None, timeout: float = DEFAULT_TIMEOUT
    ) -> None:
        """Ctrl+G to `line` (one-based); waits until the status bar shows the new position."""

        def there() -> bool:
            pos = self.cursor_position()
            return bool(pos and pos[0] == line and (column is None or pos[1] == column))

        target = f"{line}:{column}" if column else str(line)
        for attempt in range(2):
            if self.quick_input_visible():
                self.page.keyboard.press("Escape")
                self.page.wait_for_selector(QUICK_INPUT_BOX, state="hidden", timeout=10_000)
            self.focus_editor()
            self.page.keyboard.press("Control+G")
            self.page.wait_for_selector(QUICK_INPUT_BOX, state="visible", timeout=10_000)
            self.page.fill(QUICK_INPUT_BOX, ":" + target)
            self.page.keyboard.press("Enter")
            try:
                self.wait_for(there, f"cursor on line {line}", timeout if attempt else 10)
                return
            except VSCodeError:
                if attempt:
                    raise VSCodeError(
                        f"{self.name}: cursor not on line {line} (now {self.cursor_position()})"
                    ) from None

    def focus_editor(self) -> None:
        """Give the active text editor keyboard focus (no pointer: overlays cannot intercept)."""
        self.wait_for(
            lambda: self.page.evaluate(
                """() => { const t = document.querySelector(
                    '.editor-group-container.active .monaco-editor .native-edit-context, '
                    + '.editor-group-container.active .monaco-editor textarea.inputarea');
                  if (!t) return false;
                  t.focus();
                  return document.activeElement === t; }"""
            ),
            "keyboard focus in the active editor",
            timeout=10,
        )

    def visible_lines(self, path_suffix: str | None = None) -> list[tuple[int | None, str]]:
        """The rendered lines of an editor: (line number, text), top to bottom."""
        rows = self.page.evaluate(_VISIBLE_LINES_JS, path_suffix)
        return [(n, t) for n, t in rows or []]

    def name_tags(self, path_suffix: str | None = None) -> list[NameTag]:
        """Decorations with ::after content (peer name tags) in editors on `path_suffix`."""
        return [NameTag(n, t, c) for n, t, c in self.page.evaluate(_NAME_TAGS_JS, path_suffix)]

    def wait_name_tag(
        self,
        text: str,
        line: int | None = None,
        path_suffix: str | None = None,
        timeout: float = DEFAULT_TIMEOUT,
    ) -> NameTag:
        def found() -> NameTag | None:
            for tag in self.name_tags(path_suffix):
                if text in tag.text and (line is None or tag.line == line):
                    return tag
            return None

        return self.wait_for(
            found,
            f"name tag {text!r} on line {line} (tags: {self.name_tags(path_suffix)})",
            timeout,
            every=0.01,
        )

    # ---- views ---------------------------------------------------------------------------
    def tree_rows(self, view_title: str) -> list[TreeRow] | None:
        """Rows of the tree view whose pane header is `view_title`; None if the view is absent."""
        rows = self.page.evaluate(_TREE_ROWS_JS, view_title)
        if rows is None:
            return None
        return [TreeRow(*r) for r in rows]

    def wait_tree_row(
        self,
        view_title: str,
        predicate: Callable[[TreeRow], bool],
        what: str,
        timeout: float = DEFAULT_TIMEOUT,
    ) -> TreeRow:
        def found() -> TreeRow | None:
            return next((r for r in self.tree_rows(view_title) or [] if predicate(r)), None)

        return self.wait_for(
            found, f"{what} in view {view_title!r} (rows: {self.tree_rows(view_title)})", timeout
        )

    def status_items(self) -> list[StatusItem]:
        return [StatusItem(*i) for i in self.page.evaluate(_STATUS_JS)]

    def status_item(self, id_prefix: str) -> StatusItem | None:
        return next((i for i in self.status_items() if i.id.startswith(id_prefix)), None)

    # ---- notifications -------------------------------------------------------------------
    def notifications(self) -> list[Notification]:
        """Visible toasts and, when open, the notification center."""
        return [Notification(m, s, tuple(b)) for m, s, b in self.page.evaluate(_NOTIFICATIONS_JS)]

    def show_notification_center(self) -> None:
        if not self.page.is_visible(".notifications-center.visible"):
            self.run_command("Notifications: Show Notifications")
            self.page.wait_for_selector(".notifications-center.visible", timeout=10_000)

    def wait_notification(
        self,
        pattern: str | re.Pattern[str],
        timeout: float = DEFAULT_TIMEOUT,
    ) -> Notification:
        rx = re.compile(pattern) if isinstance(pattern, str) else pattern

        def found() -> Notification | None:
            return next((n for n in self.notifications() if rx.search(n.message)), None)

        return self.wait_for(
            found,
            f"notification /{rx.pattern}/ (shown: {[n.message for n in self.notifications()]})",
            timeout,
        )

    def click_notification_button(self, message_pattern: str, button: str) -> None:
        rx = re.compile(message_pattern)
        self.wait_notification(rx)
        items = self.page.locator(
            ".notifications-toasts.visible .notification-list-item, "
            ".notifications-center.visible .notification-list-item"
        )
        for i in range(items.count()):
            item = items.nth(i)
            if rx.search(item.locator(".notification-list-item-message").inner_text()):
                item.locator(".monaco-button", has_text=button).first.click()
                return
        raise VSCodeError(f"{self.name}: no notification /{message_pattern}/ with {button!r}")

    def clear_notifications(self) -> None:
        self.run_command("Notifications: Clear All Notifications")

    # ---- webviews ------------------------------------------------------------------------
    def webview(self, title: str | None = None) -> Any:
        """The content frame of the (active, or titled) webview, as a Playwright FrameLocator."""
        outer = "iframe.webview.ready"
        if title:
            outer = f'iframe.webview.ready[title="{title}"]'
        return self.page.frame_locator(outer).frame_locator("iframe#active-frame")

    # ---- misc ----------------------------------------------------------------------------
    def screenshot(self, path: str) -> None:
        self.page.screenshot(path=path)


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

    def __init__(self, wb: Workbench) -> None:
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

    def add_via_gutter(self, line: int, text: str, button: str = "Add Comment") -> None:
        """Hover the gutter of `line`, click its "+", type the comment, press the button."""
        row = self._margin_row(line)
        box = self.wb.wait_for(row.bounding_box, f"the gutter of line {line}")
        self.page.mouse.move(box["x"] + box["width"] - 8, box["y"] + box["height"] / 2)
        glyph = self.page.locator(".editor-group-container.active .comment-range-glyph.line-hover")
        glyph.first.click()
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

    def expand_at(self, line: int) -> None:
        """Click the thread glyph in the gutter of `line` to show a collapsed thread."""
        glyph = self._margin_row(line).locator(
            ".comment-range-glyph.comment-thread, .comment-range-glyph.comment-thread-unresolved,"
            " .comment-range-glyph.comment-thread-resolved"
        )
        glyph.first.click()

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

    def __init__(self, wb: Workbench) -> None:
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
