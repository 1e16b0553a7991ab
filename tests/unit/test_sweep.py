"""Sweep pieces without Docker: the grid, the variants, their flow files, the Slurm script, the front."""

import dataclasses
import json
from pathlib import Path

import pytest

from hlsbox.commands.sweep import (
    SlurmJob,
    expand,
    gather,
    pareto_front,
    parse_grid,
    plot_points,
    slurm_script,
    split_values,
    write_variants,
)
from hlsbox.config.flow import Flow, image_flow
from hlsbox.config.formats import load_flow, to_toml
from hlsbox.core.contract import DescribeResult, LayerRow
from hlsbox.core.errors import BadInput
from hlsbox.core.parts import resolve_device
from hlsbox.core.planner import make_plan
from hlsbox.runtime.engines import Limits
from hlsbox.vivado.reports import CsynthSummary, SynthReport

BASE = Flow(
    name="digits", model="models/digits_cnn.keras", part="xc7z020clg400-1", precision={"result": "ap_fixed<16,6>"}
)


def test_precisions_keep_their_commas():
    assert split_values("ap_fixed<16,6>,ap_fixed<8,3>") == ["ap_fixed<16,6>", "ap_fixed<8,3>"]
    assert split_values("16, 32,64") == ["16", "32", "64"]


def test_grid_axes_are_checked():
    assert parse_grid(["reuse_factor=16,32", "precision=ap_fixed<16,6>"]) == {
        "reuse_factor": ["16", "32"],
        "precision": ["ap_fixed<16,6>"],
    }
    for bad in (["colour=red"], ["reuse_factor"], ["reuse_factor="]):
        with pytest.raises(BadInput, match="is not a grid axis"):
            parse_grid(bad)
    with pytest.raises(BadInput, match="no grid"):
        parse_grid([])


def test_every_combination_is_a_named_valid_flow():
    variants = expand(BASE, parse_grid(["reuse_factor=1,2", "precision=ap_fixed<16,6>,ap_fixed<8,3>"]))
    assert [v.name for v in variants] == [
        "digits-rf1-pfx16_6",
        "digits-rf1-pfx8_3",
        "digits-rf2-pfx16_6",
        "digits-rf2-pfx8_3",
    ]
    assert variants[3].flow.reuse_factor == 2 and variants[3].flow.precision["weight"] == "ap_fixed<8,3>"
    assert variants[3].flow.precision["result"] == "ap_fixed<8,3>"
    with pytest.raises(BadInput, match="is not a valid flow"):
        expand(BASE, parse_grid(["reuse_factor=0"]))


def test_variant_flow_files_read_back_the_same(tmp_path: Path):
    variants = expand(BASE, parse_grid(["io_type=io_parallel,io_stream"]))
    paths = write_variants(variants, tmp_path)
    for variant, path in zip(variants, paths, strict=True):
        assert load_flow(path) == variant.flow
    before = paths[0].stat().st_mtime_ns
    write_variants(variants, tmp_path)  # unchanged: not rewritten, so caches stay valid
    assert paths[0].stat().st_mtime_ns == before
    assert "[precision]" in to_toml(BASE)


def test_slurm_script_maps_our_limits(tmp_path: Path):
    job = SlurmJob("csim", Path("/ws"), Limits(memory=4 << 30, cpus=1.5, timeout=3600), tmp_path)
    script = slurm_script(job, tmp_path / "requests.txt", 8)
    assert "#SBATCH --array=0-7" in script
    assert "#SBATCH --mem=5120M" in script  # 4 GiB for the container + 1 GiB for hlsbox
    assert "#SBATCH --time=1:10:00" in script  # the step's hour + 10 minutes
    assert "#SBATCH --cpus-per-task=2" in script
    assert 'sed -n "$((SLURM_ARRAY_TASK_ID + 1))p"' in script and "status/$SLURM_ARRAY_TASK_ID" in script


def test_pareto_front_by_hand():
    # (resources, latency): (0.2, 100) and (0.5, 10) trade off; (0.6, 120) is beaten by both; (0.2, 150) by the first
    points = [(0.2, 100), (0.5, 10), (0.6, 120), (0.2, 150), (0.9, 10)]
    assert pareto_front(points) == [0, 1]


def test_the_results_table_reads_each_variants_plan_and_report(tmp_path: Path):
    """gather: the plan's verdict and estimates (plan.json), csynth's latency, interval and resources (report.json)."""
    (variant,) = expand(BASE, parse_grid(["reuse_factor=4"]))
    base = tmp_path / variant.name / variant.flow.part
    dense = LayerRow("fc1", "Dense", index=2, outputs=10, reuse_asked=4, reuse_used=4, n_in=64, n_out=10, pixels=1)
    described = DescribeResult(
        step="describe", parameters=650, input_shape=(64,), io_type="io_parallel", layers=(dense,), hls_config={}
    )
    device = resolve_device(variant.flow.part)
    plan = make_plan(described, image_flow(variant.flow), device)
    synth = CsynthSummary(5.0, 4.2, 12, 13, 4, 5, {"LUT": 900, "FF": 800, "BRAM_18K": 0, "DSP": 40, "URAM": None})
    (base / "plan").mkdir(parents=True)
    (base / "plan" / "plan.json").write_text(json.dumps(plan.to_dict()))
    (base / "csynth").mkdir()
    SynthReport(variant.flow.part, device.name, device.capacity(), csynth=synth).write(base / "csynth" / "report.json")
    (gathered,) = gather([variant], "csynth", tmp_path, {variant.name: 0})
    row = gathered.columns()
    assert row["fits"] == plan.verdict and row["est_latency_cycles"] == plan.latency_cycles
    assert row["est_DSP"] == plan.totals["DSP"]
    assert (row["latency_cycles"], row["interval"], row["DSP"], row["LUT"], row["BRAM_18K"]) == (13, 5, 40, 900, 0)
    assert list(row)[:4] == ["variant", "reuse_factor", "part", "exit_code"]  # sweep.csv's first columns
    measured, estimated = plot_points([gathered, dataclasses.replace(gathered, variant="est", csynth=None)])
    assert (measured.latency, measured.estimated) == (13, False)  # csynth's numbers where it ran
    assert (estimated.latency, estimated.estimated) == (plan.latency_cycles, True)  # else the plan's
    capacity = device.capacity()
    assert measured.resources == max(used / capacity[k] for k, used in synth.resources.items() if capacity.get(k))
