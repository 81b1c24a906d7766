"""Which workspace files never leave the machine: secrets, ``.gitignore`` and user globs.

:class:`IgnoreFilter` answers :meth:`IgnoreFilter.ignored` for a path relative to a
workspace root. A file is ignored when any of these match it:

- the built-in secret list :data:`SECRET_PATTERNS` (``.env*``, keys, certificates,
  credentials, package-manager tokens) and anything inside ``.git``, ``.ssh`` or
  ``.gnupg``; always on, whatever the settings say;
- the user's globs (``initializationOptions.ignore``, the extension's
  ``ensemble.ignore``): VS Code glob syntax (``**``, ``*``, ``?``, ``{a,b}``,
  ``[abc]``); a glob without ``/`` matches the file name at any depth;
- ``.gitignore`` files (the root's, nested ones, and those of enclosing folders up
  to the repository top) plus ``.git/info/exclude``, with git's rules: last match
  wins, ``!`` re-includes, a trailing ``/`` matches directories only, a ``/`` at the
  start or in the middle anchors the pattern to its ``.gitignore``'s folder,
  ``**`` spans folders, and nothing inside an ignored folder can be re-included.

Parsed ``.gitignore`` files are cached by modification time, so an edit to one
takes effect at the next lookup.
"""

from __future__ import annotations

import os
import posixpath
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

SECRET_PATTERNS: tuple[str, ...] = (
    ".env", ".env.*", "*.env",
    "*.pem", "*.key", "*.p12", "*.pfx", "*.jks", "*.keystore", "*.kdbx",
    "id_rsa*", "id_dsa*", "id_ecdsa*", "id_ed25519*",
    ".npmrc", ".yarnrc.yml", ".pypirc", ".netrc", "_netrc", ".pgpass", ".htpasswd",
    ".git-credentials", "credentials", "credentials.*", "*.credentials",
    "secrets.*", ".secrets", "*.secret", "*.tfvars", "*.tfstate",
    ".dockercfg", "service-account*.json",
)
SECRET_DIRS = frozenset({".git", ".ssh", ".gnupg", ".aws", ".docker"})
MAX_DEPTH = 64  # folders walked up looking for the repository top


def glob_regex(pattern: str) -> str:
    """A regular expression (no anchors) for a VS Code / gitignore style glob."""
    out: list[str] = []
    i, n = 0, len(pattern)
    while i < n:
        c = pattern[i]
        if c == "*":
            if pattern.startswith("**", i):
                i += 2
                if i < n and pattern[i] == "/":
                    out.append("(?:.*/)?")  # "**/": zero or more folders
                    i += 1
                else:
                    out.append(".*")
                continue
            out.append("[^/]*")
        elif c == "?":
            out.append("[^/]")
        elif c == "[":
            end = pattern.find("]", i + 2 if pattern.startswith("[!", i) else i + 1)
            if end < 0:
                out.append(re.escape(c))
            else:
                body = pattern[i + 1:end]
                if body.startswith("!"):
                    body = "^" + body[1:]
                out.append("[" + body.replace("\\", "\\\\") + "]")
                i = end
        elif c == "{":
            end = pattern.find("}", i)
            if end < 0:
                out.append(re.escape(c))
            else:
                alts = pattern[i + 1:end].split(",")
                out.append("(?:" + "|".join(glob_regex(a) for a in alts) + ")")
                i = end
        elif c == "\\" and i + 1 < n:
            i += 1
            out.append(re.escape(pattern[i]))
        else:
            out.append(re.escape(c))
        i += 1
    return "".join(out)


class Globs:
    """A set of globs; those without ``/`` match a file name at any depth (and, with
    ``folders``, a folder name too, so everything below it)."""

    def __init__(self, patterns: Iterable[str], *, folders: bool = True) -> None:
        self.folders = folders
        names: list[str] = []
        paths: list[str] = []
        for raw in patterns:
            p = raw.strip()
            if not p:
                continue
            if p.startswith("./"):
                p = p[2:]
            (paths if "/" in p.rstrip("/") else names).append(glob_regex(p.rstrip("/")))
        self._name = re.compile("(?:" + "|".join(names) + r")\Z") if names else None
        self._path = re.compile("(?:" + "|".join(paths) + r")(?:/.*)?\Z") if paths else None

    def match(self, rel: str) -> bool:
        if self._path is not None and self._path.match(rel):
            return True
        if self._name is not None:
            parts = rel.split("/")
            return any(self._name.match(part) for part in (parts if self.folders else parts[-1:]))
        return False


