"""The contract between host and image (core/contract/): it keeps every field of the pydantic flow, survives
JSON, and states the per-layer precedence once."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from hlsbox.config.flow import CsimSettings, Flow, LayerSettings, image_flow
from hlsbox.core.contract import (
    CsimBuild,
    CsimInputs,
    CsimResult,
    ErrorReport,
    FitParams,
    FitRun,
    ImageFlow,
    LayerTable,
    LibraryBuild,
    RunManifest,
    SplitPhases,
    StepSpec,
    Verdict,
    VivadoResult,
    VivadoRun,
)
from hlsbox.core.hls4ml_names import layer_tables

PAIRS = [(Flow, ImageFlow), (LayerSettings, LayerTable), (CsimSettings, CsimInputs)]


@pytest.mark.parametrize(("pydantic_model", "contract_type"), PAIRS, ids=lambda t: t.__name__)
def test_the_image_side_types_keep_every_field_of_the_flow(pydantic_model, contract_type):
    """A key added to the flow and not to the contract (or the reverse) would never reach the image."""
    assert set(pydantic_model.model_fields) == {f.name for f in dataclasses.fields(contract_type)}


def test_the_image_flow_has_the_flows_defaults():
    """Built from the pydantic flow, or from its own defaults: the same flow (no default drifts apart)."""
    flow = Flow(name="f", model="m.keras")
    assert image_flow(flow) == ImageFlow(name="f", model="m.keras")
    assert image_flow(flow).to_dict() == json.loads(flow.model_dump_json())


def test_a_step_spec_survives_json(tmp_path: Path):
    flow = Flow(
        name="f",
        model="m.keras",
        precision={"default": "ap_fixed<16,6>"},
        layers={"fc1": {"reuse_factor": 4, "precision": {"accum": "ap_fixed<20,8>"}}},
        csim={"dataset": "images", "images": "data/x", "scale": 255},
    )
    spec = StepSpec(
        step="csynth",
        module="hlsbuild",
        flow=image_flow(flow),
        model_path="/w/m.keras",
        flow_file="/w/f.toml",
        run_dir=str(tmp_path),
        workspace="/w",
        fit=FitRun(FitParams(agreement=0.95), "/w/build/fit-cache"),
        vivado=VivadoRun("vivado_hls", {"synth": 1}, ["vivado_hls", "-f", "build_prj.tcl"], stop_on=("SYNCHK",)),
    )
    spec.write(tmp_path / "spec.json")
    back = StepSpec.read(tmp_path / "spec.json")
    assert back == spec
    assert isinstance(back.flow.layers["fc1"], LayerTable) and back.flow.layers["fc1"].reuse_factor == 4
    assert back.flow.csim.scale == 255 and back.fit.params.agreement == 0.95 and back.vivado.stop_on == ("SYNCHK",)


def test_a_spec_with_a_field_the_contract_lacks_is_refused():
    with pytest.raises(ValueError, match="no field bogus"):
        CsimInputs.from_dict({"dataset": "random", "bogus": 1})


def test_a_layers_table_wins_over_its_class_table_per_key():
    """hls4ml's precedence: [layers.X] over [layer_types.X], key by key (precision per type variable); the flow's
    own values are hls4ml's Model entry."""
    flow = image_flow(
        Flow(
            name="x",
            model="m.keras",
            reuse_factor=2,
            precision={"default": "ap_fixed<16,6>", "accum": "ap_fixed<24,10>"},
            layer_types={
                "Dense": {"reuse_factor": 4, "strategy": "Resource", "precision": {"weight": "ap_fixed<8,2>"}}
            },
            layers={"out": {"reuse_factor": 5}, "fc1": {"precision": {"accum": "ap_fixed<20,8>"}}},
        )
    )
    assert layer_tables(flow, "fc1", "Dense") == {
        "reuse_factor": 4,
        "strategy": "Resource",
        "precision": {"weight": "ap_fixed<8,2>", "accum": "ap_fixed<20,8>"},
    }
    assert layer_tables(flow, "c", "Conv2D") == {}  # no table: hls4ml's own values stay
    assert layer_tables(flow, "out", "Dense") == {
        "reuse_factor": 5,
        "strategy": "Resource",
        "precision": {"weight": "ap_fixed<8,2>"},
    }


def test_the_verdict_reads_and_writes_as_its_words():
    assert json.dumps({"verdict": Verdict.NO_FIT}) == '{"verdict": "does not fit"}'
    assert Verdict("tight") is Verdict.TIGHT and f"{Verdict.FITS}" == "fits"


def test_an_error_report_that_is_not_one_reads_as_none(tmp_path: Path):
    (tmp_path / "error.json").write_text("{not json")
    assert ErrorReport.read(tmp_path / "error.json") is None
    assert ErrorReport("bad_input", "m", "h").to_dict() == {"kind": "bad_input", "message": "m", "hint": "h"}


