"""The workbench basics: condition waits, the command palette and quick input.

Everything reads the real DOM; every wait is a condition wait with a deadline. Selectors follow
docs/testing.md ("Selectors").
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")

DEFAULT_TIMEOUT = 30.0

QUICK_INPUT = ".quick-input-widget"
QUICK_INPUT_BOX = ".quick-input-widget .quick-input-box input"
QUICK_ROWS = ".quick-input-widget .quick-input-list .monaco-list-row"


class VSCodeError(Exception):
    """A workbench did not reach the expected state in time."""


# One evaluate() per read, so a read sees one consistent frame of the DOM.
QUICK_ROWS_JS = """() => [...document.querySelectorAll(
    '.quick-input-widget .quick-input-list .monaco-list-row')]
  .map(r => [(r.querySelector('.label-name') || r).textContent.replace(/\\u00a0/g, ' ').trim(),
             r.getAttribute('aria-label') || '', r.getAttribute('data-index')])"""


class WorkbenchBase:
    """One browser window on one code-server: waits, commands, input boxes and quick picks."""

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

    def hold(self, check: Callable[[], object], what: str, seconds: float,
             every: float = 0.1) -> None:
        """Wait out a window: `check` must stay truthy for `seconds` (for "nothing appears"
        checks, where reading once right away would prove nothing)."""
        deadline = time.monotonic() + seconds
        while True:
            if not check():
                raise VSCodeError(f"{self.name}: {what} no longer held")
            if time.monotonic() > deadline:
                return
            self.page.wait_for_timeout(every * 1000)

    def wait_ready(self, timeout: float = 90.0) -> None:
        """The workbench is drawn and its status bar (hence the remote connection) is up."""
        self.page.wait_for_selector(".monaco-workbench", timeout=timeout * 1000)
        self.page.wait_for_selector(
            ".part.statusbar .statusbar-item#status\\.problems", timeout=timeout * 1000
        )

    # ---- commands and quick input --------------------------------------------------------
    def quick_rows(self) -> list[tuple[str, str]]:
        return [(label, aria) for label, aria, _ in self.page.evaluate(QUICK_ROWS_JS)]

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
            for text, _aria, index in self.page.evaluate(QUICK_ROWS_JS):
                if matches(text):
                    return int(index)
            return None

        self.click_quick_row(find, f"quick pick row {label!r}", timeout, before_click)

    def click_quick_row(
        self,
        find: Callable[[], int | None],
        what: str,
        timeout: float = DEFAULT_TIMEOUT,
        before_click: Callable[[], None] | None = None,
        reopen: Callable[[], None] | None = None,
    ) -> None:
        """Click the quick-input row whose index `find` reads from the DOM.

        The list redraws while results arrive (quick open's recent files give way to search
        results), so a row found a moment ago can be gone when the click lands: the click then
        fails fast and the row is looked up again. `reopen` brings the widget back if something
        closed it meanwhile.
        """
        deadline = time.monotonic() + timeout
        while True:
            left = max(0.5, deadline - time.monotonic())
            index = self.wait_for(
                lambda: (i,) if (i := find()) is not None else None, what, left
            )[0]
            if before_click is not None:
                before_click()
            try:
                self.page.locator(f'{QUICK_ROWS}[data-index="{index}"]').click(timeout=2_000)
                return
            except Exception as exc:  # Playwright's TimeoutError: the row went away
                if "Timeout" not in type(exc).__name__ or time.monotonic() > deadline:
                    raise
            if reopen is not None and not self.quick_input_visible():
                reopen()

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

    # ---- misc ----------------------------------------------------------------------------
    def screenshot(self, path: str) -> None:
        self.page.screenshot(path=path)
