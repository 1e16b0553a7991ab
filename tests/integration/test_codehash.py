"""The cache key's code hash covers what the image really imports: every hlsbox module loaded in the real image
after importing every step module is one runner.image_files() hashes."""

from pathlib import Path

import pytest

from hlsbox.runtime import runner
from tests.conftest import run_in_image

pytestmark = [pytest.mark.integration, pytest.mark.core]

SCRIPT = """
import importlib, pkgutil, sys
import hlsbox.steps
for info in pkgutil.walk_packages(hlsbox.steps.__path__, "hlsbox.steps."):
    if not info.name.endswith("__main__"):  # the step runner's entry point, which parses sys.argv
        importlib.import_module(info.name)
for name, module in sorted(sys.modules.items()):
    if name == "hlsbox" or name.startswith("hlsbox."):
        print("loaded", module.__file__)
"""


def test_the_step_code_hash_covers_the_import_closure_of_the_steps(engine, workspace: Path):
    lines = run_in_image(engine, workspace, SCRIPT, timeout=300)
    files = [Path(line.split(" ", 1)[1]) for line in lines if line.startswith("loaded ")]
    loaded = {path.relative_to(runner.PACKAGE_MOUNT) for path in files}
    hashed = {path.relative_to(runner.PACKAGE_DIR) for path in runner.image_files()}
    assert Path("core/units.py") in loaded
    assert loaded <= hashed, f"imported in the image but not hashed: {sorted(map(str, loaded - hashed))}"