def test_a_vivado_result_survives_json_and_says_its_exit_code():
    """result.json of a Vivado step: the tool's status, else 1 for a stop, an ERROR line or a missing report."""
    from hlsbox.steps.hlsbuild import exit_code_of

    ok = VivadoResult(
        "csynth",
        "vivado_hls",
        ("bash", "-c", "vivado_hls -f build_prj.tcl"),
        0,
        {"CSynthesisReport": {"WorstLatency": "10"}, "parser_messages": []},
        expected_report="CSynthesisReport",
        ip_archives=("ip.zip",),
        manifest={"faketime": "2021-12-31 12:00:00"},
    )
    assert VivadoResult.from_dict(json.loads(json.dumps(ok.to_dict()))) == ok
    assert exit_code_of(ok) == 0
    assert exit_code_of(dataclasses.replace(ok, tool_exit_code=137)) == 137
    assert exit_code_of(dataclasses.replace(ok, errors=("ERROR: [XFORM 203-504] Stop unrolling",))) == 1
    assert exit_code_of(dataclasses.replace(ok, missing_report="csynth produced no report")) == 1
    assert exit_code_of(dataclasses.replace(ok, stopped_at="@E [SYNCHK-11]", tool_exit_code=137)) == 1


def test_a_requests_own_options_survive_the_sweeps_json(tmp_path: Path):
    """A sweep's executor runs each variant from a request file: the step's options come back as their type."""
    from hlsbox.runtime.options import FitOptions, VivadoParams
    from hlsbox.runtime.request import RunRequest, Workspace

    flow_file = tmp_path / "f.toml"
    flow_file.write_text('name = "f"\nmodel = "m.keras"\n')
    flow = Flow(name="f", model="m.keras")
    for step, options in (
        ("csynth", VivadoParams("/opt/Xilinx/Vivado/2019.2", ignore_plan=True)),
        ("fit", FitOptions(FitParams(agreement=0.9, max_probes=7), "flows/f_fit.toml")),
        ("csim", None),
    ):
        request = RunRequest(step, flow, flow_file, Workspace(tmp_path, tmp_path / "build"), options=options)
        assert RunRequest.from_json(request.to_json()).options == options


def test_a_request_file_with_an_option_this_hlsbox_lacks_is_refused_cleanly(tmp_path: Path):
    """An unknown option in a request file (another hlsbox's sweep) is named, exit 2, not run with it dropped."""
    from hlsbox.runtime.options import VivadoParams
    from hlsbox.runtime.request import RunRequest, Workspace
    from tests.conftest import assert_clean_error, run_cli

    flow_file = tmp_path / "f.toml"
    flow_file.write_text('name = "f"\nmodel = "m.keras"\n')
    request = RunRequest("csynth", Flow(name="f", model="m.keras"), flow_file, Workspace(tmp_path, tmp_path / "b"))
    data = json.loads(request.replace(options=VivadoParams()).to_json())
    data["options"]["keep_going"] = True
    path = tmp_path / "request.json"
    path.write_text(json.dumps(data))
    result = run_cli("run-request", str(path), cwd=tmp_path)
    assert_clean_error(result, 2, "is not one this hlsbox reads", "VivadoParams has no field keep_going")
    assert not (tmp_path / "b").exists()


def test_the_c_builds_record_survives_json_and_reads_as_fastcsim_built_it():
    """csim's build in result.json: fastcsim's split compile, nested, read back as its types (not a dict by key)."""
    from hlsbox.cli.views import build_note

    phases = SplitPhases(plan=0.1, pch=0.0, compile=2.4, link=0.2)
    split = LibraryBuild("prj/firmware/myproject-1.so", 2.7, True, units=23, layers=17, from_cache=19, phases=phases)
    fast = CsimBuild("fast", 3.1, classes=6, copies_replaced=40_000, library=split)
    back = CsimBuild.from_dict(json.loads(json.dumps(fast.to_dict())))
    assert back == fast and back.library.phases.compile == 2.4
    assert build_note(back).endswith("23 units, 19 from the cache")
    unsplit = LibraryBuild("x.so", 9.0, False, ccache=True, not_split="the precompiled header did not build")
    assert CsimBuild("fast", 9.5, library=unsplit).ccache
    assert (
        build_note(CsimBuild("fast", 9.5, library=unsplit))
        == "hls4ml's sources, translation units in parallel, ccache, the split build having failed"
    )
    assert build_note(CsimBuild("exact", 900.0, reason="csim.exact_build")) == "hls4ml's own build: csim.exact_build"


