"""Tree views, the status bar, notifications and webview frames."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from tests.e2e.vscode_core import DEFAULT_TIMEOUT, VSCodeError, WorkbenchBase


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


class ViewsMixin(WorkbenchBase):
    """Views, status bar, notifications and webviews of a workbench."""

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

    def click_dialog_button(self, message_pattern: str, button: str,
                            timeout: float = DEFAULT_TIMEOUT) -> None:
        """Answer a modal dialog (showWarningMessage with modal: true) by its button."""
        rx = re.compile(message_pattern)
        box = self.page.locator(".monaco-dialog-box")

        def shown() -> bool:
            return box.count() > 0 and box.first.is_visible() and bool(
                rx.search(box.first.inner_text()))

        self.wait_for(shown, f"a dialog /{rx.pattern}/", timeout)
        box.first.locator(".monaco-button", has_text=re.compile(rf"^{re.escape(button)}$")
                          ).first.click()
        self.wait_for(lambda: box.count() == 0 or not box.first.is_visible(),
                      f"the dialog /{rx.pattern}/ to close", timeout)

    def clear_notifications(self) -> None:
        self.run_command("Notifications: Clear All Notifications")

    # ---- webviews ------------------------------------------------------------------------
    def webview(self, title: str | None = None) -> Any:
        """The content frame of the (active, or titled) webview, as a Playwright FrameLocator."""
        outer = "iframe.webview.ready"
        if title:
            outer = f'iframe.webview.ready[title="{title}"]'
        return self.page.frame_locator(outer).frame_locator("iframe#active-frame")
