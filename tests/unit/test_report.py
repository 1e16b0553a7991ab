"""Report parsing on real reports (../shared/reports: hls4ml's own test fixture and reports of other designs)."""

import json
import shutil
from pathlib import Path

import pytest

from hlsbox.core.contract import LayerRow, VivadoResult
from hlsbox.core.parts import resolve_device
from hlsbox.vivado.reports import SynthInstance, SynthReport, attach_layers, build_report, csynth_summary, instances
from tests.shared import shared

# What hls4ml's parse_vivado_report gives for its own fixture (hls4ml_test_report: the csynth .xml's strings, the
# vivado_synth.rpt's) and for the test double's cosim .rpt (Verilog Pass, latency 10, interval 8).
HLS4ML_PARSE = {
    "CSynthesisReport": {
        "TargetClockPeriod": "5.00",
        "EstimatedClockPeriod": "4.049",
        "BestLatency": "10",
        "WorstLatency": "10",
        "IntervalMin": "8",
        "IntervalMax": "8",
        "BRAM_18K": "0",
        "DSP": "73",
        "FF": "7969",
        "LUT": "2532",
        "URAM": "0",
        "AvailableBRAM_18K": "280",
        "AvailableDSP": "220",
        "AvailableFF": "106400",
        "AvailableLUT": "53200",
        "AvailableURAM": "0",
    },
    "CosimReport": {
        "RTL": "Verilog",
        "Status": "Pass",
        "LatencyMin": "10",
        "LatencyMax": "10",
        "IntervalMin": "8",
        "IntervalMax": "8",
    },
    "VivadoSynthReport": {"LUT": "1526", "FF": "2428", "BRAM_18K": "0", "DSP48E": "66"},
}


def test_per_instance_breakdown_of_the_hls4ml_fixture():
    rows = instances(shared("hls4ml_test_report/myproject_csynth.rpt"))
    dense = next(r for r in rows if r.instance.startswith("dense"))
    assert tuple(dense.resource(r) for r in ("DSP", "FF", "LUT", "BRAM_18K")) == (73, 7860, 2134, 0)
    assert dense.latency_max == 7
    assert len(rows) == 2


def test_instances_are_named_after_their_layer():
    rows = [
        SynthInstance("dense_array_config2_U0", "dense_array_config2_s"),
        SynthInstance("relu_config3_U0", "relu_config3_s"),
    ]
    named = attach_layers(rows, [LayerRow("fc1", "Dense", index=2), LayerRow("fc1_relu", "Activation", index=3)])
    assert [r.layer for r in named] == ["fc1", "fc1_relu"]


def test_csynth_numbers_from_hls4mls_parser():
    """Strings -> numbers; a resource the report does not state (here URAM) is None."""
    section = {key: value for key, value in HLS4ML_PARSE["CSynthesisReport"].items() if "URAM" not in key}
    summary = csynth_summary(section)
    assert summary.target_clock_period == 5 and summary.estimated_clock_period == 4.049
    assert summary.resources["DSP"] == 73 and summary.available["DSP"] == 220
    assert summary.resources["URAM"] is None


@pytest.mark.parametrize(
    ("path", "resource"),
    [
        ("chiruichen_autoencoder_hls4ml/myproject_csynth.rpt", "DSP"),
        ("seanlipps_ece226_vitis2024/myproject_csynth.rpt", "DSP"),
        ("spallen_hgdream_vitis/myproject_csynth.rpt", "LUT"),
    ],
)
def test_real_reports_of_other_versions(path: str, resource: str):
    rows = instances(shared(path))
    assert rows and sum(r.resource(resource) for r in rows) > 0


def _fixture_project(base: Path) -> Path:
    """An hls4ml project dir with the fixture's csynth reports where Vivado HLS writes them."""
    report_dir = base / "myproject_prj" / "solution1" / "syn" / "report"
    report_dir.mkdir(parents=True)
    for suffix in ("rpt", "xml"):
        shutil.copy(shared(f"hls4ml_test_report/myproject_csynth.{suffix}"), report_dir / f"myproject_csynth.{suffix}")
    return base


def _fixture_report(tmp_path: Path) -> SynthReport:
    result = VivadoResult("csynth", "vivado_hls", ("vivado_hls",), 0, HLS4ML_PARSE, ip_archives=("ip.zip",))
    layers = (LayerRow("fc1", "Dense", index=2), LayerRow("fc1_relu", "Activation", index=3))
    return build_report(
        result, "xc7z020clg400-1", _fixture_project(tmp_path), layers, resolve_device("xc7z020clg400-1")
    )


def test_a_real_report_builds_into_the_numbers_it_states(tmp_path: Path):
    """hls4ml's fixture (its test_report.py: latency 10, II 8, clock 4.049 ns, DSP 73 / 220, FF 7969, LUT 2532;
    Vivado synthesis LUT 1526, FF 2428, DSP 66) and its .rpt's per-instance rows."""
    report = _fixture_report(tmp_path)
    synth = report.csynth
    assert (synth.best_latency, synth.worst_latency, synth.interval_min, synth.interval_max) == (10, 10, 8, 8)
    assert (synth.target_clock_period, synth.estimated_clock_period) == (5, 4.049)
    assert (synth.resources["DSP"], synth.resources["FF"], synth.resources["LUT"]) == (73, 7969, 2532)
    assert synth.available["DSP"] == 220
    dense, relu = report.instances
    assert (dense.layer, dense.resource("DSP"), dense.resource("LUT"), dense.latency_max) == ("fc1", 73, 2134, 7)
    assert (relu.layer, relu.resource("FF"), relu.resource("LUT"), relu.latency_max) == ("fc1_relu", 84, 256, 2)
    assert (report.cosim.status, report.cosim.latency_max, report.cosim.interval_min) == ("Pass", 10, 8)
    assert report.vsynth == {"LUT": 1526, "FF": 2428, "BRAM_18K": 0, "DSP": 66}
    assert report.ip_archives == ("ip.zip",)


def test_report_json_keeps_hls4mls_names_and_survives_json(tmp_path: Path):
    report = _fixture_report(tmp_path)
    report.write(tmp_path / "report.json")
    data = json.loads((tmp_path / "report.json").read_text())
    assert data["csynth"]["WorstLatency"] == 10 and data["csynth"]["resources"]["DSP"] == 73
    assert data["instances"][0]["DSP"] == 73 and data["instances"][0]["layer"] == "fc1"
    assert data["cosim"] == {
        "RTL": "Verilog",
        "Status": "Pass",
        "LatencyMin": 10,
        "LatencyMax": 10,
        "IntervalMin": 8,
        "IntervalMax": 8,
    }
    assert data["vsynth"]["DSP"] == 66 and data["ip_archives"] == ["ip.zip"]
    assert SynthReport.from_dict(data) == report


def test_a_report_of_a_step_with_no_reports_has_none_of_them(tmp_path: Path):
    result = VivadoResult("export", "vivado_hls", ("vivado_hls",), 0, {"parser_messages": []})
    report = build_report(result, "xc7z020clg400-1", tmp_path, (), resolve_device("xc7z020clg400-1"))
    assert set(report.to_dict()) == {"part", "device", "capacity"}
    assert report.csynth is None and report.instances is None and report.cosim is None
