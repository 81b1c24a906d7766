"""Bounds of what a client may send, applied when a client frame is decoded."""

from __future__ import annotations

import re
from dataclasses import field
from functools import lru_cache
from typing import Any

from wire.schema import MAX_STRING, Check

MAX_ID_CHARS = MAX_STRING  # every string field without a bound of its own: ids, rid, emoji, ...
MAX_POSITION = 2**31 - 1  # line and character numbers: 0 <= n <= MAX_POSITION
MAX_PATH_BYTES = 1024  # UTF-8 bytes of a path
MAX_PATH_SEGMENTS = 128  # '/'-separated parts of a path
MAX_DISPLAY_NAME = 64
MAX_JSON_DEPTH = 32  # nesting of objects and arrays in a frame
PATH_CACHE = 4096  # paths whose verdict path_problem remembers (cursor traffic repeats a few)

# C0 and C1 controls, DEL, and the bidi formatting characters (embeddings, overrides,
# isolates, marks) that make text display in another order than it is stored.
_UNSAFE_CHARS = re.compile("[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")


@lru_cache(maxsize=PATH_CACHE)
def path_problem(path: str) -> str | None:
    """Why ``path`` is not a workspace-relative POSIX path, or None when it is.

    A pure function of ``path``, so its verdicts are cached: every cursor update is
    checked where it is decoded and again in the relay's core, at the cost of a lookup.

    Accepted: 1 to MAX_PATH_BYTES bytes, at most MAX_PATH_SEGMENTS parts joined by '/',
    no part empty, '.' or '..' (so no leading or trailing '/', no '//'), no backslash,
    no drive letter ('C:'), no control or bidi formatting character.
    """
    if not path:
        return "a path must not be empty"
    if len(path) > MAX_PATH_BYTES // 4 and len(path.encode()) > MAX_PATH_BYTES:
        return f"a path is at most {MAX_PATH_BYTES} bytes"
    if _UNSAFE_CHARS.search(path) is not None:
        return "a path must not hold control or bidi formatting characters"
    if "\\" in path:
        return "a path uses '/', never a backslash"
    if path[0] == "/" or (len(path) > 1 and path[1] == ":" and path[0].isascii()
                          and path[0].isalpha()):
        return "a path is relative to the workspace, never absolute"
    parts = path.split("/")
    if len(parts) > MAX_PATH_SEGMENTS:
        return f"a path has at most {MAX_PATH_SEGMENTS} parts"
    for part in parts:
        if part in ("", ".", ".."):
            return "a path has no empty, '.' or '..' part"
    return None


def name_problem(name: str) -> str | None:
    """Why ``name`` cannot be shown to others as a display name, or None."""
    if _UNSAFE_CHARS.search(name) is not None:
        return "a name must not hold control or bidi formatting characters"
    if name != name.strip():
        return "a name must not start or end with whitespace"
    return None


def label_problem(label: str) -> str | None:
    """Why ``label`` (a session name, ...) cannot be shown to others, or None."""
    if _UNSAFE_CHARS.search(label) is not None:
        return "control or bidi formatting characters are not allowed"
    return None


_POS = Check(low=0, high=MAX_POSITION).meta()
_PATH = Check(max_chars=None, test=path_problem).meta()
_TEXT = Check(max_chars=None).meta()  # bounded by the frame size; the core checks its limit
_REPO = Check(max_chars=1024, test=label_problem).meta()
_LABEL = Check(max_chars=None, test=label_problem).meta()  # the core checks the length
_NAME = Check(max_chars=MAX_DISPLAY_NAME, test=name_problem).meta()


def _repo_part() -> Any:
    return field(default=None, metadata=_REPO)
