"""Workspace roots: document URIs <-> workspace-relative POSIX paths (the wire's names).

:class:`Workspace` maps URIs to paths against one or more roots, and back::

    ws = Workspace(init_options.workspace_roots or [f.uri for f in workspace_folders])
    ws.path_for(uri)   # "src/app.py", or None outside every root or ignored
    ws.uri_for(path)   # file URI under the root that has the file (else the first root)

Both directions refuse what must not cross:

- a path from a peer with a NUL or another control character, a backslash, an
  absolute path, ``..`` that leaves the root, or more than :data:`MAX_PATH`
  characters maps to no URI;
- a symbolic link is followed to its real path, and a file whose real path lies
  outside every root (a link to ``/etc`` or ``~/.ssh``) maps to nothing in
  either direction, so no peer can make the daemon read it and no cursor in it
  is shared;
- a file the :class:`daemon.text.ignore.IgnoreFilter` ignores (by its name in the
  workspace or by its real name) has no workspace path: nothing about it leaves
  the machine.
"""

from __future__ import annotations

import os
import posixpath
import re
from collections.abc import Iterable
from urllib.parse import quote, unquote, urlsplit

from daemon.text.ignore import IgnoreFilter

MAX_PATH = 1024  # characters in a workspace-relative path (the relay's limit too)
_BAD_CHARS = re.compile(r"[\x00-\x1f\x7f]")


def canonical_uri(uri: str) -> str:
    """A stable key for a URI: file URIs re-encoded from their decoded path."""
    path = uri_to_path(uri)
    return path_to_uri(path) if path is not None else uri


def uri_to_path(uri: str) -> str | None:
    """The local filesystem path of a ``file:`` URI (normalized), else None."""
    parts = urlsplit(uri)
    if parts.scheme != "file":
        return None
    path = unquote(parts.path)
    if not path.startswith("/") or "\x00" in path:
        return None
    return posixpath.normpath(path)


def path_to_uri(path: str) -> str:
    """A ``file:`` URI for an absolute filesystem path."""
    return "file://" + quote(posixpath.normpath(os.path.abspath(path)), safe="/")


def valid_path(path: object) -> bool:
    """Whether a peer's ``path`` can name a file under a root (see the module docstring)."""
    if not isinstance(path, str) or not path or len(path) > MAX_PATH:
        return False
    if path.startswith("/") or "\\" in path or _BAD_CHARS.search(path):
        return False
    norm = posixpath.normpath(path)
    return not (norm in (".", "..") or norm.startswith("../"))


def _real(path: str) -> str | None:
    try:
        return os.path.realpath(path)
    except (OSError, ValueError):
        return None


def _inside(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip("/") + "/")


class Workspace:
    """Workspace roots; URIs <-> workspace-relative POSIX paths.

    ``roots`` are file URIs or absolute paths. A URI inside several nested
    roots maps against the innermost one.
    """

    def __init__(self, roots: Iterable[str], ignore: IgnoreFilter | None = None) -> None:
        found: list[str] = []
        for root in roots:
            path = uri_to_path(root) if "://" in root else posixpath.normpath(root)
            if path is not None and path.startswith("/") and path not in found:
                found.append(path)
        self.roots: list[str] = found
        self.real_roots: list[str] = [_real(r) or r for r in found]
        self.ignore = ignore or IgnoreFilter()

    def _best(self, path: str, roots: list[str]) -> int | None:
        best: int | None = None
        for i, root in enumerate(roots):
            if path.startswith(root.rstrip("/") + "/") and (
                    best is None or len(root) > len(roots[best])):
                best = i
        return best

    def reason(self, uri: str) -> str | None:
        """Why ``uri`` has no workspace path ("outside", "ignored"), or None when it has one."""
        path = uri_to_path(uri)
        if path is None:
            return "outside"
        i = self._best(path, self.roots)
        if i is None:
            return "outside"
        real = _real(path)
        j = self._best(real, self.real_roots) if real is not None else None
        if real is None or j is None:
            return "outside"  # a link that leads out of every root
        rel = posixpath.relpath(path, self.roots[i])
        real_rel = posixpath.relpath(real, self.real_roots[j])
        if (self.ignore.ignored(self.roots[i], rel)
                or self.ignore.ignored(self.real_roots[j], real_rel)):
            return "ignored"
        return None

    def path_for(self, uri: str) -> str | None:
        """Workspace-relative POSIX path of ``uri``; None when outside every root (its
        real path included) or ignored."""
        if self.reason(uri) is not None:
            return None
        path = uri_to_path(uri)
        assert path is not None
        i = self._best(path, self.roots)
        assert i is not None
        return posixpath.relpath(path, self.roots[i])

    def uri_for(self, path: str) -> str | None:
        """File URI of a workspace-relative ``path`` under the first root holding it
        (the first root when none does); None for a path that is invalid, escapes
        the roots, or whose real path (links followed) is outside them."""
        if not self.roots or not valid_path(path):
            return None
        norm = posixpath.normpath(path)
        chosen: tuple[str, str] | None = None
        for root, real_root in zip(self.roots, self.real_roots, strict=True):
            candidate = posixpath.join(root, norm)
            if os.path.lexists(candidate):
                chosen = (candidate, real_root)
                break
        if chosen is None:
            chosen = (posixpath.join(self.roots[0], norm), self.real_roots[0])
        real = _real(chosen[0])
        if real is None or not _inside(real, chosen[1]):
            return None
        return path_to_uri(chosen[0])
