"""The grader's layout holds: no import circle between its modules, the code that runs in
sandboxes imports nothing of the grader outside ``grader/inside``, and no module reaches
into another subpackage's private names or past the sandbox's public interface."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
GRADER = ROOT / "grader"

pytestmark = [pytest.mark.timeout(60), pytest.mark.fast]  # (fast: no sandbox)


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


MODULES = {_module_name(p): p for p in GRADER.rglob("*.py")}


def _type_checking(node: ast.AST) -> bool:
    return isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test)


def _imports(path: Path) -> list[tuple[str, list[str], int]]:
    """(module, names, line) of every import in the file, those inside functions too,
    those under ``if TYPE_CHECKING:`` left out (they never run)."""
    tree = ast.parse(path.read_text())
    skipped = {id(n) for block in ast.walk(tree) if _type_checking(block)
               for stmt in block.body for n in ast.walk(stmt)}
    found = []
    package = _module_name(path) if path.name == "__init__.py" else \
        _module_name(path).rpartition(".")[0]
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.Import):
            found += [(a.name, [], node.lineno) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(package.split(".")[: len(package.split(".")) - node.level + 1]
                                + ([base] if base else []))
            found.append((base, [a.name for a in node.names], node.lineno))
    return found


def _edges(name: str) -> set[str]:
    """The grader's modules that importing ``name`` runs imports of (a ``from package
    import module`` counts as the module)."""
    out = set()
    for module, names, _ in _imports(MODULES[name]):
        if not module.startswith("grader"):
            continue
        targets = [f"{module}.{n}" for n in names if f"{module}.{n}" in MODULES]
        out.update(targets or [module])
    return out - {name}


def test_no_import_circle():
    graph = {name: _edges(name) & set(MODULES) for name in MODULES}
    state: dict[str, int] = {}
    path: list[str] = []

    def visit(node: str) -> None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                cycle = path[path.index(nxt):] + [nxt]
                pytest.fail("import circle: " + " -> ".join(cycle))
            if nxt not in state:
                visit(nxt)
        path.pop()
        state[node] = 2

    for name in sorted(graph):
        if name not in state:
            visit(name)


def test_inside_imports_nothing_of_the_grader_outside_itself():
    for name, path in MODULES.items():
        if not name.startswith("grader.inside"):
            continue
        for module, _, line in _imports(path):
            if module.startswith("grader"):
                assert module.startswith("grader.inside"), f"{path.name}:{line} {module}"


SUBPACKAGES = ("grader.sandbox", "grader.inside", "grader.grading", "grader.checks",
               "grader.reports", "grader.integrations")
# What other parts of the grader may import of the sandbox (its __init__ and the pool).
SANDBOX_PUBLIC = {"grader.sandbox", "grader.sandbox.pool"}


def test_no_module_reaches_into_another_subpackage():
    for name, path in MODULES.items():
        own = next((p for p in SUBPACKAGES if name == p or name.startswith(p + ".")), None)
        for module, names, line in _imports(path):
            other = next((p for p in SUBPACKAGES
                          if module == p or module.startswith(p + ".")), None)
            if other is None or other == own:
                continue
            where = f"{path.relative_to(ROOT)}:{line}"
            private = [n for n in names if n.startswith("_") and n != "__version__"]
            assert not private, f"{where} imports private {private} from {module}"
            if other == "grader.sandbox":
                targets = {f"{module}.{n}" if f"{module}.{n}" in MODULES else module
                           for n in names} or {module}
                assert targets <= SANDBOX_PUBLIC, f"{where} reaches past the sandbox's " \
                                                  f"interface: {sorted(targets)}"
