"""fit's parallel C simulation cannot deadlock (issue 18): in the real image, through a real hls4ml library on
32x32x3 inputs, it gives the serial outputs in order, and breaking out early, a worker killed underneath, a library
call that never returns and an interrupt all return within seconds, every time, with no worker left behind."""

from __future__ import annotations

import json

import pytest

from tests.conftest import REPO, run_in_image

pytestmark = pytest.mark.integration
SCRIPT = REPO / "tests" / "in_image" / "parallel_predict.py"


@pytest.fixture(scope="module")
def cases(engine, tmp_path_factory) -> dict[str, dict]:
    root = tmp_path_factory.mktemp("parallel")
    lines = run_in_image(engine, root, SCRIPT.read_text(), timeout=600, args=(str(root),))
    return {row["case"]: row for row in (json.loads(x[5:]) for x in lines if x.startswith("CASE "))}


def test_the_outputs_are_the_serial_ones_in_order(cases: dict):
    row = cases["in_order"]
    assert row["mode"] == "fast" and row["identical"] and row["firsts"] and row["one_worker"], row
    assert row["nonzero"] > 0.5, row  # the outputs carry information: not a comparison of zeros
    assert not row["left_behind"], row


def test_breaking_out_early_always_returns_at_once(cases: dict):
    row = cases["break_early"]
    assert row["loops"] >= 20 and row["outcomes"] == ["returned"], row
    assert row["slowest"] < 5 and not row["left_behind"], row


def test_a_worker_killed_underneath_is_an_error_not_a_hang(cases: dict):
    row = cases["worker_killed"]
    assert row["loops"] >= 20 and row["outcomes"] == ["WorkerDied"], row
    assert row["slowest"] < 10 and not row["left_behind"], row


def test_a_library_call_that_never_returns_is_given_up(cases: dict):
    row = cases["silent_library"]
    assert row["outcomes"] == ["Silent"] and 2 <= row["slowest"] < 10, row
    assert not row["left_behind"], row


def test_an_interrupt_stops_the_workers(cases: dict):
    row = cases["interrupted"]
    assert row["outcomes"] == ["KeyboardInterrupt"] and row["slowest"] < 5, row
    assert not row["left_behind"], row
