"""The live reading of Vivado HLS output, on made-up lines and on real logs (shared/reports, when present)."""

import re

import pytest

from hlsbox.vivado.log import STOP_ON, LogState, diagnose
from tests.shared import seed_author, shared


def read_all(lines: list[str]) -> LogState:
    state = LogState()
    for line in lines:
        state.read(line)
    return state


def test_phases_modules_counts_and_times():
    state = read_all(
        [
            "***** C/RTL SYNTHESIS *****",
            "INFO: [HLS 200-10] Analyzing design file 'firmware/myproject.cpp' ...",
            "WARNING: [HLS 200-40] something",
            "INFO: [HLS 200-42] -- Implementing module 'dense_latency_config2_s'",
            "INFO: [SCHED 204-11] Starting scheduling ...",
        ]
    )
    assert (state.phase, state.detail, state.module, state.warnings) == (
        "C synthesis",
        "scheduling",
        "dense_latency_config2_s",
        1,
    )
    state.read("INFO: [HLS 200-10] -- Generating RTL for module 'relu_config3_s'")
    assert (state.detail, state.module) == ("RTL generation", "relu_config3_s")
    state.read("***** C/RTL SYNTHESIS COMPLETED IN 1h2m3s *****")
    assert state.completed == {"C synthesis": 3723}
    state.read("ERROR: [HLS 200-70] Pre-synthesis failed.")
    assert state.errors == ["ERROR: [HLS 200-70] Pre-synthesis failed."]
    assert "C synthesis" in state.summary() and "1 errors" in state.summary()


@pytest.mark.parametrize(
    ("lines", "name"),
    [
        (["ERROR: [IMPL 213-28] Failed to generate IP.", "bad lexical cast: source type value could not be"], "Y2K22"),
        (["ERROR: '2208101851' is an invalid argument. Please specify an integer value."], "Y2K22"),
        (["ERROR: [XFORM 203-504] Stop unrolling loop 'MultLoop'"], "unroll limit"),
        (["ERROR: [Common 17-345] A valid license was not found for feature 'HLS'"], "licence"),
        (["terminate called after throwing an instance of 'std::bad_alloc'"], "memory"),
        (["@E Simulation failed: SIGSEGV.", "ERROR: [SIM 211-100] CSim failed with errors."], "C simulation"),
    ],
)
def test_known_failures_are_recognised(lines: list[str], name: str):
    assert [f.name for f in diagnose(lines)] == [name]


def test_a_clean_log_has_no_diagnosis():
    assert diagnose(["INFO: [HLS 200-10] Opening project", "***** C/RTL SYNTHESIS COMPLETED IN 0h0m9s *****"]) == []


def _shared(path: str) -> list[str]:
    file = shared(path)
    return file.read_text(errors="replace").splitlines()


def test_a_real_complete_2019_2_log():
    state = read_all(_shared("chiruichen_autoencoder_hls4ml/vivado_hls.log"))
    assert set(state.completed) == {"C simulation", "C synthesis", "export"}
    assert state.errors == [] and state.warnings > 0
    assert diagnose(_shared("chiruichen_autoencoder_hls4ml/vivado_hls.log")) == []


def test_a_real_log_with_cosim():
    state = read_all(_shared("yanlunhuang_hls4ml_layer_2019_2/vivado_hls.log"))
    assert {"C synthesis", "co-simulation", "export"} <= set(state.completed)


def test_a_real_csim_crash_is_explained():
    lines = _shared("chiruichen_vgg_2019_2/vivado_hls.log")
    assert read_all(lines).errors
    assert [f.name for f in diagnose(lines)] == ["C simulation"]


def test_a_real_killed_run_stops_mid_phase():
    state = read_all(_shared("chiruichen_unet_2019_2/vivado_hls.log"))
    assert state.phase == "C synthesis" and "C synthesis" not in state.completed


def test_the_seed_authors_2018_2_log_is_read_phase_by_phase():
    """The real Vivado HLS 2018.2 log of the seed's design (shared/seed/author): its sub-steps in order,
    the two warnings explained or diagnosed, and the run stopped at SYNCHK 200-77."""
    lines = seed_author("vivado_hls_2018_2_build.log").read_text(errors="replace").splitlines()
    state, details, notes = LogState(), [], []
    for line in lines:
        state.read(line)
        if not details or details[-1] != state.detail:
            details.append(state.detail)
        notes += state.notes()
        if state.detail == "checking synthesizability":
            assert "7 h 45 min" in state.stall_hint()
    wanted = [
        "elaboration",
        "linking done",
        "pragmas checked",
        "code transformations",
        "standard transforms done",
        "checking synthesizability",
        "synthesizability checked",
    ]
    assert [d for d in details if d in wanted] == wanted
    assert state.phase == "C synthesis"
    assert len(notes) == 1 and notes[0].startswith("HLS 214-113 (a warning")
    assert [f.name for f in diagnose(lines)] == ["SYNCHK 200-77"]
    assert any(re.search(stop.pattern, line, re.I) for stop in STOP_ON for line in lines)


def test_an_explained_warning_is_explained_once():
    state = read_all(["WARNING: [HLS 214-113] Variables defined outside dataflow region are not supported: a.cpp:1"])
    assert len(state.notes()) == 1
    state.read("WARNING: [HLS 214-113] Variables defined outside dataflow region are not supported: a.cpp:2")
    assert state.notes() == [] and state.warnings == 2
