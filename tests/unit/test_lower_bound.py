"""fit's lower bound (estimator.lower_bound_totals, what fit.hardware.cheapest reports) is a bound: below the
estimate of every design the plan and fit evaluate for the same layer rows (as converted, the plan's ways out
at other ReuseFactors, io_types and widths, any usable ReuseFactors as fit's growth picks them), over every
recorded design's describe output (tests/data/estimator) and the plan tests' streamed CNN, in both strategies.
And where the estimate and the second opinion differ by more than 3x on a total, the plan's verdict says so."""

import dataclasses
import json
import random
from pathlib import Path

import pytest
from rich.console import Console

from hlsbox.cli.views import show_plan
from hlsbox.core import surrogate
from hlsbox.core.contract import DescribeResult, layer_rows
from hlsbox.core.estimator import (
    RESOURCES,
    Design,
    estimate_design,
    is_scale,
    lower_bound_rows,
    lower_bound_totals,
    usable_reuse_factors,
)
from hlsbox.core.parts import resolve_device
from hlsbox.core.planner import alternatives, design_for, make_plan, smallest_reuse_that_fits
from tests.scripts.estimator_accuracy import design_of, designs
from tests.unit.test_plan import described, flow, stream_plan, stream_rows

Z010 = resolve_device("xc7z010clg400-1")
RECORDED = [dataclasses.replace(design_of(record, found), device=Z010) for record, found in designs()]
STREAMED = [
    design_for(described(*stream_rows(strategy)), flow(io_type="io_stream"), Z010)
    for strategy in ("resource", "latency")
]
# A QONNX graph as fit's lower bound describes it: the seed author's W4A4 ResNet with every type hls4ml infers at
# 0 fractional bits (4-bit activations and weights into every convolution; the Quant nodes' ApplyAlpha scales kept).
W4A4 = json.loads((Path(__file__).parent.parent / "data/fit/zybo_resnet_w4a4_narrowest.json").read_text())
QONNX = [
    Design(layer_rows(rows), W4A4["io_type"], Z010, W4A4["part"], "vivado_hls", W4A4["clock_period"])
    for rows in W4A4["layers"].values()
]


def over(design: Design, totals: dict[str, int], bits: int | None = None) -> list[str]:
    """The resources on which the bound exceeds these totals (none, for a bound)."""
    bound = lower_bound_totals(design, bits)
    return [f"{r} {bound[r]:,} > {totals[r]:,}" for r in RESOURCES if bound[r] > totals[r]]


def describe_result(design: Design) -> DescribeResult:
    return DescribeResult(
        step="describe",
        parameters=0,
        input_shape=(),
        io_type=design.io_type,
        layers=tuple(design.layers),
        hls_config={},
    )


def design_id(design: Design) -> str:
    return f"{design.io_type}-{design.layers[1].name}-{design.layers[-1].strategy}"


@pytest.mark.parametrize("design", RECORDED + STREAMED + QONNX, ids=design_id)
def test_the_bound_is_below_every_design_the_plan_and_fit_evaluate(design):
    assert not over(design, estimate_design(design).totals)  # as converted
    plan = make_plan(describe_result(design), flow(io_type=design.io_type), Z010)
    for way in alternatives(plan, design):  # the ways out: ReuseFactors that fit, io_stream, 8 bits
        assert not over(dataclasses.replace(design, io_type=way.io_type), way.totals, way.bits), way.label
    for resource_share in (smallest_reuse_that_fits(design), smallest_reuse_that_fits(design, accept_tight=False)):
        if resource_share:
            assert not over(design, estimate_design(design, resource_share).totals)
    usable = {row.name: usable_reuse_factors(row, design.io_type) for row in design.layers if row.weighted}
    largest = {name: rfs[-1] for name, rfs in usable.items()}  # what fit's growth ends at
    assert not over(design, estimate_design(design, largest).totals)
    generator = random.Random(len(design.layers))
    for _ in range(8):  # any usable ReuseFactors, as fit's growth may stop at them
        reuse = {name: generator.choice(rfs) for name, rfs in usable.items()}
        assert not over(design, estimate_design(design, reuse).totals)
    for rf in (2, 8, 64):  # a flow's model-wide ReuseFactor, which hls4ml gives its scale layers too
        reuse = {row.name: rf for row in design.layers if row.weighted or is_scale(row)}
        assert not over(design, estimate_design(design, reuse).totals), rf


