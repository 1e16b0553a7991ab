"""The model scripts in models/: `make models` keeps a user's own model file, and models/mini_resnet.py builds
the seed's real network (the author's model_2_15.keras, layer for layer)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import zipfile
from pathlib import Path

import pytest

from tests.conftest import REPO, run_in_image
from tests.shared import seed_author

# Stands in for the hlsbox CLI in the Makefile: writes the --out file as `hlsbox model` would.
FAKE_HLSBOX = """#!/bin/sh
while [ "$1" != --out ]; do shift; done
echo made > "$2"
"""


def _make(root: Path, *targets: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["make", "-o", "image", "-o", "setup", *targets, f"HLSBOX={root / 'hlsbox'}"],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=60,
    )


def _newer(path: Path, than: Path) -> None:
    stamp = than.stat().st_mtime + 10
    os.utime(path, (stamp, stamp))


@pytest.fixture
def checkout(tmp_path: Path) -> Path:
    shutil.copy(REPO / "Makefile", tmp_path)
    shutil.copytree(REPO / "models", tmp_path / "models", ignore=shutil.ignore_patterns("*.keras", "*.h5", "*.made*"))
    (tmp_path / "hlsbox").write_text(FAKE_HLSBOX)
    (tmp_path / "hlsbox").chmod(0o755)
    return tmp_path


def test_make_models_never_overwrites_a_model_it_did_not_write(checkout: Path):
    model = checkout / "models" / "model_2_15.keras"
    model.write_text("the author's model")
    _newer(checkout / "models" / "mini_resnet.py", model)  # the script newer than the model: make would remake it
    result = _make(checkout, "models/model_2_15.keras")
    assert result.returncode == 0, result.stderr
    assert model.read_text() == "the author's model"
    assert "kept" in result.stdout and "did not write it" in result.stdout


def test_make_models_remakes_what_it_wrote(checkout: Path):
    model = checkout / "models" / "model_2_15.keras"
    assert _make(checkout, "models/model_2_15.keras").returncode == 0
    assert model.read_text() == "made\n" and (checkout / "models" / "model_2_15.keras.made-by-make").is_file()
    model.write_text("stale")
    _newer(checkout / "models" / "mini_resnet.py", model)
    assert _make(checkout, "models/model_2_15.keras").returncode == 0
    assert model.read_text() == "made\n"


# Records every call of the hlsbox CLI the Makefile makes, and writes the --out file as `hlsbox model` would.
LOGGING_HLSBOX = """#!/bin/sh
echo "$@" >> "$(dirname "$0")/calls.log"
while [ $# -gt 0 ] && [ "$1" != --out ]; do shift; done
[ $# -gt 0 ] && echo made > "$2"
exit 0
"""


def _calls(checkout: Path, *make_args: str) -> list[str]:
    (checkout / "hlsbox").write_text(LOGGING_HLSBOX)
    result = _make(checkout, *make_args)
    assert result.returncode == 0, result.stdout + result.stderr
    log = checkout / "calls.log"
    return log.read_text().splitlines() if log.is_file() else []


def test_a_step_of_a_flow_makes_only_its_model_and_builds_its_toolchains_image(checkout: Path):
    """`make plan FLOW=...`: the shipped model the flow names is made (no other demo model), and the image of the
    flow's toolchain is built (`hlsbox image build --flow`: its model picks it), for a model of the user's own too."""
    (checkout / "flows").mkdir()
    (checkout / "flows" / "mine.toml").write_text('name = "mine"\nmodel = "models/mine.keras"\n')
    (checkout / "models" / "mine.keras").write_text("the user's own Keras 3 model")
    calls = _calls(checkout, "plan", "FLOW=flows/mine.toml")
    assert [call.split()[:4] for call in calls] == [
        ["image", "build", "--flow", "flows/mine.toml"],
        ["plan", "--flow", "flows/mine.toml"],
    ], calls
    (checkout / "calls.log").unlink()
    (checkout / "flows" / "digits.toml").write_text('name = "digits"\nmodel = "models/digits_cnn.keras"\n')
    calls = _calls(checkout, "plan", "FLOW=flows/digits.toml")
    assert [call.split()[:2] for call in calls] == [
        ["model", "models/digits_cnn.py"],
        ["image", "build"],
        ["plan", "--flow"],
    ], calls


def _layers(keras_file: Path) -> list[tuple[str, str, dict]]:
    """(class, name, the config that defines the network) of every layer of a .keras file, from its config.json."""
    config = json.loads(zipfile.ZipFile(keras_file).read("config.json"))
    keep = ("filters", "kernel_size", "strides", "padding", "activation", "use_bias", "pool_size", "units")
    return [
        (layer["class_name"], layer["config"]["name"], {k: layer["config"].get(k) for k in keep})
        for layer in config["config"]["layers"]
    ]


def _inputs(keras_file: Path) -> dict[str, list[str]]:
    config = json.loads(zipfile.ZipFile(keras_file).read("config.json"))
    return {
        layer["config"]["name"]: [node[0] for nodes in layer["inbound_nodes"] for node in nodes]
        for layer in config["config"]["layers"]
    }


COUNT = """
import sys
from tensorflow.keras.models import load_model
print("PARAMS", load_model(sys.argv[1], compile=False).count_params())
"""


@pytest.mark.integration
def test_mini_resnet_builds_the_authors_network(engine, workspace: Path, seed_model: Path):
    """models/mini_resnet.py makes the seed's 28->56 network: 52,622 parameters, and when the author's
    model_2_15.keras is present, its very layers, settings, names and connections."""
    lines = run_in_image(engine, workspace, COUNT, args=(str(seed_model),))
    assert "PARAMS 52622" in lines
    classes = [cls for cls, _, _ in _layers(seed_model)]
    assert "BatchNormalization" not in classes and classes.count("Conv2D") == 6 and classes.count("Add") == 2
    author = seed_author("model_2_15.keras")
    assert _layers(seed_model) == _layers(author)
    assert _inputs(seed_model) == _inputs(author)
