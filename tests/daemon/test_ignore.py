"""The daemon's ignore filter: git itself is the oracle for .gitignore semantics."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from daemon.text.ignore import IgnoreFilter, glob_regex

GIT = shutil.which("git")

TREE = {
    ".gitignore": "# comment\n*.log\n!keep.log\nbuild/\n/anchored.txt\ndocs/**/gen\n"
                  "a/**/b.txt\n\\#hash.txt\nspace\\ \n*.tmp\n!important.tmp\n"
                  "out\n!out/keep.txt\n",
    "sub/.gitignore": "local.txt\n/only-here.md\n!debug.log\nnested/\n",
    "sub/deeper/.gitignore": "*.py\n!main.py\n",
}
PATHS = [
    "x.log", "keep.log", "sub/x.log", "sub/debug.log", "build/a.py", "src/build/b.py",
    "build", "anchored.txt", "sub/anchored.txt", "docs/gen/x", "docs/a/b/gen/y",
    "docs/gen", "a/b.txt", "a/x/y/b.txt", "#hash.txt", "space ", "space", "f.tmp",
    "important.tmp", "out/x.txt", "out/keep.txt", "sub/local.txt", "sub/deeper/local.txt",
    "local.txt", "sub/only-here.md", "sub/deeper/only-here.md", "sub/nested/z.c",
    "sub/deeper/m.py", "sub/deeper/main.py", "sub/deeper/x/m.py", "src/app.py", "README.md",
]


@pytest.mark.skipif(GIT is None, reason="git is not installed")
def test_gitignore_decisions_match_git_check_ignore(tmp_path: Path) -> None:
    """For every path of a tree with nested .gitignore files, negations, directory and
    anchored patterns and ``**``, the filter decides as ``git check-ignore`` does."""
    assert GIT is not None
    subprocess.run([GIT, "init", "-q", str(tmp_path)], check=True)
    for rel, text in TREE.items():
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text(text)
    for rel in PATHS:
        if rel in ("build", "docs/gen", "out"):
            continue
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text("x")
    files = [p for p in PATHS if (tmp_path / p).is_file()]
    run = subprocess.run([GIT, "-C", str(tmp_path), "check-ignore", "--no-index", "--stdin"],
                         input="\n".join(files) + "\n", capture_output=True, text=True)
    git_says = set(run.stdout.splitlines())
    filt = IgnoreFilter()
    ours = {p for p in files if filt.ignored(str(tmp_path), p)}
    assert len(git_says) > 10
    assert ours == git_says


def test_gitignore_of_the_folders_above_the_root_applies(tmp_path: Path) -> None:
    """A workspace root below the repository top still gets the top's .gitignore."""
    (tmp_path / ".git").mkdir()
    (tmp_path / ".gitignore").write_text("pkg/generated/\n")
    root = tmp_path / "pkg"
    (root / "generated").mkdir(parents=True)
    filt = IgnoreFilter()
    assert filt.ignored(str(root), "generated/x.py")
    assert not filt.ignored(str(root), "src/x.py")


def test_secret_files_and_user_globs() -> None:
    """The built-in secret list is always on; user globs use VS Code syntax."""
    filt = IgnoreFilter(["**/*.secret.json", "private/**", "notes-{a,b}.md"])
    for rel in [".env", "app/.env.local", "certs/server.pem", "id_rsa", "home/id_ed25519.pub",
                "x.p12", "x.pfx", ".npmrc", "a/.pypirc", ".netrc", ".aws/credentials",
                ".git/config", ".ssh/config", "db.secret.json", "private/plan.md",
                "notes-a.md", "server.key"]:
        assert filt.ignored("/nonexistent-root", rel), rel
    for rel in ["src/env.py", "environment.md", "keys.py", "notes-c.md", "public/plan.md",
                "src/credentials/manager.py", "lib/secrets.d/x.py"]:
        assert not filt.ignored("/nonexistent-root", rel), rel


def test_glob_regex() -> None:
    import re

    assert re.fullmatch(glob_regex("**/*.py"), "a/b/c.py")
    assert re.fullmatch(glob_regex("**/*.py"), "c.py")
    assert not re.fullmatch(glob_regex("*.py"), "a/c.py")
    assert re.fullmatch(glob_regex("[!a]?.{js,ts}"), "bx.ts")
    assert not re.fullmatch(glob_regex("[!a]?.{js,ts}"), "ax.ts")
