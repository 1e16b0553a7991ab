"""A user's own labelled images (class subfolders of PNG/JPEG, torchvision's ImageFolder layout), in the real
image: the seed author's 100 CIFAR-10 test images with the author's own model, fit's 50/50 split of one set, and
data the image cannot read as bad input."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from tests.conftest import assert_clean_error, run_cli, run_in_image, write_flow
from tests.shared import seed_author

pytestmark = pytest.mark.integration

IMAGES = {"dataset": "images", "images": "data/sample_images", "scale": 255, "samples": 100}


@pytest.fixture(scope="module")
def author(workspace: Path) -> Path:
    """The author's model (as models/author_2_15.keras) and sample_images/ (as data/sample_images) copied into the
    workspace: the container sees only the workspace."""
    model = workspace / "models" / "author_2_15.keras"
    shutil.copy(seed_author("model_2_15.keras"), model)
    if not (workspace / "data" / "sample_images").is_dir():
        shutil.copytree(seed_author("sample_images"), workspace / "data" / "sample_images")
    return model


def test_csim_on_the_authors_images(workspace: Path, author: Path):
    """The 100 images, read as the model was trained (pixels / 255), labelled by their sorted class folders:
    Keras gets most of them right (the author measured 78%; a wrong scale or label order gives ~10%)."""
    flow = write_flow(
        workspace / "flows", "author_images", model="models/author_2_15.keras", csim=IMAGES, reuse_factor=1
    )
    result = run_cli("csim", "--flow", str(flow.relative_to(workspace)), cwd=workspace)
    assert result.exit_code == 0, result.output
    assert "images: 100 in 10 classes (airplane, automobile, bird" in result.output
    data = json.loads((workspace / "build" / "author_images" / "xc7z010clg400-1" / "csim" / "result.json").read_text())
    assert data["samples"] == 100 and data["dataset"] == "images"
    assert data["keras_accuracy"] >= 0.7, data


SPLIT = """
import sys
from pathlib import Path
import numpy as np
from hlsbox.core.contract import CsimInputs
from hlsbox.steps import csim
settings = CsimInputs(dataset="images", images="data/sample_images", scale=255, samples=40, seed=0)
calibration, held, labels = csim.split_inputs(settings, (32, 32, 3), Path.cwd(), 1000)
every = {x.tobytes() for x in calibration} | {x.tobytes() for x in held}
print("SPLIT", len(calibration), len(held), len(every), np.bincount(labels).tolist())
print("RANGE", float(calibration.min()), float(calibration.max()))
"""


def test_fit_splits_one_set_of_images_by_class(engine, workspace: Path, author: Path):
    """Given only one labelled set, fit calibrates on one half and checks on the other (never the same image),
    every class split evenly, and says so."""
    lines = run_in_image(engine, workspace, SPLIT)
    assert any("one labelled set of 100 (images): split 50/50 by class" in line for line in lines), lines
    split = next(line for line in lines if line.startswith("SPLIT")).split(maxsplit=4)
    assert split[1:4] == ["50", "40", "90"]  # 50 to calibrate on, 40 of the other 50 held out, none in both
    assert json.loads(split[4]) == [4] * 10  # the held-out 40: 4 of each class
    low, high = map(float, next(line for line in lines if line.startswith("RANGE")).split()[1:])
    assert 0 <= low < 0.1 and 0.9 < high <= 1


def test_an_unreadable_image_is_bad_input(workspace: Path, author: Path):
    broken = workspace / "data" / "broken_images"
    if not broken.exists():
        shutil.copytree(workspace / "data" / "sample_images", broken)
    png = broken / "cat" / "cat_3.png"
    png.write_bytes(png.read_bytes()[:60])  # a truncated PNG
    csim = {**IMAGES, "images": "data/broken_images"}
    flow = write_flow(workspace / "flows", "broken_images", model="models/author_2_15.keras", csim=csim)
    result = run_cli("csim", "--flow", str(flow.relative_to(workspace)), cwd=workspace)
    assert_clean_error(result, 2, "cat_3.png' cannot be read", "complete PNG or JPEG")


# What a CIFAR-10 batch re-pickled with numpy 2 arrays starts with: a reference to numpy._core.
NUMPY2_PICKLE = b"\x80\x02cnumpy._core.multiarray\n_reconstruct\nq\x00."


def test_a_cifar10_batch_pickled_by_numpy_2_is_bad_input(workspace: Path, author: Path):
    batches = workspace / "data" / "cifar-numpy2"
    batches.mkdir(parents=True, exist_ok=True)
    (batches / "test_batch").write_bytes(NUMPY2_PICKLE)
    csim = {"dataset": "cifar10", "cifar10_path": "data/cifar-numpy2"}
    flow = write_flow(workspace / "flows", "cifar_numpy2", model="models/author_2_15.keras", csim=csim)
    result = run_cli("csim", "--flow", str(flow.relative_to(workspace)), cwd=workspace)
    assert_clean_error(result, 2, "pickled with numpy arrays by a newer numpy", "numpy._core", 'dataset = "images"')
