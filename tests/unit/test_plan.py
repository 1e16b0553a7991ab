"""The plan's fixed points: hls4ml's ReuseFactor rule, the hardware's DSP and BRAM shapes, the kernel checks,
and a verdict that uses the estimator's error band. (How close the estimates are to real reports:
tests/unit/test_estimator_accuracy.py.)"""

import json

import pytest

from hlsbox.core.contract import DescribeResult, ImageFlow, LayerRow, layer_rows
from hlsbox.core.estimator import Design, bram18_for, dsp_ports, estimate_design
from hlsbox.core.parts import resolve_device
from hlsbox.core.planner import (
    ERROR_BANDS,
    FITS,
    NO_FIT,
    TIGHT,
    Plan,
    closest_reuse_factor,
    make_plan,
    valid_reuse_factors,
    verdict_of,
)

Z010 = resolve_device("xc7z010clg400-1")
ZU9 = resolve_device("xczu9eg-ffvb1156-2-e")


def conv_row(name, n_chan, n_filt, out_hw, rf=32, k=3, strategy="resource", bits=16):
    return {
        "name": name,
        "class": "Conv2D" if k > 1 else "PointwiseConv2D",
        "output_shape": [out_hw, out_hw, n_filt],
        "outputs": out_hw * out_hw * n_filt,
        "result_bits": bits,
        "strategy": strategy,
        "reuse_asked": rf,
        "reuse_used": rf,
        "n_in": n_chan * k * k,
        "n_out": n_filt,
        "pixels": out_hw * out_hw,
        "n_partitions": out_hw * out_hw,
        "weight_bits": bits,
        "input_bits": bits,
        "accum_bits": bits,
    }


def described(*rows: dict) -> DescribeResult:
    """A describe result of these layer rows (JSON form, as the step writes them)."""
    return DescribeResult(
        step="describe",
        parameters=0,
        input_shape=(),
        io_type="io_parallel",
        layers=tuple(layer_rows(list(rows))),
        hls_config={},
    )


def flow(**kw):
    return ImageFlow(name="t", model="m.keras", part="xc7z010clg400-1", strategy="Resource", **kw)


def test_valid_reuse_factors_by_hand():
    # n_in 27, n_out 16 (3x3x3 -> 16): below 27 only divisors of 27 keep 432/rf a multiple of 16;
    # from 27 on, multiples of 27 that divide 432.
    assert valid_reuse_factors(27, 16) == [1, 3, 9, 27, 54, 108, 216, 432]
    # Dense 56 -> 10, worked out by hand from hls4ml's rule
    assert valid_reuse_factors(56, 10) == [1, 2, 4, 7, 8, 14, 28, 56, 112, 280, 560]


@pytest.mark.parametrize(
    ("n_in", "n_out", "used"),
    [(27, 16, 27), (144, 16, 36), (288, 32, 32), (504, 56, 28), (56, 10, 28)],  # what hls4ml picked for the seed
)
def test_the_seeds_reuse_factor_32_becomes_what_hls4ml_uses(n_in, n_out, used):
    assert closest_reuse_factor(valid_reuse_factors(n_in, n_out), 32) == used


def test_closest_prefers_the_smaller_on_a_tie():
    assert closest_reuse_factor([24, 36], 30) == 24
    assert closest_reuse_factor([24, 36], 31) == 36


@pytest.mark.parametrize(
    ("a", "b", "device", "dsps"),
    [(16, 16, Z010, 1), (18, 25, Z010, 1), (27, 18, Z010, 2), (27, 18, ZU9, 1), (32, 32, Z010, 4)],
)
def test_a_dsp48s_ports(a, b, device, dsps):
    """DSP48E1 (7-series) multiplies 25 x 18 bits, DSP48E2 (UltraScale) 27 x 18 (Xilinx UG479 / UG579)."""
    assert dsp_ports(a, b, Design([], "io_parallel", device, device.name)) == dsps


def test_bram18_shapes():
    """A BRAM18 is 512 x 36, 1K x 18, 2K x 9, ... (Xilinx UG473)."""
    assert bram18_for(16_128, 28) == 448
    assert bram18_for(36, 512) == 1
    assert bram18_for(36, 513) == 2
    assert bram18_for(1, 20_000) == 2


