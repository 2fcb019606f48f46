"""The package's shape: no import cycles, and dependencies that run one way between its rooms.

Imports inside functions count too (a lazy import is still a dependency). Layers, lowest
first; a module may import its own room and the rooms of lower layers, never a room beside
it on the same layer:

    errors, settings, tf_setup
    imaging | store | runtime          (decoding and preparing images; keeping model files; ONNX Runtime)
    convert                            (Keras graph helpers, ONNX translation, export)
    reading                            (Predictor, results, whole numbers)
    training | service                 (everything that makes models; the HTTP API)
    cli
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "digitclf"
LAYERS = [
    {"errors", "settings", "tf_setup"},
    {"imaging", "store", "runtime"},
    {"convert"},
    {"reading"},
    {"training", "service"},
    {"cli"},
    {"__main__"},
]
LAYER_OF = {room: i for i, rooms in enumerate(LAYERS) for room in rooms}


def _modules() -> dict[str, Path]:
    modules = {}
    for path in PACKAGE.rglob("*.py"):
        parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        modules[".".join(parts)] = path
    return modules


def _imports(name: str, path: Path, known: set[str]) -> set[str]:
    """The digitclf modules `name` imports, wherever in the file."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(anchor + ([base] if base else []))
            targets = [f"{base}.{alias.name}" for alias in node.names] + [base]
        else:
            continue
        for target in targets:
            while target and target not in known:
                target = target.rpartition(".")[0]
            if target and target != name:
                found.add(target)
    return found


@pytest.fixture(scope="module")
def graph() -> dict[str, set[str]]:
    modules = _modules()
    known = set(modules)
    return {name: _imports(name, path, known) for name, path in modules.items()}


def _room(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def test_every_module_belongs_to_a_known_room(graph):
    unknown = {_room(m) for m in graph} - set(LAYER_OF) - {"__init__"}
    assert not unknown, f"add these to LAYERS: {unknown}"


def test_there_are_no_import_cycles(graph):
    # Packages import their own modules' names through __init__ only in the top package's
    # lazy facade, which is not part of any chain below it.
    edges = {m: {t for t in targets if t != "digitclf"} for m, targets in graph.items()}
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(module: str) -> None:
        state[module] = 1
        stack.append(module)
        for target in sorted(edges.get(module, ())):
            if state.get(target) == 1:
                cycle = stack[stack.index(target):] + [target]
                pytest.fail("import cycle: " + " -> ".join(cycle))
            if target not in state:
                visit(target)
        stack.pop()
        state[module] = 2

    for module in sorted(edges):
        if module not in state:
            visit(module)


def test_dependencies_run_one_way(graph):
    wrong = []
    for module, targets in graph.items():
        room = _room(module)
        if room == "__init__":  # the package's public facade may name anything it re-exports
            continue
        for target in targets:
            other = _room(target)
            if other == room or other == "__init__" and target == "digitclf":
                continue
            if LAYER_OF[other] >= LAYER_OF[room]:
                wrong.append(f"{module} imports {target}")
    assert not wrong, "\n".join(sorted(wrong))


def test_the_package_never_imports_the_dashboard():
    for path in PACKAGE.rglob("*.py"):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] in ("dashboard", "pages"):
                pytest.fail(f"{path} imports {node.module}")
