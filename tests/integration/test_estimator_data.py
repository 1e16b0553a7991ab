"""The described designs the estimator is held against (tests/data/estimator/described/) are what hlsbox's describe
step makes of the recorded models with hls4ml 1.3.0 today: a sample re-described in the real image equals them
(a CNN in io_stream with real weights' statistics, a pruned MLP, a QKeras pointwise Conv1D, a Resource MLP at a
high ReuseFactor). `make estimator-data` rewrites them all."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from tests.scripts import estimator_accuracy as accuracy

pytestmark = pytest.mark.integration
SAMPLE = (
    "kojos03-cnn8x8-conv4-stream-latency-16b-vitis2024",
    "hplata-tutorial-jet-mlp-pruned-16b-rf1-vhls2019",
    "brainz22-l1jettag-pwconv1d-qkeras8b-vhls2019",
    "mgrailoo-mnist-mlp784-100-10-6b-resource-rf7840-vhls2020",
)


def test_the_described_designs_are_current(engine, tmp_path: Path):
    data = tmp_path / accuracy.DATA.relative_to(accuracy.REPO)
    (data / "designs").mkdir(parents=True)
    for design in SAMPLE:
        shutil.copy(accuracy.DATA / "designs" / f"{design}.json", data / "designs")
    out = tmp_path / "described"
    assert sorted(accuracy.describe(tmp_path, out, engine)) == sorted(SAMPLE)
    for design in SAMPLE:
        fresh = json.loads((out / f"{design}.json").read_text())
        kept = json.loads((accuracy.DATA / "described" / f"{design}.json").read_text())
        assert fresh == kept, f"{design}: described data are stale; run `make estimator-data`"
