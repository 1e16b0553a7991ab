"""The estimator's arithmetic, checked against numbers worked out by hand."""

import pytest

from hlsbox.parts import resolve_device
from hlsbox.plan import (
    FITS,
    NO_FIT,
    bram18_for,
    closest_reuse_factor,
    dsp_per_multiply,
    estimate_layer,
    make_plan,
    valid_reuse_factors,
)

Z010 = resolve_device("xc7z010clg400-1")
ZU9 = resolve_device("xczu9eg-ffvb1156-2-e")


def conv_row(name, n_chan, n_filt, out_hw, rf_asked=32, rf_used=None, k=3, strategy="resource", bits=16):
    return {
        "name": name,
        "class": "Conv2D",
        "output_shape": [out_hw, out_hw, n_filt],
        "outputs": out_hw * out_hw * n_filt,
        "result_bits": bits,
        "strategy": strategy,
        "reuse_asked": rf_asked,
        "reuse_used": rf_used or rf_asked,
        "n_in": n_chan * k * k,
        "n_out": n_filt,
        "pixels": out_hw * out_hw,
        "weight_bits": bits,
        "input_bits": bits,
        "accum_bits": bits,
        "weights": n_chan * k * k * n_filt,
        "zero_weights": 0,
    }


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
    [(16, 16, Z010, 1), (18, 25, Z010, 1), (27, 18, Z010, 2), (27, 18, ZU9, 1), (32, 32, Z010, 4), (8, 8, Z010, 0)],
)
def test_dsp_per_multiply(a, b, device, dsps):
    assert dsp_per_multiply(a, b, device) == dsps


def test_bram18_shapes():
    assert bram18_for(16_128, 28) == 448  # 1,008 x 16-bit weights side by side, 28 deep: 36 bits a block
    assert bram18_for(36, 512) == 1
    assert bram18_for(36, 513) == 2  # 1K deep blocks are 18 bits wide
    assert bram18_for(1, 20_000) == 2


def test_the_seeds_3x3x56_to_56_conv():
    # 3x3x56 -> 56: 504 x 56 = 28,224 multiplies per output pixel; RF 32 is not valid, hls4ml uses 28:
    # 1,008 multipliers, one DSP48E1 each at 16 bits, 8x8 = 64 output pixels x 28 cycles.
    est = estimate_layer(conv_row("stage3b_conv", 56, 56, 8, rf_used=28), Z010, "io_parallel")
    assert est.multiplies_per_output == 28_224
    assert (est.reuse_asked, est.reuse_used) == (32, 28)
    assert est.multipliers == 1_008
    assert est.dsp == 1_008
    assert est.bram18 == 448
    assert est.cycles == 64 * 28 + 5
    assert est.weight_width == 16


def test_latency_strategy_drops_zero_weights_and_keeps_no_bram():
    row = conv_row("c", 4, 2, 2, rf_asked=1, strategy="latency")
    row["zero_weights"] = 8
    est = estimate_layer(row, Z010, "io_parallel")
    assert est.multipliers == 4 * 9 * 2 - 8
    assert est.bram18 == 0


def test_narrow_precision_moves_multiplies_to_luts():
    est = estimate_layer(conv_row("c", 8, 8, 4, rf_asked=8, bits=8), Z010, "io_parallel")
    assert est.dsp == 0 and est.lut > 0


def _described(*rows):
    return {"layers": list(rows)}


def _flow(**kw):
    return {
        "name": "t",
        "part": "xc7z010clg400-1",
        "io_type": "io_parallel",
        "strategy": "Resource",
        "clock_period": 5.0,
        **kw,
    }


def test_a_small_design_fits():
    plan = make_plan(_described(conv_row("c", 3, 4, 4, rf_asked=27, rf_used=27)), _flow(), Z010)
    assert plan.verdict == FITS and plan.ways_out == []
    assert plan.totals["DSP"] == 4  # 27 x 4 = 108 multiplies / 27 = 4 multipliers


def test_in_io_parallel_resource_convs_no_reuse_factor_above_their_inputs_is_proposed():
    """hls4ml's conv_2d_resource_cl asserts RF <= filt_h * filt_w * n_chan: the ways out stay within it."""
    described = _described(conv_row("a", 56, 56, 8, rf_used=28), conv_row("b", 32, 56, 8, rf_used=32))
    plan = make_plan(described, _flow(), Z010)
    assert plan.verdict == NO_FIT and plan.reuse_that_fits is None
    assert any("no ReuseFactor makes it fit" in w for w in plan.ways_out)
    too_far = make_plan(_described(conv_row("p", 16, 32, 8, rf_used=32, k=1)), _flow(), Z010)
    assert [p["layer"] for p in too_far.kernel_problems] == ["p"]


def test_a_design_too_big_gets_a_verdict_and_ways_out():
    described = _described(
        conv_row("a", 56, 56, 8, rf_used=28, strategy="latency"),
        conv_row("b", 32, 56, 8, rf_used=32, strategy="latency"),
    )
    plan = make_plan(described, _flow(strategy="Latency"), Z010)
    assert plan.verdict == NO_FIT
    assert plan.utilisation["DSP"] > 1
    # The smallest valid per-layer ReuseFactors with which it fits: check them by re-planning.
    assert plan.reuse_that_fits is not None
    refit = make_plan(
        _described(
            *[
                conv_row(
                    r["name"],
                    r["n_in"] // 9,
                    r["n_out"],
                    8,
                    rf_used=plan.reuse_that_fits[r["name"]],
                    strategy="latency",
                )
                for r in described["layers"]
            ]
        ),
        _flow(strategy="Latency"),
        Z010,
    )
    assert refit.verdict != NO_FIT
    assert any("ReuseFactor per layer" in w for w in plan.ways_out)
    assert any("io_stream" in w for w in plan.ways_out)
    assert plan.parts_that_fit and plan.parts_that_fit[0] != "xc7z010"
