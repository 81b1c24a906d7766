"""Text editors: opening files, moving the cursor, reading lines and decorations."""

from __future__ import annotations

import re
from dataclasses import dataclass

from tests.e2e.vscode_core import (
    DEFAULT_TIMEOUT,
    QUICK_INPUT_BOX,
    QUICK_ROWS_JS,
    VSCodeError,
    WorkbenchBase,
)


@dataclass(frozen=True)
class NameTag:
    """A decoration's `after.contentText` (drawn through a CSS ::after), with its line."""

    line: int  # one-based, as shown in the gutter
    text: str
    class_name: str


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


class EditorMixin(WorkbenchBase):
    """Editors of a workbench."""

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

        def open_box() -> None:
            self._open_quick_input("Control+P")
            self.page.fill(QUICK_INPUT_BOX, rel_path)

        def row() -> int | None:
            for label, aria, index in self.page.evaluate(QUICK_ROWS_JS):
                if label == name and (not folder or folder in aria):
                    return int(index)
            return None

        open_box()
        self.click_quick_row(row, f"quick open row {rel_path}", timeout, reopen=open_box)
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
