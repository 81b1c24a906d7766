"""Repository identity from git: normalized remote URL and root commit."""

from __future__ import annotations

import logging
import re
import subprocess
from pathlib import Path

from wire import RepoIdentity

log = logging.getLogger(__name__)

_SCP_LIKE = re.compile(r"^(?:[\w.+-]+@)?([\w.-]+):(?!//)(.+)$")


def normalize_remote(url: str) -> str:
    """Reduce a git remote URL to ``host/owner/name`` (scheme, user, port, .git dropped).

    ``git@github.com:Acme/App.git``, ``https://github.com/acme/app`` and
    ``ssh://git@github.com:22/acme/app.git`` all become ``github.com/acme/app``.
    """
    url = url.strip()
    if "://" in url:
        rest = url.split("://", 1)[1]
        host, _, path = rest.partition("/")
        host = host.rsplit("@", 1)[-1].split(":", 1)[0]
    else:
        m = _SCP_LIKE.match(url)
        if m is None:  # a local path
            return url.rstrip("/").removesuffix(".git").lower()
        host, path = m.group(1), m.group(2)
    path = path.strip("/").removesuffix(".git").rstrip("/")
    return f"{host}/{path}".lower()


def _git(root: Path, *args: str) -> str | None:
    try:
        out = subprocess.run(
            ["git", "-C", str(root), *args],
            capture_output=True,
            text=True,
            timeout=5,
            check=False,
        )
    except (OSError, subprocess.SubprocessError) as exc:
        log.debug("git %s failed: %s", args[0], exc)
        return None
    if out.returncode != 0:
        return None
    return out.stdout.strip() or None


def repo_identity(root: Path) -> RepoIdentity:
    """Identify the repository at ``root`` (fields stay null when git cannot tell)."""
    remote: str | None = None
    remotes = _git(root, "remote")
    if remotes:
        names = remotes.split()
        name = "origin" if "origin" in names else names[0]
        url = _git(root, "remote", "get-url", name)
        if url:
            remote = normalize_remote(url)
    roots = _git(root, "rev-list", "--max-parents=0", "HEAD")
    root_commit = sorted(roots.split())[0] if roots else None
    top = _git(root, "rev-parse", "--show-toplevel")
    name = Path(top).name if top else root.name
    return RepoIdentity(remote=remote, root_commit=root_commit, name=name)


def same_repository(a: RepoIdentity, b: RepoIdentity) -> bool:
    """True when nothing known says the two are different repositories."""
    if a.root_commit and b.root_commit:
        return a.root_commit == b.root_commit
    if a.remote and b.remote:
        return a.remote == b.remote
    return True
