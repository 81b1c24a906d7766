"""The relay's layer rules, read from the source: relay/core imports no I/O library, no
adapter and no server module; nothing in relay/ imports in a cycle."""

from __future__ import annotations

import ast
from pathlib import Path

RELAY = Path(__file__).resolve().parents[2] / "relay"
# What relay/core must not import: it reaches I/O only through its ports.
FORBIDDEN_IN_CORE = (
    "websockets", "sqlite3", "sqlite_utils", "redis", "psycopg", "relay.adapters",
    "relay.ws", "relay.server", "relay.connection", "relay.httpside", "relay.auth",
    "relay.accounts",
)


def _module(path: Path) -> str:
    parts = path.relative_to(RELAY.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path) -> set[str]:
    """Modules the file imports at run time (not those under ``if TYPE_CHECKING:``)."""
    tree = ast.parse(path.read_text(), str(path))
    hidden: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            for stmt in node.body:
                hidden.update(id(n) for n in ast.walk(stmt))
    found: set[str] = set()
    for node in ast.walk(tree):
        if id(node) in hidden:
            continue
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            found.add(node.module)
            found.update(f"{node.module}.{a.name}" for a in node.names)
    return found


def test_the_core_imports_no_io_library_adapter_or_server_module():
    offences = []
    for path in sorted((RELAY / "core").rglob("*.py")):
        for name in _imports(path):
            if any(name == f or name.startswith(f + ".") for f in FORBIDDEN_IN_CORE):
                offences.append(f"{path.relative_to(RELAY.parent)} imports {name}")
    assert not offences, "\n".join(offences)


def test_relay_modules_import_each_other_without_cycles():
    paths = {_module(p): p for p in RELAY.rglob("*.py")}
    graph = {mod: {m for m in _imports(p) if m in paths and m != mod}
             for mod, p in paths.items()}
    done: set[str] = set()

    def walk(mod: str, stack: list[str]) -> None:
        if mod in stack:
            raise AssertionError("import cycle: " + " -> ".join([*stack[stack.index(mod):], mod]))
        if mod in done:
            return
        for dep in sorted(graph[mod]):
            walk(dep, [*stack, mod])
        done.add(mod)

    for mod in sorted(graph):
        walk(mod, [])
