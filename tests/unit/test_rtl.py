"""The da4ml path's host side and its parsers (#35): backend = "da4ml" flows, the steps' backends, yosys' stat read
into cells and resources, synth's refusal by da4ml's estimate, report.json, and the keras3 image's Debian packages
(a layer of its own: the keras2 and qonnx images keep their tags)."""

from __future__ import annotations

import dataclasses
import shutil
import tarfile
from pathlib import Path

import pytest

from hlsbox.commands import rtl as commands
from hlsbox.config.formats import load_flow
from hlsbox.core import toolchains
from hlsbox.core.contract import RTL_LEVEL, ResultTable, RtlResult, SynthResult
from hlsbox.core.errors import BadInput
from hlsbox.core.parts import resolve_device
from hlsbox.runtime import step_table
from hlsbox.steps import synth
from tests.conftest import REPO, write_flow

# yosys 0.23's `stat` of a flattened da4ml design (its shape: header lines, then one line per cell type)
STAT = """
3. Printing statistics.

=== model ===

   Number of wires:               9312
   Number of wire bits:          40213
   Number of public wires:        9312
   Number of public wire bits:   40213
   Number of memories:               0
   Number of memory bits:            0
   Number of processes:              0
   Number of cells:              10669
     BUFG                            1
     CARRY4                       1316
     FDRE                         1271
     IBUF                          247
     INV                           203
     LUT2                         3090
     LUT3                          621
     LUT4                          273
     LUT5                          128
     LUT6                          149
     MUXF7                           4
     MUXF8                           1
     OBUF                          149
     RAMB18E1                        2
     RAMB36E1                        1
     DSP48E1                         3

End of script.
"""


def rtl_result(lut: int, ff: int) -> RtlResult:
    return RtlResult("rtl", ResultTable("t", ("what", "value"), ()), "model", {"LUT": lut, "FF": ff}, 3, 64, 10, 888)


def test_the_last_stat_gives_every_cell_and_the_resources_they_make():
    counts = synth.cells(STAT.splitlines())
    assert counts["LUT2"] == 3090 and counts["FDRE"] == 1271 and counts["DSP48E1"] == 3 and len(counts) == 16
    used = synth.resources(counts)
    assert used["LUT"] == 3090 + 621 + 273 + 128 + 149 + 203  # LUT1-6 and INV (a LUT1)
    assert (used["FF"], used["CARRY"], used["DSP"], used["BRAM_18K"]) == (1271, 1316, 3, 2 + 2 * 1)


def test_the_carry_row_names_the_cell_yosys_used():
    assert synth.carry_cell({"CARRY4": 3}) == "CARRY4"  # yosys 0.23 on -family xcup too (measured on the xczu3eg)
    assert synth.carry_cell({"CARRY8": 3}) == "CARRY8"


def test_yosys_without_statistics_is_a_failure_it_names():
    from hlsbox.steps.protocol import StepFailure

    with pytest.raises(StepFailure, match="no statistics"):
        synth.cells(["3. Executing SYNTH_XILINX pass.", "End of script."])


@pytest.mark.parametrize(
    ("part", "family"),
    [
        ("xc7z010clg400-1", "xc7"),
        ("xc7a35tcpg236-1", "xc7"),
        ("xc7k325tffg900-2", "xc7"),
        ("xcku115-flvb2104-2-e", "xcu"),
        ("xczu3eg-sbva484-1-e", "xcup"),
        ("xcvu9p-flga2104-2-e", "xcup"),
        ("xcu250-figd2104-2L-e", "xcup"),
    ],
)
def test_each_part_synthesises_for_its_yosys_family(part: str, family: str):
    assert synth.family(resolve_device(part)) == family