@pytest.mark.parametrize("design", RECORDED + STREAMED + QONNX, ids=design_id)
def test_each_row_of_the_bound_is_below_that_row_in_every_design(design):
    """The per-layer figures fit's refusal names ("most used by ...") are the bound's own rows: each at most what
    that row uses at any usable ReuseFactor, and they add up to the bound's totals (the figures once named LUTs
    of the design at its largest ReuseFactors beside a DSP total: 4,965 for Conv_5 of a 568-DSP bound)."""
    rows = lower_bound_rows(design)
    totals = lower_bound_totals(design)
    assert {r: sum(amounts[r] for _, amounts in rows) for r in RESOURCES} == totals
    usable = {row.name: usable_reuse_factors(row, design.io_type) for row in design.layers if row.weighted}
    generator = random.Random(len(design.layers))
    reuses = [{}, {name: rfs[-1] for name, rfs in usable.items()}]
    reuses += [{name: generator.choice(rfs) for name, rfs in usable.items()} for _ in range(4)]
    reuses += [{row.name: 8 for row in design.layers if row.weighted or is_scale(row)}]
    for reuse in reuses:
        estimate = estimate_design(design, reuse)
        for (name, amounts), row in zip(rows, estimate.layers, strict=True):
            assert name == row.name
            assert all(amounts[r] <= row.resources()[r] for r in RESOURCES), (name, amounts, row.resources())


def test_a_4_bit_qonnx_convolution_needs_no_dsp_at_its_cheapest():
    """The W4A4 ResNet at its narrowest: 4-bit codes times 4-bit weights; a DSP each only shared by two, so at its
    largest usable ReuseFactors no convolution needs one; its kept scales (25 to 31-bit constants, a DSP per
    multiply) one each at the ReuseFactor that shares one multiplier over a pixel's channels (fit's describe
    converts them at ReuseFactor 1: 56 DSPs each, a 568-DSP "bound" over the plan's own 8-bit design's 74)."""
    for design in QONNX:
        rows = dict(lower_bound_rows(design))
        convs = [row.name for row in design.layers if row.weighted]
        scales = [row.name for row in design.layers if is_scale(row)]
        assert convs and all(rows[name]["DSP"] == 0 for name in convs)
        assert len(scales) == 15 and all(rows[name]["DSP"] <= 1 for name in scales)
        assert lower_bound_totals(design)["DSP"] <= len(scales)


def test_the_bound_is_no_looser_than_it_needs_to_be():
    """A bound of 0 would pass the test above: it is each row at its cheapest, so the as-converted totals of a
    design at its largest ReuseFactors are no more than a few times it (the FIFOs and unweighted layers count)."""
    for design in RECORDED:
        bound = lower_bound_totals(design)
        assert bound["LUT"] > 0 and bound["FF"] > 0


def test_a_disputed_total_is_said_in_the_verdict():
    """The estimate against the second opinion: more than 3x apart is said beside the verdict."""
    plan = stream_plan()
    forged = dataclasses.replace(
        plan,
        second_opinion=surrogate.Opinion(("x",), {**plan.totals, "LUT": plan.totals["LUT"] * 4}),
    )
    assert surrogate.disagreements(forged.totals, forged.second_opinion) == ("LUT",)
    forged = dataclasses.replace(forged, disputed=("LUT",))
    console = Console(width=200, record=True)
    show_plan(console, forged, "run")
    text = console.export_text()
    assert "verdict is uncertain" in text and f"LUT {plan.totals['LUT']:,} against" in text
    assert surrogate.disagreements(plan.totals, surrogate.Opinion(("x",), dict(plan.totals))) == ()