def test_an_unexpected_exception_in_a_step_ends_with_an_error_record(tmp_path: Path):
    """A step that raises what it does not explain (here the step entry on the host, where fit's libraries are not
    installed: a real ModuleNotFoundError) writes error.json (exit 1, a failure with a hint) and keeps the traceback
    in traceback.txt, off the console, like a step's explained failure."""
    import subprocess
    import sys

    flow = Flow(name="f", model="m.keras")
    spec = StepSpec(
        step="fit",
        module="fit",
        flow=image_flow(flow),
        model_path=str(tmp_path / "m.keras"),
        flow_file=str(tmp_path / "f.toml"),
        run_dir=str(tmp_path),
        workspace=str(tmp_path),
        fit=FitRun(FitParams(agreement=0.95), str(tmp_path / "cache")),
    )
    spec.write(tmp_path / "spec.json")
    proc = subprocess.run(
        [sys.executable, "-m", "hlsbox.steps", "fit", "--spec", str(tmp_path / "spec.json")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 1, proc.stderr
    assert "Traceback" not in proc.stdout + proc.stderr
    error = ErrorReport.read(tmp_path / "error.json")
    assert error is not None and error.kind == "step_failed", proc.stderr
    assert error.message.startswith("The fit step stopped on an unexpected error: ModuleNotFoundError"), error
    assert "traceback.txt" in error.hint and "fit.failed/" in error.hint
    assert "Traceback (most recent call last)" in (tmp_path / "traceback.txt").read_text()


def test_the_csim_view_says_which_build_was_chosen_and_why_a_split_build_fell_back():
    """A fallback is never silent: result.json's build carries the choice and the failure, and csim shows both."""
    from io import StringIO

    from rich.console import Console

    from hlsbox.cli.views import show_csim

    failed = "the split objects did not link: ld: a.o: multiple definition of `config75::perm'"
    library = LibraryBuild("x.so", 9.0, False, not_split=failed, choice="split: 40 layers, 90,000 im2col copies")
    build = CsimBuild.from_dict(json.loads(json.dumps(CsimBuild("fast", 9.5, classes=3, library=library).to_dict())))
    result = CsimResult("csim", "Keras", "images", 10, 0.0, 0.0, 1.0, build, 9.5, 0.1, ())
    out = StringIO()
    show_csim(Console(file=out, width=300), result, "build/x")
    text = out.getvalue()
    assert "build chosen" in text and "split: 40 layers, 90,000 im2col copies" in text
    assert "split build failed" in text and "multiple definition of `config75::perm'" in text
    assert "the split build having failed" in text


MANIFEST_BASE = {
    "hlsbox": "0.1.0",
    "engine": "docker",
    "step": "export",
    "cache_key": "abc",
    "flow": {"name": "seed", "csim": {"dataset": "random"}},
    "flow_file": "/w/flows/seed.toml",
    "image": "hlsbox:keras2-1",
    "image_id": "sha256:1",
    "inputs": {"model_sha256": "m", "flow_sha256": "f", "vivado": "vivado_hls 2019.2 at /opt"},
    "command": ["python", "-m", "hlsbox.steps", "export", "--spec", "/w/spec.json"],
    "limits": {"memory": 1, "cpus": 2.0, "pids": 3, "timeout": 4.0, "network": False},
    "started": 1.5,
}
MANIFEST_END = {
    "versions": {"hls4ml": "1.3.0"},
    "seconds": 2.5,
    "phase_seconds": {"converting": 1.0},
    "tool_phase_seconds": {},
    "warnings": 0,
    "errors": [],
    "peak_memory": 10,
    "exit_code": 0,
    "timed_out": False,
    "stalled": 0.0,
    "hung": 0.0,
    "last_phase": "writing",
    "oom_killed": False,
}


@pytest.mark.parametrize(
    "written",
    [
        {**MANIFEST_BASE, "status": "ok", **MANIFEST_END, "faketime": "2021-12-31 12:00:00"},
        {**MANIFEST_BASE, "status": "interrupted", "seconds": 3.25},
        {**MANIFEST_BASE, "status": "failed", "error": "the engine went away"},
    ],
    ids=["ended", "interrupted", "engine_lost"],
)
def test_a_manifest_reads_back_as_one_and_writes_its_keys_as_before(tmp_path: Path, written: dict):
    """manifest.json is one flat record (tests and users read it by key): what the step wants on record, the run's
    end and the interrupted run's seconds each land in their place, and the same keys come back out in order."""
    (tmp_path / "manifest.json").write_text(json.dumps(written))
    manifest = RunManifest.read(tmp_path)
    assert manifest.status == written["status"] and manifest.cache_key == "abc"
    assert (manifest.end is not None) == ("exit_code" in written)
    assert manifest.record == ({"faketime": "2021-12-31 12:00:00"} if "faketime" in written else {})
    manifest.write(tmp_path)
    assert list(json.loads((tmp_path / "manifest.json").read_text()).items()) == list(written.items())
