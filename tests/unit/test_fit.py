"""`hlsbox fit` on the host: its options, where it writes, and that it never overwrites a flow it did not write."""

from __future__ import annotations

import dataclasses
import json
import time
from pathlib import Path

import pytest

from hlsbox.commands import fit as fits
from hlsbox.config.flow import Flow, image_flow
from hlsbox.config.formats import load_flow
from hlsbox.core.contract import (
    Agreement,
    FitBound,
    FitCalibration,
    FitDesign,
    FitLayer,
    FitProbe,
    FitResult,
    FitTarget,
    ImageFlow,
    Verdict,
)
from hlsbox.core.errors import BadInput
from tests.conftest import REPO, assert_clean_error, run_cli


@pytest.mark.parametrize(
    ("params", "phrase"),
    [
        ({"agreement": 1.2}, "--agreement"),
        ({"agreement": 0.0}, "--agreement"),
        ({"budget": 1.5}, "--budget"),
        ({"io_type": "io_serial"}, "--io-type"),
        ({"max_probes": 0}, "--max-probes"),
    ],
)
def test_bad_parameters_are_refused(params: dict, phrase: str):
    with pytest.raises(BadInput, match=phrase):
        fits.check_params(fits.FitParams(**params))


def test_the_default_output_sits_beside_the_flow(tmp_path: Path):
    flow = tmp_path / "flows" / "digits.toml"
    assert fits.output_path(flow, None) == tmp_path / "flows" / "digits_fit.toml"


def test_fit_never_overwrites_the_input_or_a_flow_it_did_not_write(tmp_path: Path):
    flow = tmp_path / "digits.toml"
    flow.write_text("name = 'digits'\n")
    with pytest.raises(BadInput, match="flow being fitted"):
        fits.output_path(flow, flow)
    mine = tmp_path / "mine.toml"
    mine.write_text("# hand-written\n")
    with pytest.raises(BadInput, match="not written by hlsbox fit"):
        fits.output_path(flow, mine)
    previous = tmp_path / "previous_fit.toml"
    previous.write_text(f"{fits.MADE_BY} earlier\n")
    assert fits.output_path(flow, previous) == previous  # its own earlier output is replaced


def fit_result(flow: ImageFlow) -> FitResult:
    """A fit's result as the step writes it (the numbers of a digits fit)."""
    design = FitDesign(
        io_type="io_parallel",
        strategy="Latency",
        reuse={"dense": 4},
        totals={"DSP": 20, "LUT": 9000},
        utilisation={"DSP": 0.25, "LUT": 0.51},
        verdict=Verdict.FITS,
        latency_cycles=40,
        interval_cycles=4,
        fits_budget=True,
        high_band={"DSP": 0.3, "LUT": 0.66},
        heaviest=(("dense", 8000),),
    )
    layer = FitLayer(
        "dense", "Dense", "ap_fixed<9,4,AP_RND,AP_SAT>", "ap_fixed<6,1,AP_RND,AP_SAT>", 4, 20, 0, 8000, 0.01, 0.02
    )
    return FitResult(
        step="fit",
        target=FitTarget(0.99, 0.8, flow.part),
        flow=flow,
        reference="Keras",
        calibration=FitCalibration(200, 0.995, 9),
        held_out=Agreement(450, 0.1, 0.01, 0.991),
        design=design,
        tried=(design,),
        lower_bound=FitBound(**{f.name: getattr(design, f.name) for f in dataclasses.fields(design)}, worst="LUT"),
        layers=(layer,),
        probes=(FitProbe(0.995, 200, True, True, "accepted", 0.01, 3.2, {"compile": 2.0}),),
        stopped_early=False,
        meets_target=True,
        seconds=60.0,
        probes_run=1,
        probes_cached=0,
    )


def fitted_flow() -> ImageFlow:
    data = load_flow(REPO / "flows" / "digits.toml").model_dump()
    data.update(name="digits_fit", layers={"dense": {"precision": {"weight": "ap_fixed<6,1,AP_RND,AP_SAT>"}}})
    return image_flow(Flow.model_validate(data))


def test_a_fit_result_survives_fit_json(tmp_path: Path):
    """fit.json holds the flow as its file says it; read back, it is the same result, the same flow."""
    result = fit_result(fitted_flow())
    data = json.loads(json.dumps(result.to_dict()))
    assert data["layers"][0]["class"] == "Dense" and "written" not in data and "sweep" not in data["flow"]
    assert data["flow"]["layers"] == {"dense": {"precision": {"weight": "ap_fixed<6,1,AP_RND,AP_SAT>"}}}
    assert FitResult.from_dict(data) == result
    assert FitResult.from_dict(data).design.verdict is Verdict.FITS


def test_the_written_flow_loads_and_says_where_it_came_from(tmp_path: Path):
    out = fits.write_flow(fit_result(fitted_flow()), tmp_path / "digits_fit.toml", Path("flows/digits.toml"))
    text = out.read_text()
    assert text.startswith(fits.MADE_BY) and "99.1% on 450 inputs" in text and "plan verdict: fits" in text
    assert load_flow(out).layers["dense"].precision["weight"] == "ap_fixed<6,1,AP_RND,AP_SAT>"


def test_the_cli_checks_options_before_anything_runs(tmp_path: Path):
    result = run_cli("fit", "--flow", str(REPO / "flows" / "digits.toml"), "--budget", "150", cwd=tmp_path)
    assert_clean_error(result, 2, "--budget")


def test_the_best_design_so_far_is_kept_after_any_stop(tmp_path: Path):
    flow = load_flow(REPO / "flows" / "digits.toml")
    kept = tmp_path / "fit.failed"
    kept.mkdir()
    out = tmp_path / "digits_fit.toml"
    assert not fits.write_best(flow, Path("flows/digits.toml"), kept, out, "interrupted")  # no best.json: nothing
    layers = {"dense": {"precision": {"result": "ap_fixed<9,4,AP_RND,AP_SAT>"}}}
    (kept / "best.json").write_text(json.dumps({"layers": layers, "agreement": 0.995}))
    assert not fits.write_best(flow, Path("flows/digits.toml"), kept, out, "hung", since=time.time() + 60)  # stale
    assert fits.write_best(flow, Path("flows/digits.toml"), kept, out, "stopped (fit ran past its time limit)")
    text = out.read_text()
    assert text.startswith(fits.MADE_BY) and "stopped (fit ran past its time limit)" in text
    assert load_flow(out).layers["dense"].precision["result"] == "ap_fixed<9,4,AP_RND,AP_SAT>"


def test_every_shipped_fitted_flow_is_one_fit_may_write_over():
    """`hlsbox fit --flow flows/X.toml` writes flows/X_fit.toml: a shipped one must read as fit's own."""
    from hlsbox.commands.fit import MADE_BY

    fitted = sorted((Path(__file__).parent.parent.parent / "flows").glob("*_fit.toml"))
    assert fitted
    for path in fitted:
        assert path.read_text().startswith(MADE_BY), path.name
