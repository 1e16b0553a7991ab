"""The real image in the real Docker engine: convert and csim, limits, signals, clean-up."""

from __future__ import annotations

import json
import os
import signal
import time
import zipfile
from pathlib import Path

import pytest

from tests.conftest import REPO, assert_clean_error, hlsbox_containers, run_cli, start_cli, wait_for_running_container

pytestmark = [pytest.mark.integration, pytest.mark.core]
DIGITS = "flows/digits.toml"


def _run_dir(ws: Path, step: str, flow: str = "digits", part: str = "xc7z020clg400-1") -> Path:
    return ws / "build" / flow / part / step


def test_convert_writes_the_project_plot_and_manifest(workspace: Path, engine):
    result = run_cli("convert", "--flow", DIGITS, cwd=workspace)
    assert result.exit_code == 0, result.output
    run = _run_dir(workspace, "convert")
    assert (run / "hls4ml_prj" / "firmware" / "myproject.cpp").is_file()
    assert (run / "hls4ml_prj" / "build_prj.tcl").is_file()
    assert (run / "model.png").read_bytes().startswith(b"\x89PNG")
    manifest = json.loads((run / "manifest.json").read_text())
    assert manifest["status"] == "ok" and manifest["exit_code"] == 0
    assert manifest["image_id"].startswith("sha256:") and manifest["image"].startswith("hlsbox:")
    assert set(manifest["inputs"]) >= {"model_sha256", "flow_sha256"} and manifest["peak_memory"] > 0
    assert manifest["versions"]["tensorflow"] == "2.15.0"
    assert manifest["versions"]["numpy"] == "1.25.0"
    assert manifest["versions"]["hls4ml"] == "1.3.0"
    assert (run / "hls4ml_prj").stat().st_uid == os.getuid()  # written as the host user
    layers = json.loads((run / "result.json").read_text())["layers"]
    assert [row["class"] for row in layers if row["class"] in ("Conv2D", "Dense")] == ["Conv2D", "Dense", "Dense"]
    assert not hlsbox_containers(engine)


def test_csim_agrees_with_keras_on_real_digits(workspace: Path, engine):
    result = run_cli("csim", "--flow", DIGITS, cwd=workspace)
    assert result.exit_code == 0, result.output
    data = json.loads((_run_dir(workspace, "csim") / "result.json").read_text())
    assert data["samples"] == 450
    assert data["top1_agreement"] >= 0.95, data
    assert data["keras_accuracy"] >= 0.85 and data["hls_accuracy"] >= 0.85, data
    assert "top-1 agreement with Keras" in result.stdout


def test_past_its_time_limit_a_step_is_killed_with_124_and_the_good_result_stays(workspace: Path, engine):
    good = _run_dir(workspace, "convert")
    if not (good / "result.json").is_file():
        assert run_cli("convert", "--flow", DIGITS, cwd=workspace).exit_code == 0
    before = (good / "result.json").read_text()
    start = time.monotonic()
    result = run_cli("convert", "--flow", DIGITS, "--timeout", "2s", "--force", cwd=workspace)
    assert_clean_error(result, 124, "did not finish within its time limit of 2s")
    assert time.monotonic() - start < 30
    assert not hlsbox_containers(engine)
    assert (good / "result.json").read_text() == before
    assert (good.with_name("convert.failed") / "step.log").is_file()


def test_out_of_memory_is_reported_with_137(workspace: Path, engine):
    result = run_cli("convert", "--flow", DIGITS, "--mem", "100m", "--force", cwd=workspace)
    assert_clean_error(result, 137, "ran out of memory at 100.0 MiB")
    assert not hlsbox_containers(engine)


def test_a_model_keras_cannot_load_is_bad_input(workspace: Path, engine, tmp_path: Path):
    bad = workspace / "models" / "bad.keras"
    with zipfile.ZipFile(bad, "w") as z:  # passes the host's zip check, fails in Keras
        z.writestr("config.json", '{"class_name": "NoSuchModel", "config": {}}')
        z.writestr("metadata.json", '{"keras_version": "2.15.0"}')
    flow = (workspace / DIGITS).read_text().replace("models/digits_cnn.keras", "models/bad.keras")
    (workspace / "flows" / "bad.toml").write_text(flow.replace('name = "digits"', 'name = "bad"'))
    result = run_cli("convert", "--flow", "flows/bad.toml", cwd=workspace)
    assert_clean_error(result, 2, "could not be loaded as a Keras model")


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_a_signal_stops_the_container_and_leaves_nothing(workspace: Path, engine, sig: signal.Signals):
    proc = start_cli("csim", "--flow", DIGITS, "--force", cwd=workspace)
    wait_for_running_container(engine)
    time.sleep(1)
    proc.send_signal(sig)
    output = proc.communicate(timeout=30)[0]
    assert proc.returncode == 130, output
    assert "Traceback" not in output
    assert not hlsbox_containers(engine)


def test_missing_image_is_explained(workspace: Path, engine, tmp_path: Path):
    docker_copy = tmp_path / "docker"
    docker_copy.mkdir()
    for name in ("Dockerfile", "requirements.lock", "hlsbox-entry"):
        (docker_copy / name).write_bytes((REPO / "docker" / name).read_bytes())
    (docker_copy / "Dockerfile").write_text((docker_copy / "Dockerfile").read_text() + "\n# changed\n")
    result = run_cli("convert", "--flow", DIGITS, cwd=workspace, env={"HLSBOX_DOCKER_DIR": str(docker_copy)})
    assert_clean_error(result, 2, "is not built yet", "make image")


def test_an_unchanged_run_is_skipped_and_a_changed_one_is_not(workspace: Path, engine):
    assert run_cli("convert", "--flow", DIGITS, cwd=workspace).exit_code == 0
    again = run_cli("convert", "--flow", DIGITS, cwd=workspace)
    assert again.exit_code == 0 and "up to date" in again.stdout
    manifest = json.loads((_run_dir(workspace, "convert") / "manifest.json").read_text())
    flow = (workspace / DIGITS).read_text().replace("clock_period = 5.0", "clock_period = 4.0")
    (workspace / "flows" / "digits_fast.toml").write_text(flow.replace('name = "digits"', 'name = "digits_fast"'))
    changed = run_cli("convert", "--flow", "flows/digits_fast.toml", cwd=workspace)
    assert changed.exit_code == 0 and "up to date" not in changed.stdout
    forced = run_cli("convert", "--flow", DIGITS, "--force", cwd=workspace)
    assert forced.exit_code == 0 and "up to date" not in forced.stdout
    assert (
        json.loads((_run_dir(workspace, "convert") / "manifest.json").read_text())["cache_key"] == manifest["cache_key"]
    )
