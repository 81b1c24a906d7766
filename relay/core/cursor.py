"""A cursor update as plain fields, as the relay's cursor fast path hands it to the core."""

from __future__ import annotations

from typing import Any

# session_id, path, selections (fresh plain dicts), sent_at, content_hash, rid
CursorFields = tuple[str, str, list[dict[str, Any]], float | None, str | None, str | None]
