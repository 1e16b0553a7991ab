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


def test_new_images_in_the_flows_data_folder_mean_a_new_cache_key(tmp_path: Path):
    from hlsbox.flow import Flow
    from hlsbox.request import RunRequest, Workspace
    from hlsbox.runner import cache_key

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
