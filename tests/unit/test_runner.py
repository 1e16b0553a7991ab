import dataclasses
import zipfile
from pathlib import Path

import pytest
from rich.console import Console

from hlsbox.config.flow import Flow
from hlsbox.core.contract import CsimCache, FitParams, FitResult, FitRun, StepInputs, VivadoRun
from hlsbox.core.errors import BadInput
from hlsbox.runtime.request import RunRequest, StepExtras, Workspace
from hlsbox.runtime.runner import check_model_file, finish, prepare_dir, run_step, step_spec


def _keras_zip(path: Path) -> Path:
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("config.json", "{}")
        z.writestr("model.weights.h5", b"\x00" * 4096)
    return path


def test_model_file_checks(tmp_path: Path):
    good = _keras_zip(tmp_path / "good.keras")
    check_model_file(good)
    h5 = tmp_path / "m.h5"
    h5.write_bytes(b"\x89HDF\r\n\x1a\n" + b"\0" * 100)
    check_model_file(h5)
    with pytest.raises(BadInput, match="does not exist"):
        check_model_file(tmp_path / "none.keras")
    truncated = tmp_path / "truncated.keras"
    truncated.write_bytes(good.read_bytes()[: len(good.read_bytes()) // 2])
    with pytest.raises(BadInput, match="truncated or corrupt"):
        check_model_file(truncated)
    text = tmp_path / "text.keras"
    text.write_text("hello")
    with pytest.raises(BadInput, match="not a Keras model"):
        check_model_file(text)


def test_a_failed_run_never_replaces_the_last_good_one(tmp_path: Path):
    final = tmp_path / "csim"
    first = tmp_path / ".csim.tmp-1"
    first.mkdir()
    (first / "result.json").write_text("good")
    assert finish(first, final, ok=True) == final
    failed = tmp_path / ".csim.tmp-2"
    failed.mkdir()
    (failed / "step.log").write_text("boom")
    assert finish(failed, final, ok=False) == tmp_path / "csim.failed"
    assert (final / "result.json").read_text() == "good"
    newer = tmp_path / ".csim.tmp-3"
    newer.mkdir()
    (newer / "result.json").write_text("better")
    finish(newer, final, ok=True)
    assert (final / "result.json").read_text() == "better"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["csim", "csim.failed"]


def test_unwritable_output_dir_is_bad_input(tmp_path: Path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(BadInput, match="Cannot write to the output directory"):
        prepare_dir(blocker / "sub")


def imported_hlsbox_modules(path: Path, package: Path) -> list[Path]:
    """The hlsbox modules `path` imports (absolute `hlsbox.…` imports, as the package writes them)."""
    import ast

    names: list[str] = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names += [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
    found = []
    for name in names:
        if name == "hlsbox" or name.startswith("hlsbox."):
            base = package.joinpath(*name.split(".")[1:])
            found += [p for p in (base.with_suffix(".py"), base / "__init__.py") if p.is_file()]
    return found


def test_the_steps_import_only_what_the_image_hash_covers():
    """The import closure of steps/ (read with ast, every module reached from every step module) stays inside
    the folders the code hash covers (runner.IMAGE_PACKAGES): a step importing a host module (config/, runtime/,
    commands/...) would run code whose changes do not invalidate cached results."""
    from hlsbox.runtime import runner

    package = runner.PACKAGE_DIR
    todo, seen = sorted((package / "steps").rglob("*.py")), set()
    while todo:
        path = todo.pop()
        if path not in seen:
            seen.add(path)
            todo.extend(imported_hlsbox_modules(path, package))
    assert package / "core" / "units.py" in seen  # the planner's import, reached through the steps
    outside = sorted(str(p.relative_to(package)) for p in seen - set(runner.image_files()))
    assert not outside, f"the steps import modules the code hash does not cover: {outside}"


def test_the_step_code_hash_follows_the_image_packages(tmp_path: Path, monkeypatch):
    """A copy of the package: editing a core module (units.py, imported by the planner the steps use) or a data
    file changes the hash; editing a host-only module (cli/app.py) does not."""
    import shutil

    from hlsbox.runtime import runner

    package = tmp_path / "hlsbox"
    shutil.copytree(runner.PACKAGE_DIR, package, ignore=shutil.ignore_patterns("__pycache__"))
    monkeypatch.setattr(runner, "PACKAGE_DIR", package)
    before = runner.steps_code_hash()
    (package / "cli" / "app.py").write_text((package / "cli" / "app.py").read_text() + "\n# host only\n")
    assert runner.steps_code_hash() == before
    for edited in ("core/units.py", "core/data/recorded_designs.json", "steps/csim.py"):
        (package / edited).write_text((package / edited).read_text() + "\n")
        assert runner.steps_code_hash() != before, edited
        before = runner.steps_code_hash()


def test_new_images_in_the_flows_data_folder_mean_a_new_cache_key(tmp_path: Path):
    from hlsbox.config.flow import Flow
    from hlsbox.runtime.request import RunRequest, Workspace
    from hlsbox.runtime.runner import cache_key

    for name, data in (("cat/cat_0.png", b"one"), ("dog/dog_0.png", b"two")):
        (tmp_path / "data" / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / "data" / name).write_bytes(data)
    flow = Flow(name="f", model="m.keras", csim={"dataset": "images", "images": "data", "scale": 255})
    request = RunRequest("csim", flow, tmp_path / "f.toml", Workspace(tmp_path, tmp_path / "build"))
    keys = [cache_key(request, "model", "image")]
    (tmp_path / "data" / "dog" / "dog_0.png").write_bytes(b"three")
    keys.append(cache_key(request, "model", "image"))
    (tmp_path / "data" / "dog").rename(tmp_path / "data" / "wolf")
    keys.append(cache_key(request, "model", "image"))
    keys.append(cache_key(request, "model", "image"))
    assert len(set(keys)) == 3 and keys[2] == keys[3]


@pytest.mark.parametrize(
    ("error", "exit_code", "host_error"),
    [("StepInputError", 2, "BadInput"), ("StepFailure", 1, "StepFailed")],
)
def test_a_step_failure_is_no_kind_of_bad_input(tmp_path: Path, error: str, exit_code: int, host_error: str):
    """In the image, bad input exits 2 and an explained failure 1 (error.json says which); the host reads the
    record back as the same kind and exit code."""
    from rich.console import Console

    from hlsbox.core import errors
    from hlsbox.runtime.engines import Limits, Outcome
    from hlsbox.runtime.progress import StepDisplay
    from hlsbox.runtime.runner import explain_failure
    from hlsbox.steps import protocol

    raised = getattr(protocol, error)("what went wrong", "what to do")
    assert isinstance(raised, errors.BadInput) == (exit_code == errors.EXIT_BAD_INPUT)
    with pytest.raises(SystemExit) as ended:
        protocol.fail_with_error(tmp_path, raised)
    assert ended.value.code == exit_code
    with StepDisplay(Console(quiet=True), "step", tmp_path / "step.log") as display:
        pass
    failure = explain_failure("step", Outcome(exit_code, 1.0), display, tmp_path, Limits())
    assert type(failure) is getattr(errors, host_error) and failure.exit_code == exit_code
    assert failure.message == "what went wrong" and failure.hint == "what to do"


def test_a_steps_own_inputs_all_reach_its_spec(tmp_path: Path):
    """Every field of StepInputs (what a hook adds to spec.json) lands in the spec the runner writes."""
    own = StepInputs(
        csim_cache=CsimCache("/c"),
        fit=FitRun(FitParams(), "/f"),
        vivado=VivadoRun("vivado_hls", {"csim": 0}, ["vivado_hls"]),
    )
    request = RunRequest(
        "csim",
        Flow(name="x", model="m.keras"),
        tmp_path / "x.toml",
        Workspace(tmp_path, tmp_path / "build"),
        extras=StepExtras(spec=own),
    )
    spec = step_spec(request, "csim", tmp_path / "run")
    assert all(getattr(spec, f.name) == getattr(own, f.name) for f in dataclasses.fields(StepInputs))
    assert (spec.run_dir, spec.flow.name) == (str(tmp_path / "run"), "x")


def test_a_step_asked_for_another_result_type_is_refused_before_it_runs(tmp_path: Path):
    request = RunRequest("csim", Flow(name="x", model="m.keras"), tmp_path / "x.toml", Workspace(tmp_path, tmp_path))
    with pytest.raises(TypeError, match="the csim step reads back a CsimResult, not a FitResult"):
        run_step(Console(), request, FitResult)