def test_a_resource_layer_has_hls4mls_block_factor_of_multipliers():
    """dense_resource: block_factor = ceil(n_in * n_out / RF) multipliers; RF 32 of a 3x3x56 -> 56 conv is 28."""
    design = Design(layer_rows([conv_row("stage3b_conv", 56, 56, 8, rf=28)]), "io_parallel", Z010, "xc7z010clg400-1")
    layer = estimate_design(design).layers[0]
    assert layer.multiplies_per_output == 28_224 and layer.multipliers == 1_008


def test_the_kernel_check_and_the_ways_out_respect_conv_resource_limits():
    """hls4ml's conv_2d_resource_cl asserts RF <= filt_h * filt_w * n_chan: flagged, and no way out beyond it."""
    plan = make_plan(described(conv_row("p", 16, 32, 8, rf=32, k=1)), flow(), Z010)
    assert [p.layer for p in plan.kernel_problems] == ["p"]
    big = make_plan(described(conv_row("a", 56, 56, 8, rf=28), conv_row("b", 32, 56, 8)), flow(), Z010)
    assert big.verdict == NO_FIT
    for way in big.alternatives:
        if way.io_type == "io_parallel" and way.reuse:
            assert way.reuse["a"] <= 504 and way.reuse["b"] <= 288


def test_a_plan_survives_its_json():
    """plan.json (what the sweep reads back): every field, kernel problems and ways out as their types."""
    plan = make_plan(described(conv_row("p", 16, 32, 8, rf=32, k=1), conv_row("b", 32, 56, 8)), flow(), Z010)
    assert plan.kernel_problems and plan.alternatives and plan.unfused_batchnorms == []
    assert plan.second_opinion and len(plan.second_opinion.neighbours) == 3 and "DSP" in plan.second_opinion.figures
    back = Plan.from_dict(json.loads(json.dumps(plan.to_dict())))
    assert back == plan
    assert back.kernel_problems[0].consequence == plan.kernel_problems[0].consequence
    assert back.verdict is plan.verdict and back.second_opinion.neighbours == plan.second_opinion.neighbours


@pytest.mark.parametrize(("dsp", "verdict"), [(40, FITS), (75, TIGHT), (120, NO_FIT)])
def test_the_verdict_uses_the_error_band(dsp, verdict):
    """80 DSPs on the z010; the real figure lies within estimate / band (Vivado HLS's DSP estimates run
    0.99x-1.35x of the reports): 40 fits even at the band's worst; 75 fits, but above 80% of the part; 120 exceeds
    80 even at the band's best."""
    low, high = ERROR_BANDS["vivado_hls"]["DSP"]
    assert 40 / low <= 80 and 120 / high > 80
    totals = {"LUT": 100, "FF": 100, "BRAM_18K": 0, "DSP": dsp}
    assert verdict_of(totals, Z010, "vivado_hls")[1] == verdict


def test_a_tight_design_is_offered_only_ways_that_make_it_fit():
    """Within the estimator's error already: a way out must reach "fits", and the part it is on is no way out."""
    plans = [
        make_plan(described(conv_row("c", 32, 32, 8, rf=rf, bits=8)), flow(io_type="io_stream"), Z010)
        for rf in valid_reuse_factors(32 * 9, 32)
    ]
    tight = [p for p in plans if p.verdict == TIGHT]
    assert tight, [(p.verdict, p.totals) for p in plans]
    for plan in tight:
        assert Z010.name not in plan.parts_that_fit and plan.parts_that_fit
        assert all(way.verdict == FITS for way in plan.alternatives if way.searched_reuse)


@pytest.mark.parametrize(("rf", "stage"), [(32, "compile"), (42, "csim"), (3, None)])
def test_the_pointwise_reuse_factor_hls4ml_takes_unchecked(rf, stage):
    """The seed's 1x1 shortcut over 3 channels: an entry of 32 (above 3, no multiple) names a kernel class
    nnet_dense.h lacks, so the C++ does not compile; 42 (a multiple) compiles and then asserts in io_parallel; 3 is
    fine. The plan's table shows the ReuseFactor hls4ml wrote, not one it would have picked."""
    row = conv_row("conv2d_2", 3, 28, 32, rf=rf, k=1)
    plan = make_plan(described(row), flow(), Z010)
    assert [p.stage for p in plan.kernel_problems] == ([stage] if stage else [])
    assert plan.layers[0].reuse_used == rf
    if stage == "compile":
        assert "DenseResource_rf_gt_nin" in plan.kernel_problems[0].kernel
        assert "reuse_factor = 3" in plan.kernel_problems[0].fix


