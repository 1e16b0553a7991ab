"""The package's folders import downward only, as README.md ("How it works") lists them: a module imports only the
folders below its own, and steps/ (what runs in the image) only core/. Every import counts, those inside functions
and under TYPE_CHECKING too: an import deferred into a function to survive a loop is still a loop."""

from __future__ import annotations

import ast
import shutil
from pathlib import Path

import hlsbox

PACKAGE = Path(hlsbox.__file__).resolve().parent
LAYERS = ("cli", "commands", "vivado", "runtime", "config", "core")  # the host's folders, top to bottom
IMAGE_SIDE = {"steps": ("core",)}  # runs in the image: it imports these only, and no host folder imports it
ENTRY = "__main__"  # `python -m hlsbox`: the one module above cli/


def allowed(folder: str) -> set[str]:
    """The folders a module in `folder` may import (besides its own)."""
    if folder in IMAGE_SIDE:
        return set(IMAGE_SIDE[folder])
    if folder in LAYERS:
        return set(LAYERS[LAYERS.index(folder) + 1 :])
    return set(LAYERS) if folder == ENTRY else set()  # the package's __init__ imports nothing of it


def modules(package: Path) -> dict[str, Path]:
    """Every module of the package at `package` by its dotted name (a folder's __init__ as the folder's name)."""
    found = {}
    for path in sorted(package.rglob("*.py")):
        parts = path.relative_to(package).with_suffix("").parts
        found[".".join(("hlsbox", *(parts[:-1] if parts[-1] == "__init__" else parts)))] = path
    return found


def imported(name: str, path: Path) -> list[tuple[int, str]]:
    """Every hlsbox module or name the module `name` at `path` imports, with its line (those inside functions
    too); relative imports resolved."""
    package = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = ".".join(package[: len(package) - node.level + 1] if node.level else [])
            source = ".".join(part for part in (base, node.module or "") if part)
            found += [(node.lineno, f"{source}.{alias.name}") for alias in node.names]
    return [(line, target) for line, target in found if target.startswith("hlsbox.")]


def upward_imports(package: Path) -> list[str]:
    """Each import of the package at `package` that does not point down its layers, as `file:line -> module`."""
    wrong = []
    for name, path in modules(package).items():
        folder = name.split(".")[1] if "." in name else "__init__"  # a module at the root is its own: __main__
        for line, target in imported(name, path):
            if target.split(".")[1] != folder and target.split(".")[1] not in allowed(folder):
                wrong.append(f"{path.relative_to(package)}:{line} -> {target}")
    return sorted(wrong)


def import_graph(package: Path) -> dict[str, set[str]]:
    """Which of the package's modules each module imports (a name imported from a module counts as that module)."""
    found = modules(package)
    graph: dict[str, set[str]] = {}
    for name, path in found.items():
        targets = set()
        for _, target in imported(name, path):
            while target not in found and "." in target:
                target = target.rpartition(".")[0]
            targets |= {target} if target in found and target != name else set()
        graph[name] = targets
    return graph


def import_loops(package: Path) -> list[tuple[str, ...]]:
    """The modules that reach themselves through their imports, each loop as one sorted tuple."""
    graph = import_graph(package)

    def reach(start: str) -> set[str]:
        seen, todo = set(), list(graph[start])
        while todo:
            module = todo.pop()
            if module not in seen:
                seen.add(module)
                todo.extend(graph[module])
        return seen

    reached = {name: reach(name) for name in graph}
    looped = [name for name in graph if name in reached[name]]
    return sorted({tuple(sorted(m for m in looped if m in reached[name] and name in reached[m])) for name in looped})


def test_every_import_points_down_the_layers():
    assert upward_imports(PACKAGE) == []


def test_no_module_imports_itself_back():
    """No loop inside a folder either (a loop survives only by deferring an import into a function)."""
    assert import_loops(PACKAGE) == []


def test_the_layers_are_the_packages_folders():
    """Every folder of the package has its place in the order, so none is left unchecked."""
    folders = {p.name for p in PACKAGE.iterdir() if p.is_dir() and (p / "__init__.py").is_file()}
    assert folders == set(LAYERS) | set(IMAGE_SIDE)


def test_a_planted_upward_import_is_caught(tmp_path: Path):
    """Negative control: a copy of the package with upward imports planted where they hide (inside a method, a
    relative import, a host module reaching into the image's code) is reported, each at its line."""
    package = tmp_path / "hlsbox"
    shutil.copytree(PACKAGE, package, ignore=shutil.ignore_patterns("__pycache__"))
    table = package / "runtime" / "step_table.py"
    table.write_text(table.read_text() + "\n\ndef planted():\n    from hlsbox.cli import views\n\n    return views\n")
    lines = len(table.read_text().splitlines())
    (package / "vivado" / "planted.py").write_text("from ..commands import plan\n")
    (package / "config" / "planted.py").write_text("import hlsbox.steps.protocol\n")
    (package / "steps" / "planted.py").write_text("from hlsbox.runtime import runner\n")
    assert upward_imports(package) == [
        "config/planted.py:1 -> hlsbox.steps.protocol",
        f"runtime/step_table.py:{lines - 2} -> hlsbox.cli.views",
        "steps/planted.py:1 -> hlsbox.runtime.runner",
        "vivado/planted.py:1 -> hlsbox.commands.plan",
    ]


def test_a_planted_import_loop_is_caught(tmp_path: Path):
    """Negative control: a copy of the package where config/flow.py reads formats.py back, in a function."""
    package = tmp_path / "hlsbox"
    shutil.copytree(PACKAGE, package, ignore=shutil.ignore_patterns("__pycache__"))
    flow = package / "config" / "flow.py"
    flow.write_text(flow.read_text() + "\n\ndef planted():\n    from hlsbox.config.formats import load_flow\n")
    assert import_loops(package) == [("hlsbox.config.flow", "hlsbox.config.formats")]
