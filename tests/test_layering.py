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


def imported(tree: ast.Module, module: str) -> list[tuple[int, str]]:
    """Every hlsbox module or name the module `module` (dotted) imports, with its line; relative imports resolved."""
    package = module.split(".")[:-1]
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = ".".join(package[: len(package) - node.level + 1] if node.level else [])
            source = ".".join(part for part in (base, node.module or "") if part)
            found += [(node.lineno, f"{source}.{alias.name}") for alias in node.names]
    return [(line, name) for line, name in found if name.startswith("hlsbox.")]


def upward_imports(package: Path) -> list[str]:
    """Each import of the package at `package` that does not point down its layers, as `file:line -> module`."""
    wrong = []
    for path in sorted(package.rglob("*.py")):
        relative = path.relative_to(package).with_suffix("")
        parts = relative.parts[:-1] if relative.name == "__init__" else relative.parts
        folder = relative.parts[0]  # a module at the package's root is its own: __main__
        module = ".".join(("hlsbox", *parts)) + (".__init__" if relative.name == "__init__" else "")
        for line, name in imported(ast.parse(path.read_text(), str(path)), module):
            target = name.split(".")[1]
            if target != folder and target not in allowed(folder):
                wrong.append(f"{path.relative_to(package)}:{line} -> {name}")
    return wrong


def test_every_import_points_down_the_layers():
    assert upward_imports(PACKAGE) == []


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
