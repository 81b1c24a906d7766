"""Page objects for VS Code's workbench (1.139, code-server) driven through Playwright.

Everything reads the real DOM; every wait is a condition wait with a deadline. Selectors follow
docs/testing.md ("Selectors"). The parts live by concern in vscode_core (waits, palette, quick
input), vscode_editor, vscode_views (views, status bar, notifications, webviews),
vscode_comments and vscode_chat; this module puts the workbench together and re-exports them.
"""

from __future__ import annotations

from tests.e2e.vscode_chat import Chat, ChatMessage
from tests.e2e.vscode_comments import Comments, CommentView, ThreadView
from tests.e2e.vscode_core import (
    DEFAULT_TIMEOUT,
    QUICK_INPUT,
    QUICK_INPUT_BOX,
    QUICK_ROWS,
    VSCodeError,
)
from tests.e2e.vscode_editor import EditorMixin, NameTag
from tests.e2e.vscode_views import Notification, StatusItem, TreeRow, ViewsMixin

__all__ = [
    "DEFAULT_TIMEOUT",
    "QUICK_INPUT",
    "QUICK_INPUT_BOX",
    "QUICK_ROWS",
    "Chat",
    "ChatMessage",
    "CommentView",
    "Comments",
    "NameTag",
    "Notification",
    "StatusItem",
    "ThreadView",
    "TreeRow",
    "VSCodeError",
    "Workbench",
]


class Workbench(EditorMixin, ViewsMixin):
    """One browser window on one code-server: a user's VS Code."""