@dataclass(frozen=True, slots=True)
class Rule:
    regex: re.Pattern[str]
    negate: bool
    dir_only: bool


def parse_gitignore(text: str) -> list[Rule]:
    """The rules of one ``.gitignore`` (paths relative to its folder)."""
    rules: list[Rule] = []
    for raw in text.splitlines():
        line = raw.rstrip("\r")
        # trailing spaces are ignored unless escaped with a backslash
        stripped = line.rstrip(" ")
        if stripped.endswith("\\") and len(stripped) < len(line):
            stripped += " "
        line = stripped
        if not line or line.startswith("#"):
            continue
        negate = line.startswith("!")
        if negate or line.startswith("\\!") or line.startswith("\\#"):
            line = line[1:]
        dir_only = line.endswith("/")
        line = line.rstrip("/")
        if not line:
            continue
        anchored = "/" in line
        line = line.lstrip("/")
        body = glob_regex(line)
        prefix = "" if anchored else "(?:.*/)?"
        rules.append(Rule(re.compile(prefix + body + r"\Z"), negate, dir_only))
    return rules


class IgnoreFilter:
    """Secret files, user globs and ``.gitignore`` rules for some workspace roots."""

    def __init__(self, user_globs: Sequence[str] = ()) -> None:
        self.secrets = Globs(SECRET_PATTERNS, folders=False)
        self.user = Globs(user_globs)
        self._files: dict[str, tuple[float, list[Rule]]] = {}
        self._tops: dict[str, tuple[str, str]] = {}

    def ignored(self, root: str, rel: str) -> bool:
        """Whether ``rel`` (POSIX, relative to the folder ``root``) must stay local."""
        parts = rel.split("/")
        if any(part in SECRET_DIRS for part in parts[:-1]) or parts[-1] == ".git":
            return True
        if self.secrets.match(rel) or self.user.match(rel):
            return True
        return self._git_ignored(root, rel)

    # ----- .gitignore ------------------------------------------------------------------

    def _top(self, root: str) -> tuple[str, str]:
        """(repository top, root's path below it): the nearest folder holding ``.git``."""
        found = self._tops.get(root)
        if found is not None:
            return found
        here, below = root, ""
        result = (root, "")
        for _ in range(MAX_DEPTH):
            if os.path.exists(os.path.join(here, ".git")):
                result = (here, below)
                break
            parent = os.path.dirname(here)
            if parent == here:
                break
            below = posixpath.join(os.path.basename(here), below) if below else \
                os.path.basename(here)
            here = parent
        self._tops[root] = result
        return result

    def _rules(self, path: str) -> list[Rule]:
        try:
            mtime = os.stat(path).st_mtime
        except (OSError, ValueError):
            self._files.pop(path, None)
            return []
        cached = self._files.get(path)
        if cached is not None and cached[0] == mtime:
            return cached[1]
        try:
            with open(path, encoding="utf-8", errors="replace") as fh:
                rules = parse_gitignore(fh.read())
        except OSError:
            rules = []
        self._files[path] = (mtime, rules)
        return rules

    def _git_ignored(self, root: str, rel: str) -> bool:
        top, below = self._top(root)
        full = posixpath.join(below, rel) if below else rel
        parts = full.split("/")
        sources: list[tuple[str, list[Rule]]] = [
            ("", self._rules(os.path.join(top, ".git", "info", "exclude")))]
        for i in range(len(parts)):
            folder = "/".join(parts[:i])
            sources.append((folder, self._rules(os.path.join(top, folder, ".gitignore"))))
            target = "/".join(parts[: i + 1])
            is_dir = i < len(parts) - 1
            if self._decide(sources, target, is_dir):
                return True  # an ignored folder: nothing below it comes back
        return False

    @staticmethod
    def _decide(sources: list[tuple[str, list[Rule]]], target: str, is_dir: bool) -> bool:
        ignored = False
        for folder, rules in sources:
            if folder:
                if not target.startswith(folder + "/"):
                    continue
                rel = target[len(folder) + 1:]
            else:
                rel = target
            for rule in rules:
                if rule.dir_only and not is_dir:
                    continue
                if rule.regex.match(rel):
                    ignored = not rule.negate
        return ignored
