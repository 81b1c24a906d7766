"""The invariants docs/architecture.md states about imports, checked on the source.

Every import statement of wire/, relay/ and daemon/ is read with ``ast``, imports inside
functions and ``if TYPE_CHECKING:`` blocks included: a lazy import is still a dependency,
and a type-only import still ties two modules together. Two kinds of rule:
- layers: what a package may import (``RULES``);
- no cycles: the graph of module -> module imports has no cycle.
"""

from __future__ import annotations

import ast
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("wire", "relay", "daemon")
STDLIB = frozenset(sys.stdlib_module_names) | {"__future__"}
IO_LIBRARIES = ("websockets", "sqlite3", "sqlite_utils", "redis", "psycopg", "psycopg_pool")
EDITOR_LIBRARIES = ("pygls", "lsprotocol", "cattrs")


def _modules() -> dict[str, Path]:
    found: dict[str, Path] = {}
    for pkg in PACKAGES:
        for path in sorted((ROOT / pkg).rglob("*.py")):
            parts = list(path.relative_to(ROOT).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            found[".".join(parts)] = path
    return found


MODULES = _modules()


def _imports(tree: ast.AST, module: str, is_package: bool) -> Iterator[str]:
    """Every module name ``module`` imports: ``from a.b import c`` gives a.b.c when that
    is a module of ours, else a.b."""
    package = module if is_package else module.rpartition(".")[0]
    stack: list[ast.AST] = [tree]
    while stack:
        node = stack.pop()
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")
                anchor = anchor[: len(anchor) - (node.level - 1)]
                base = ".".join(anchor + ([base] if base else []))
            for alias in node.names:
                sub = f"{base}.{alias.name}"
                yield sub if sub in MODULES else base
        stack.extend(ast.iter_child_nodes(node))


def _graph() -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {}
    for module, path in MODULES.items():
        tree = ast.parse(path.read_text(), str(path))
        graph[module] = set(_imports(tree, module, path.name == "__init__.py"))
    return graph


GRAPH = _graph()


def _top(name: str) -> str:
    return name.split(".", 1)[0]


def _within(name: str, prefix: str) -> bool:
    return name == prefix or name.startswith(prefix + ".")


# package prefix -> (allowed, forbidden): an import of a module outside our packages must be
# in the standard library or listed in ``allowed``; imports of ours must not match ``forbidden``.
RULES: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    # The wire protocol is shared by relay and daemon and bundled into the .vsix.
    "wire": ((), ("relay", "daemon")),
    # The relay core is sans-I/O: ports, no websockets, database or Redis client.
    "relay.core": ((), ("relay.ws", "relay.adapters", "daemon")),
    "relay": (("websockets", "sqlite_utils", "redis", "psycopg", "psycopg_pool", "jwt",
               "bcrypt"), ("daemon",)),
    # Pure text algorithms: no editor, no relay connection.
    "daemon.text": ((), ("daemon.lsp", "daemon.session", "daemon.protocol", "daemon.config",
                         "daemon.errors", "relay")),
    # The relay side of the daemon knows nothing of the editor protocol library.
    "daemon.session": (("websockets",), ("daemon.lsp", "daemon.protocol", "relay")),
    "daemon": (("pygls", "lsprotocol", "cattrs", "websockets"), ("relay",)),
}


def _rule(module: str) -> tuple[str, tuple[str, ...], tuple[str, ...]]:
    best = max((p for p in RULES if _within(module, p)), key=len)
    return (best, *RULES[best])


def test_every_layer_named_in_the_rules_exists() -> None:
    for prefix in RULES:
        assert prefix in MODULES, f"{prefix} is named in RULES but is not a package"


@pytest.mark.parametrize("module", sorted(MODULES))
def test_imports_follow_the_layer_rules(module: str) -> None:
    prefix, allowed, forbidden = _rule(module)
    problems = []
    for name in sorted(GRAPH[module]):
        top = _top(name)
        if top in PACKAGES:
            bad = [f for f in forbidden if _within(name, f)]
            if bad:
                problems.append(f"{name} (rule of {prefix}: never {', '.join(bad)})")
        elif top not in STDLIB and top not in allowed:
            problems.append(f"{name} (rule of {prefix}: only the standard library"
                            + (f" and {', '.join(allowed)}" if allowed else "") + ")")
    assert not problems, f"{module} imports " + "; ".join(problems)


def test_the_core_imports_no_io_library() -> None:
    core = [m for m in MODULES if _within(m, "relay.core")]
    assert core
    for module in core:
        bad = [n for n in GRAPH[module] if _top(n) in IO_LIBRARIES + EDITOR_LIBRARIES]
        assert not bad, f"{module} imports {bad}"


def _cycles() -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan, iterative)."""
    ours = {m: {n for n in deps if n in MODULES and n != m} for m, deps in GRAPH.items()}
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    found: list[list[str]] = []
    counter = 0
    for root in sorted(ours):
        if root in index:
            continue
        work: list[tuple[str, Iterator[str]]] = [(root, iter(sorted(ours[root])))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is None:
                work.pop()
                if work:
                    parent = work[-1][0]
                    low[parent] = min(low[parent], low[node])
                if low[node] == index[node]:
                    component = []
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        component.append(member)
                        if member == node:
                            break
                    if len(component) > 1:
                        found.append(sorted(component))
            elif child not in index:
                index[child] = low[child] = counter
                counter += 1
                stack.append(child)
                on_stack.add(child)
                work.append((child, iter(sorted(ours[child]))))
            elif child in on_stack:
                low[node] = min(low[node], index[child])
    return found


def test_no_import_cycles() -> None:
    cycles = _cycles()
    assert not cycles, "import cycles: " + " | ".join(" <-> ".join(c) for c in cycles)


def test_the_cycle_finder_finds_a_cycle() -> None:
    saved = dict(GRAPH)
    try:
        GRAPH["wire.schema"] = GRAPH["wire.schema"] | {"wire.codec"}
        GRAPH["wire.codec"] = GRAPH["wire.codec"] | {"wire.schema"}
        assert any({"wire.codec", "wire.schema"} <= set(c) for c in _cycles())
    finally:
        GRAPH.clear()
        GRAPH.update(saved)