def test_the_script_reads_the_design_but_not_its_io_wrapper(tmp_path: Path):
    for name in ("src/model.v", "src/model_stage0.v", "src/model_wrapper.v", "src/static/shift_adder.v"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("module m; endmodule\n")
    files = synth.sources(tmp_path)
    assert [f.name for f in files] == ["shift_adder.v", "model.v", "model_stage0.v"]
    script = synth.script(files, "model", "xc7")
    assert script.startswith("read_verilog -defer ") and script.endswith(
        "synth_xilinx -family xc7 -top model -flatten; stat"
    )


def test_synth_is_refused_before_yosys_when_da4mls_estimate_cannot_fit():
    device = resolve_device("xc7z010clg400-1")
    commands.refuse_unfit(rtl_result(4_276, 1_299), device, "xc7z010clg400-1")  # fits: no refusal
    with pytest.raises(BadInput, match=r"cannot fit xc7z010clg400-1: LUT 38,506 of 17,600 \(219%\)") as refused:
        commands.refuse_unfit(rtl_result(38_506, 3_220), device, "xc7z010clg400-1")
    assert "nothing was started" in refused.value.message and "--part" in refused.value.hint


def test_report_json_has_csynths_form_with_the_cells_and_da4mls_estimate_beside():
    device = resolve_device("xc7z010clg400-1")
    counts = synth.cells(STAT.splitlines())
    result = SynthResult("synth", ResultTable("t", ("a",), ()), "xc7", "model", counts, synth.resources(counts), 42.0)
    report = commands.synth_report(result, rtl_result(4_276, 1_299), device, "xc7z010clg400-1")
    assert (report["part"], report["device"], report["capacity"]) == ("xc7z010clg400-1", "xc7z010", device.capacity())
    assert report["level"] == RTL_LEVEL and "no place-and-route, no timing" in RTL_LEVEL
    assert report["yosys"]["LUT"] == 4464 and report["yosys"]["CARRY4"] == 1316 and "CARRY" not in report["yosys"]
    assert report["utilisation"]["LUT"] == round(4464 / 17_600, 4)
    assert report["cells"] == counts and report["da4ml_estimate"]["LUT"] == 4_276
    assert report["estimate_error"]["LUT"] == round(4_276 / 4_464 - 1, 4)


def test_the_shipped_da4ml_flow_is_valid_and_its_steps_run_only_for_da4ml(tmp_path: Path):
    flow = load_flow(REPO / "flows" / "digits_mlp_da4ml.toml")
    assert flow.backend == "da4ml" and flow.rtl.samples >= 1_000
    for name in ("rtl", "synth", "rtlsim"):
        step_table.step(name).check_backend("da4ml")
        with pytest.raises(
            BadInput, match=f"`{name}` runs for flows with backend da4ml; this flow's backend is Vivado"
        ):
            step_table.step(name).check_backend("Vivado")
    step_table.step("plan").check_backend("da4ml")  # planned from da4ml's estimate
    with pytest.raises(BadInput, match="backend Vivado or Vitis") as refused:
        step_table.step("csim").check_backend("da4ml")
    assert "rtl, synth, rtlsim" in refused.value.hint
    assert step_table.step("synth").upstream == step_table.step("rtlsim").upstream == "rtl"


@pytest.mark.parametrize(
    ("fields", "phrase"),
    [
        ({"backend": "yosys"}, "'backend'"),
        ({"rtl": {"samples": 100}}, "'rtl.samples': Input should be greater than or equal to 1000"),
        ({"rtl": {"latency": 5}}, "unknown key 'latency' in rtl (closest: latency_cutoff)"),
    ],
)
def test_a_bad_rtl_table_is_refused_naming_the_key(tmp_path: Path, fields: dict, phrase: str):
    with pytest.raises(BadInput) as refused:
        load_flow(write_flow(tmp_path, **fields))
    assert phrase in refused.value.message


def test_only_keras3_adds_debian_packages_in_a_layer_of_its_own(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    from hlsbox.runtime import image

    docker = tmp_path / "docker"
    shutil.copytree(REPO / "docker", docker)
    monkeypatch.setenv("HLSBOX_DOCKER_DIR", str(docker))
    keras2, keras3, qonnx = (toolchains.by_name(n) for n in ("keras2", "keras3", "qonnx"))
    assert image.apt_layer(keras2) == image.apt_layer(qonnx) == b""
    assert keras3.apt_packages == ("yosys", "verilator")
    for toolchain in (keras2, qonnx):  # their build context's Dockerfile is docker/Dockerfile as it is
        with tarfile.open(fileobj=image.build_context(docker, None, toolchain)) as tar:
            assert tar.extractfile("Dockerfile").read() == (docker / "Dockerfile").read_bytes()
    with tarfile.open(fileobj=image.build_context(docker, None, keras3)) as tar:
        assert tar.getnames().count("Dockerfile") == 1
        dockerfile = tar.extractfile("Dockerfile").read()
    assert dockerfile == (docker / "Dockerfile").read_bytes() + image.apt_layer(keras3)
    assert b"apt-get install -y --no-install-recommends yosys verilator" in dockerfile
    fewer = dataclasses.replace(keras3, apt_packages=("yosys",))
    assert image.tag_for("sha256:base", toolchain=fewer) != image.tag_for("sha256:base", toolchain=keras3)


def test_a_da4ml_plan_is_da4mls_estimate_against_the_part(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """plan for backend = "da4ml": rtl's estimate (no DSP, no BRAM: every multiplication in LUTs) against the part,
    the measured yosys count beside it, shown as what it is."""
    from rich.console import Console

    from hlsbox.cli.views import show_plan
    from hlsbox.runtime.request import RunRequest

    rtl_dir = tmp_path / "rtl"
    rtl_dir.mkdir()
    monkeypatch.setattr(commands, "run_rtl", lambda console, request: (rtl_result(16_000, 1_299), rtl_dir))
    flow = load_flow(REPO / "flows" / "digits_mlp_da4ml.toml")
    request = RunRequest("plan", flow, REPO / "flows" / "digits_mlp_da4ml.toml", None, None)
    plan, run_dir = commands.plan_of_rtl(Console(), request)
    assert (plan.totals["LUT"], plan.totals["DSP"], plan.totals["BRAM_18K"]) == (16_000, 0, 0)
    assert plan.verdict == "tight"  # 91% of the xc7z010's 17,600 LUTs: over the 80% a design fits within
    assert plan.bands["LUT"] == (16_000, 16_704)  # and yosys' measured 4% more (4,464 / 4,276)
    assert (run_dir / "plan.json").is_file() and run_dir == tmp_path / "plan"
    console = Console(width=200, record=True)
    show_plan(console, plan, str(run_dir))
    text = " ".join(console.export_text().split())
    assert "Verdict: tight (within the estimator's error) on xc7z010clg400-1, judged on da4ml's estimate" in text
    assert "estimate" in text and "csynth" not in text
