"""Report parsing on real reports (../shared/reports: hls4ml's own test fixture and reports of other designs)."""

import pytest

from hlsbox.vivado.reports import attach_layers, csynth_summary, instances
from tests.shared import shared


def test_per_instance_breakdown_of_the_hls4ml_fixture():
    rows = instances(shared("hls4ml_test_report/myproject_csynth.rpt"))
    dense = next(r for r in rows if r["instance"].startswith("dense"))
    assert (dense["DSP"], dense["FF"], dense["LUT"], dense["BRAM_18K"]) == (73, 7860, 2134, 0)
    assert dense["latency_max"] == 7
    assert len(rows) == 2


def test_instances_are_named_after_their_layer():
    rows = [
        {"instance": "dense_array_config2_U0", "module": "dense_array_config2_s"},
        {"instance": "relu_config3_U0", "module": "relu_config3_s"},
    ]
    attach_layers(
        rows, [{"name": "fc1", "class": "Dense", "index": 2}, {"name": "fc1_relu", "class": "Activation", "index": 3}]
    )
    assert [r["layer"] for r in rows] == ["fc1", "fc1_relu"]


def test_csynth_numbers_from_hls4mls_parser():
    summary = csynth_summary(
        {
            "TargetClockPeriod": "5.00",
            "EstimatedClockPeriod": "4.049",
            "BestLatency": "10",
            "WorstLatency": "10",
            "IntervalMin": "8",
            "IntervalMax": "8",
            "DSP": "73",
            "AvailableDSP": "220",
            "LUT": "2532",
        }
    )
    assert summary["TargetClockPeriod"] == 5 and summary["EstimatedClockPeriod"] == 4.049
    assert summary["resources"]["DSP"] == 73 and summary["available"]["DSP"] == 220
    assert summary["resources"]["URAM"] is None


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
    assert rows and sum(r.get(resource, 0) for r in rows) > 0