@pytest.mark.parametrize("io_type", ["io_parallel", "io_stream"])
@pytest.mark.parametrize(("n_chan", "n_filt", "k"), [(3, 28, 1), (28, 56, 1), (56, 56, 3), (3, 28, 3)])
def test_no_usable_reuse_factor_writes_c_plus_plus_that_does_not_compile(io_type, n_chan, n_filt, k):
    """fit's search and the plan's ways out take only usable ReuseFactors: none of them names the missing class."""
    from hlsbox.core.estimator import usable_reuse_factors
    from hlsbox.core.kernels import does_not_compile

    row = LayerRow.from_dict(conv_row("c", n_chan, n_filt, 8, k=k))
    usable = usable_reuse_factors(row, io_type)
    assert usable and not [rf for rf in usable if does_not_compile(row.layer_class, "resource", row.n_in, rf)]


def stream_rows(strategy="resource") -> list[dict]:
    """A streamed 4-bit-ish CNN: two convolutions on 28x28, a BatchNorm between them, a global pooling."""
    return [
        {"name": "input", "class": "InputLayer", "output_shape": [28, 28, 3], "outputs": 2352, "result_bits": 8},
        {**conv_row("c1", 3, 16, 26, rf=27, strategy=strategy, bits=8), "in_height": 28, "in_width": 28,
         "filt_height": 3, "filt_width": 3, "n_chan": 3, "stream_depth": 676},
        {"name": "bn", "class": "BatchNormalization", "output_shape": [26, 26, 16], "outputs": 10816,
         "result_bits": 8, "elementwise_multiplies": 10816, "stream_depth": 2},
        {**conv_row("c2", 16, 32, 24, rf=144, strategy=strategy, bits=8), "in_height": 26, "in_width": 26,
         "filt_height": 3, "filt_width": 3, "n_chan": 16, "stream_depth": 2},
        {"name": "gap", "class": "GlobalPooling2D", "output_shape": [32], "outputs": 32, "result_bits": 8,
         "input_shape": [24, 24, 32], "pool_height": 24, "pool_width": 24},
    ]  # fmt: skip


def stream_plan(strategy="resource") -> Plan:
    return make_plan(described(*stream_rows(strategy)), flow(io_type="io_stream"), Z010)


def test_the_plan_tables_rows_add_up_to_its_totals():
    """Every row the plan counts is in its table (the FIFOs and buffers too) and in plan.json, and they add up."""
    from hlsbox.cli.views import PLAN_SUMS, plan_table

    plan = stream_plan()
    assert any(layer.kind == "memory" and layer.cls == "FIFO" for layer in plan.layers)
    back = Plan.from_dict(json.loads(json.dumps(plan.to_dict())))
    for resource in ("LUT", "FF", "BRAM_18K", "DSP"):
        assert sum(layer.resources()[resource] for layer in back.layers) == back.totals[resource]
    table = plan_table(plan)
    columns = {column.header: column._cells for column in table.columns}
    for name in PLAN_SUMS:
        *rows, total = (int(cell.replace(",", "")) for cell in columns[name])
        resource = {"BRAM18": "BRAM_18K"}.get(name, name)
        assert total == plan.totals[resource] and sum(rows) == total, name


def test_a_kernel_fix_names_the_layer_as_the_flow_takes_it():
    """hls4ml renames a QONNX Conv 'Conv_0' to 'Conv2D_Conv_0' and configures it from 'Conv_0''s entry: the fix says
    [layers.Conv_0], the table the flow validator accepts, and still names the layer as hls4ml built it."""
    from hlsbox.core import kernels

    found = kernels.problem("Conv2D_Conv_0", "PointwiseConv2D", "io_parallel", "resource", 3, 6, table="Conv_0")
    assert found is not None and found.layer == "Conv2D_Conv_0"
    assert "[layers.Conv_0] reuse_factor" in found.fix and "Conv2D_Conv_0]" not in found.fix
