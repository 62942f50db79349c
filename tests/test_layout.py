"""The shape of the house: imports point down, no cycles, small files and functions."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "sweep_nn"
# rooms from the bottom up: a room may import only rooms below it (and itself)
LAYERS = [
    ("errors", "safe_read"),
    ("nn",),
    ("data",),
    ("config",),
    ("results",),
    ("sweep",),
    ("plots",),
    ("report",),
    ("estimator",),
    ("api",),
    ("cli", "__main__", "__init__"),
]
RANK = {room: i for i, rooms in enumerate(LAYERS) for room in rooms}
MAX_FILE_LINES = 450
MAX_FUNCTION_LINES = 60


def _modules() -> dict[str, Path]:
    return {
        ".".join(p.relative_to(PACKAGE).with_suffix("").parts): p for p in PACKAGE.rglob("*.py")
    }


def _imports(name: str, path: Path) -> set[str]:
    """Modules of sweep_nn that ``name`` imports, at module level or inside functions."""
    tree = ast.parse(path.read_text())
    package = name.split(".")[:-1] if not name.endswith("__init__") else name.split(".")[:-1]
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            elif node.module and node.module.startswith("sweep_nn"):
                target = node.module.removeprefix("sweep_nn").lstrip(".")
            else:
                continue
            for alias in node.names:
                full = f"{target}.{alias.name}" if target else alias.name
                found.add(full if full in _modules() else target)
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("sweep_nn."):
                    found.add(alias.name.removeprefix("sweep_nn."))
    return {m for m in found if m and m != name}


def _room(module: str) -> str:
    return module.split(".")[0]


def test_every_module_is_in_a_room():
    assert {_room(m) for m in _modules()} <= RANK.keys()


def test_imports_point_down():
    upward = [
        f"{name} imports {target}"
        for name, path in _modules().items()
        for target in _imports(name, path)
        if RANK[_room(target)] > RANK[_room(name)]
    ]
    assert not upward


def test_there_are_no_import_cycles():
    graph = {name: _imports(name, path) & _modules().keys() for name, path in _modules().items()}
    state: dict[str, int] = {}

    def visit(node, trail):
        state[node] = 1
        for nxt in graph[node]:
            if state.get(nxt) == 1:
                pytest.fail("import cycle: " + " -> ".join([*trail, node, nxt]))
            if nxt not in state:
                visit(nxt, [*trail, node])
        state[node] = 2

    for name in graph:
        if name not in state:
            visit(name, [])


def test_files_and_functions_stay_small():
    too_long = []
    for name, path in _modules().items():
        lines = path.read_text().splitlines()
        if len(lines) > MAX_FILE_LINES:
            too_long.append(f"{name}: {len(lines)} lines")
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                body = node.body[1:] if ast.get_docstring(node) else node.body
                if not body:  # a docstring alone
                    continue
                length = body[-1].end_lineno - body[0].lineno + 1
                if length > MAX_FUNCTION_LINES:
                    too_long.append(f"{name}.{node.name}: {length} lines")
    assert not too_long
