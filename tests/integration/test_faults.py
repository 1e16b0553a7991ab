"""Faults a long run must survive, against the real engine: each ends in a clear error and its exit
code, nothing is left running, and the last good result stays."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from tests.conftest import (
    REPO,
    assert_clean_error,
    hlsbox_containers,
    make_model,
    run_cli,
    start_cli,
    wait_for_running_container,
)

pytestmark = pytest.mark.integration
DIGITS = "flows/digits.toml"

UNSUPPORTED_MODEL = """
import argparse
import tensorflow as tf
parser = argparse.ArgumentParser()
parser.add_argument("--out")
layers = tf.keras.layers
model = tf.keras.Sequential([layers.Input((4, 4, 4, 1)), layers.Cropping3D(1), layers.Flatten(), layers.Dense(2)])
model.save(parser.parse_args().out)
"""


def test_a_layer_hls4ml_does_not_support_is_bad_input(workspace: Path, engine):
    (workspace / "models" / "unsupported.py").write_text(UNSUPPORTED_MODEL)
    make_model(workspace, "unsupported.py", "unsupported.keras")
    flow = (workspace / DIGITS).read_text().replace("digits_cnn.keras", "unsupported.keras")
    (workspace / "flows" / "unsupported.toml").write_text(flow.replace('name = "digits"', 'name = "unsupported"'))
    result = run_cli("convert", "--flow", "flows/unsupported.toml", cwd=workspace)
    assert_clean_error(result, 2, "hls4ml cannot convert this model", "Unsupported layer type: Cropping3D")


def test_a_failing_model_script_shows_its_exception_and_keeps_its_log(workspace: Path):
    (workspace / "models" / "broken.py").write_text("raise ValueError('no data in /nowhere')\n")
    result = run_cli("model", "models/broken.py", "--out", "models/broken.keras", cwd=workspace)
    assert_clean_error(result, 1, "ValueError: no data in /nowhere", "Full log:")
    log = Path(result.output.split("Full log:")[1].split()[0])
    assert log.is_file() and "no data in /nowhere" in log.read_text()
    assert not (workspace / "models" / "broken.keras").exists() and not list(workspace.glob("build/.model.tmp-*"))


def test_an_unwritable_output_dir(workspace: Path):
    blocker = workspace / "not-a-dir"
    blocker.write_text("")
    result = run_cli("convert", "--flow", DIGITS, "--build-dir", "not-a-dir/build", cwd=workspace)
    assert_clean_error(result, 2, "Cannot write to the output directory")


@pytest.mark.skipif(os.geteuid() != 0, reason="mounting a tmpfs needs root")
def test_a_full_disk_stops_before_the_run_and_keeps_the_good_result(workspace: Path, engine):
    tiny = workspace / "tiny"
    tiny.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=256m", "tmpfs", str(tiny)], check=True)
    try:
        assert run_cli("convert", "--flow", DIGITS, "--build-dir", "tiny", cwd=workspace).exit_code == 0
        good = tiny / "digits" / "xc7z020clg400-1" / "convert" / "result.json"
        before = good.read_text()
        free = os.statvfs(tiny).f_bavail * os.statvfs(tiny).f_frsize
        subprocess.run(["fallocate", "-l", str(free - (50 << 20)), str(tiny / "filler")], check=True)
        result = run_cli("convert", "--flow", DIGITS, "--build-dir", "tiny", "--force", cwd=workspace)
        assert_clean_error(result, 2, "is nearly full", "free")
        assert good.read_text() == before
    finally:
        subprocess.run(["umount", str(tiny)], check=True)


def test_two_runs_of_one_step_at_once(workspace: Path, engine):
    first = start_cli("csim", "--flow", DIGITS, "--force", cwd=workspace)
    try:
        wait_for_running_container(engine)
        second = run_cli("csim", "--flow", DIGITS, "--force", cwd=workspace)
        assert_clean_error(second, 1, "Another `csim` of flow 'digits'", "is running")
    finally:
        first.send_signal(signal.SIGINT)
        first.communicate(timeout=60)
    assert first.returncode == 130
    assert not hlsbox_containers(engine)
    assert (
        json.loads((workspace / "build" / "digits" / "xc7z020clg400-1" / "csim.failed" / "manifest.json").read_text())[
            "status"
        ]
        == "interrupted"
    )


@pytest.mark.parametrize("how", ["ctrl-c to the terminal's process group", "SIGTERM to make"])
def test_stopping_make_stops_the_container(workspace: Path, engine, seed_model: Path, how: str):
    make = subprocess.Popen(
        ["make", "-f", str(REPO / "Makefile"), "csim", f"FLOW={DIGITS}", "FORCE=1"],
        cwd=workspace,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        wait_for_running_container(engine, timeout=120)
        if how.startswith("ctrl-c"):
            os.killpg(make.pid, signal.SIGINT)
        else:
            make.send_signal(signal.SIGTERM)
        make.communicate(timeout=60)
    finally:
        if make.poll() is None:
            os.killpg(make.pid, signal.SIGKILL)
    assert make.returncode != 0
    deadline = time.monotonic() + 10
    while hlsbox_containers(engine) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not hlsbox_containers(engine)
