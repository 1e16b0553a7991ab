import zipfile
from pathlib import Path

import pytest

from hlsbox.errors import BadInput
from hlsbox.runner import check_model_file, finish, prepare_dir


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


def test_the_step_code_hash_follows_every_module_the_image_imports(tmp_path: Path, monkeypatch):
    """A copy of the package: editing a module the steps import (units.py, imported by the plan the steps use)
    or a data file changes the hash; editing a host-only module (cli.py) does not."""
    import shutil

    from hlsbox import runner

    package = tmp_path / "hlsbox"
    shutil.copytree(runner.PACKAGE_DIR, package, ignore=shutil.ignore_patterns("__pycache__"))
    monkeypatch.setattr(runner, "PACKAGE_DIR", package)
    before = runner.steps_code_hash()
    assert package / "units.py" in runner.image_modules()
    (package / "cli.py").write_text((package / "cli.py").read_text() + "\n# host only\n")
    assert runner.steps_code_hash() == before
    for edited in ("units.py", "data/recorded_designs.json"):
        (package / edited).write_text((package / edited).read_text() + "\n")
        assert runner.steps_code_hash() != before, edited
        before = runner.steps_code_hash()
