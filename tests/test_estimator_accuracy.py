"""The estimator against real csynth reports of hls4ml designs (tests/data/estimator): the issue's goals met on
this data, and every figure hlsbox shows about its accuracy (the README's table, the plan's bands, the
surrogate's data) recomputed from the data, not copied."""

from __future__ import annotations

import json

import pytest

from hlsbox import surrogate
from hlsbox.plan import ERROR_BANDS
from tests import estimator_accuracy as accuracy
from tests.conftest import REPO

ROWS = {(row.tool, row.quantity): row for row in accuracy.table()}


def test_every_recorded_design_is_described():
    assert len(accuracy.designs()) == len(list((accuracy.DATA / "designs").glob("*.json"))) >= 50


@pytest.mark.parametrize(
    ("tool", "quantity", "median", "within_25", "within_2x"),
    [
        ("Vivado HLS", "DSP", (0.9, 1.1), 0.85, None),
        ("Vivado HLS", "BRAM_18K", None, 0.80, None),  # within +-25% or +-2 blocks
        ("Vivado HLS", "LUT", (0.8, 1.25), None, 0.80),
        ("Vivado HLS", "FF", (0.8, 1.25), None, 0.80),
        ("Vivado HLS", "latency", (0.8, 1.25), None, None),
        ("Vivado HLS", "interval", (0.8, 1.25), None, None),
        ("Vitis HLS", "DSP", (0.7, 1.4), None, None),
        ("Vitis HLS", "LUT", (0.7, 1.4), None, None),
        ("Vitis HLS", "FF", (0.7, 1.4), None, None),
    ],
)
def test_the_goals_hold_on_the_recorded_designs(tool, quantity, median, within_25, within_2x):
    row = ROWS[(tool, quantity)]
    if median:
        assert median[0] <= row.median <= median[1], row
    if within_25:
        assert row.within_25 >= within_25, row
    if within_2x:
        assert row.within_2x >= within_2x, row


def test_the_readmes_error_table_is_the_data():
    readme = (REPO / "README.md").read_text()
    assert accuracy.markdown(accuracy.table()) in readme
    assert accuracy.markdown(accuracy.table(accuracy.surrogate_points())) in readme


def test_the_plans_bands_are_the_data():
    assert accuracy.bands() == {tool: {q: tuple(b) for q, b in bands.items()} for tool, bands in ERROR_BANDS.items()}


def test_the_surrogates_designs_are_the_data():
    assert json.loads(surrogate.DATA.read_text()) == json.loads(json.dumps(accuracy.surrogate_records()))
