"""Resource and timing estimates of an hls4ml design, layer by layer, from what `describe` reports.

Each layer kind follows the hls4ml 1.3 kernel that implements it (templates/vivado/nnet_utils):
- Dense and convolutions multiply n_in x n_out per output pixel. Under the Latency strategy the weights are
  constants (the multiplies are unrolled, `ALLOCATION mul limit` = products / ReuseFactor): a zero weight costs
  nothing, a power of two is a shift, a weight with few significant bits becomes shift-adds in LUTs, the rest take
  DSPs. Under the Resource strategy the weights sit in a ROM reshaped to `block_factor` = products / RF words of
  RF depth (BRAM), and every one of the block_factor multipliers is a real one (a DSP unless both operands are
  narrow).
- io_parallel convolutions run their partitions one after the other (PIPELINE II=RF), io_stream ones a pixel
  per RF cycles; io_stream FIFOs between layers (and conv line buffers) are memories.
- FFs are pipeline registers: a Latency-strategy layer's adder trees, cut into as many stages as its multiply and
  tree take clock periods (none when they fit in one), or kept over RF cycles when its multipliers are shared; a
  Resource-strategy layer's products and inputs.
- Activation tables (sigmoid, tanh, softmax's exp and 1/x) are 1,024-entry ROMs: BRAM, copied to serve the reads
  of one cycle; the stable softmax multiplies each exponential by the inverse of the sum (a DSP per class).
The numbers that are the tools' habits rather than hls4ml's arithmetic (which constants take a DSP, LUTs and
FFs per operation, pipeline depths) are in CALIBRATION, fitted to the real csynth reports in tests/data/estimator;
its error is measured out of sample, each design estimated by a calibration fitted without any design of its
repository (docs/estimator.md: "Estimator accuracy"). Pure Python: used on the host by `plan` and in the image by `fit`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace

from hlsbox.core import kernels
from hlsbox.core.contract import LayerRow, WeightStats
from hlsbox.core.parts import Device

RESOURCES = ("LUT", "FF", "BRAM_18K", "DSP")
LAYER, MEMORY, TOP = "layer", "memory", "top"  # what a row of the estimate is (LayerEstimate.kind)
CLOCK_UNCERTAINTY = 0.125  # Vivado HLS's default: the share of the clock period it keeps free
TABLE_ACTIVATIONS = ("sigmoid", "tanh", "softsign", "softplus", "elu", "selu", "hard_sigmoid")


@dataclass(frozen=True)
class Calibration:
    """A tool's habits, fitted to real reports (tests/scripts/estimator_accuracy.py shows the fit)."""

    # Constant multiplies: the share that takes a DSP, by the bit length of the weight's odd part (2, 3, 4, 5, 6+),
    # for wide (> 10 bit) data in io_parallel and in io_stream, and for narrow data. A constant of 5 significant
    # bits or fewer is mostly shift-adds in LUTs (Vivado HLS 2020.1 on the tutorial's 6-bit CNN, 16-bit data:
    # 143 DSPs in its convolutions and hidden dense layers for about 6,500 non-zero products).
    dsp_share_parallel: tuple[float, ...] = (0.0, 0.0, 0.5, 0.4, 1.0)
    dsp_share_stream: tuple[float, ...] = (0.05, 0.05, 0.1, 0.2, 0.95)
    dsp_share_narrow: tuple[float, ...] = (0.0, 0.0, 0.0, 0.0, 0.0)
    narrow_data_bits: int = 10  # data up to this width makes constant multiplies shift-adds
    lut_multiply_bits: int = 8  # real multiplies with both operands up to this width are built from LUTs ...
    packed_multiply_bits: int = 4  # ... except up to this width, where two share one DSP
    # LUT and FF, fitted by tests/scripts/calibrate_estimator.py (these defaults are its starting point and prior). LUT:
    # per non-zero constant product of the Latency strategy (the adder trees and shift-adds), scaled by (2 b - 5) for b
    # = the operands' mean width; per Resource-strategy multiplier (b wide) and fixed per Resource layer (its RF-deep
    # control and read muxes); per element of activations and other elementwise layers (b wide); per bit a layer of a
    # DATAFLOW top writes to its output stream (its output register, packing and handshake: the writer's, not the
    # FIFO's; the FIFOs and buffers themselves are costed from their depth and width, see fifo_cost).
    lut_per_product: float = 1.0
    lut_per_multiplier_bit: float = 1.6
    lut_resource_layer: float = 1200.0
    lut_per_element_bit: float = 1.2
    lut_per_port_bit: float = 1.0
    # FF of the Latency strategy: pipeline registers, per bit of tree_bits (each output's accumulator at every
    # level of its adder tree, and the inputs). At RF 1 times the stages the clock cuts the layer into
    # (pipeline_stages: none when it fits in one period); at RF > 1 the inputs are muxed to the shared multipliers
    # and the sums kept over RF cycles, whatever the clock. io_parallel and io_stream have their own.
    ff_per_tree_bit: float = 0.5
    ff_per_tree_bit_stream: float = 0.5
    ff_per_shared_tree_bit: float = 0.5
    ff_per_shared_tree_bit_stream: float = 0.5
    # FF of the Resource strategy: per bit of each multiplier's product (its operands' widths added), per
    # registered input bit (a convolution's window), and fixed per layer. Then per element bit of activations and
    # other elementwise layers, per bit a DATAFLOW layer writes, per DSP of a Latency layer (times its stages),
    # and the top's own.
    ff_per_multiplier_bit: float = 3.5
    ff_per_input_bit: float = 1.0
    ff_resource_layer: float = 800.0
    ff_per_element_bit: float = 0.3
    ff_per_port_bit: float = 1.0
    ff_per_dsp: float = 0.0
    ff_design: float = 0.0
    softmax_per_class: bool = False  # Vitis HLS: a BRAM and a DSP per class, whatever the ReuseFactor
    fifo_per_channel: bool = True  # io_stream: a FIFO per channel (Vivado HLS) or one per pixel (Vitis HLS)
    fifo_word_bits: int = 18  # a pixel FIFO's BRAM18 holds this many bits of its width (Vitis HLS 2024.1: 36)
    fifo_min_depth: int = 33  # shallower FIFOs are shift registers (SRL), not BRAM
    # LUTs per bit per 32 words of a shallow FIFO in the csynth report's FIFO row: Vivado HLS counts its SRLs
    # (hls4ml's fixture: five 2-deep 16-bit FIFOs, 140 LUT); Vitis HLS only the control (seven 1-2 deep FIFOs of
    # 4,176 bits in all, 469 LUT: taitashaw's design)
    srl_lut_per_bit: float = 1.0
    latency_limit_share: float = 1.0  # Latency strategy at RF > 1: DSPs / the ALLOCATION limit
    dense_depth: float = 1.0  # pipeline depth of a fully parallel dense layer: cycles + per log2(n_in)
    dense_depth_per_log2: float = 0.25
    stream_pixel_overhead: int = 0  # extra cycles per pixel of a streamed conv, beyond its ReuseFactor
    resource_overhead: int = 9  # extra cycles of a Resource-strategy multiply loop, beyond its ReuseFactor


CALIBRATION = {
    "vivado_hls": Calibration(
        # LUT and FF: fitted to every recorded design of the tool (python -m tests.scripts.calibrate_estimator)
        lut_per_product=0.9879,
        lut_per_multiplier_bit=3.248,
        lut_resource_layer=1999,
        lut_per_element_bit=1.848,
        lut_per_port_bit=6.111,
        ff_per_tree_bit=1.39,
        ff_per_tree_bit_stream=4.033,
        ff_per_shared_tree_bit=0.7071,
        ff_per_shared_tree_bit_stream=2.262,
        ff_per_multiplier_bit=2.127,
        ff_resource_layer=944.9,
        ff_per_input_bit=1.648,
        ff_per_element_bit=1.221,
        ff_per_port_bit=1.989,
        ff_per_dsp=0.009973,
        ff_design=0.01,
    ),
    "vitis_hls": Calibration(
        # 6-bit constants on 16-bit data (the tutorial's CNN, Vitis HLS 2022.2, real weights): 172 DSPs for
        # 4,336 non-zero products
        dsp_share_parallel=(0.0, 0.05, 0.15, 0.45, 1.0),
        dsp_share_stream=(0.0, 0.05, 0.15, 0.45, 1.0),
        dsp_share_narrow=(0.05, 0.05, 0.05, 0.5, 1.0),
        lut_multiply_bits=5,  # a shared (Resource) 6 x 6-bit multiplier takes a DSP (Vitis HLS 2024.2, xc7a35t)
        softmax_per_class=True,
        fifo_per_channel=False,
        srl_lut_per_bit=0.0,
        latency_limit_share=0.6,
        # LUT and FF: fitted to every recorded design of the tool (python -m tests.scripts.calibrate_estimator)
        lut_per_product=1.148,
        lut_per_multiplier_bit=1.585,
        lut_resource_layer=2755,
        lut_per_element_bit=1.674,
        lut_per_port_bit=2.994,
        ff_per_tree_bit=5.272,
        ff_per_tree_bit_stream=1.659,
        ff_per_shared_tree_bit=3.952,
        ff_per_shared_tree_bit_stream=0.5,
        ff_per_multiplier_bit=0.5552,
        ff_resource_layer=1189,
        ff_per_input_bit=1.039,
        ff_per_element_bit=3.272,
        ff_per_port_bit=0.8675,
        ff_per_dsp=0.01,
        ff_design=0.01,
    ),
}


@dataclass(frozen=True)
class Design:
    """What the estimator needs: the described layers and where they go."""

    layers: list[LayerRow]
    io_type: str
    device: Device | None
    part: str
    tool: str = "vivado_hls"  # vivado_hls or vitis_hls
    clock_period: float = 5.0
    tool_version: str | None = None  # e.g. "2024.1"; None: the latest the estimate knows
    fitted: Calibration | None = (
        None  # None: CALIBRATION's for the tool (a refit: tests/scripts/calibrate_estimator.py)
    )

    @property
    def calibration(self) -> Calibration:
        calibration = self.fitted or CALIBRATION.get(self.tool, CALIBRATION["vivado_hls"])
        if self.tool == "vitis_hls" and self.tool_version and self.tool_version < "2024.2":
            return replace(calibration, fifo_word_bits=36)
        return calibration

    @property
    def dataflow(self) -> bool:
        """hls4ml 1.3's pipeline style (vivado/passes/pipeline_style.py): io_stream, an io_parallel conv of more
        than one partition, or a Resource-strategy layer make the top a DATAFLOW region, else a PIPELINE."""
        if self.io_type == "io_stream":
            return True
        return any(
            ("Conv" in row.layer_class and (row.n_partitions or 1) != 1) or kernels.is_resource(row.strategy)
            for row in self.layers
        )

    @property
    def ultrascale(self) -> bool:
        family = self.device.family if self.device else self.part
        return "UltraScale" in family or family.startswith("Alveo") or self.part.startswith(("xcu", "xcvu", "xczu"))


@dataclass
class LayerEstimate:
    name: str
    cls: str
    output_shape: list[int]
    multiplies_per_output: int = 0  # n_in * n_out: per output pixel for a convolution
    pixels: int = 1
    reuse_asked: int | None = None
    reuse_used: int | None = None
    reuse_valid: list[int] = field(default_factory=list)
    multipliers: int = 0  # real multipliers working in parallel
    dsp: int = 0
    lut: int = 0
    ff: int = 0
    bram18: int = 0
    weight_width: int = 0  # bits of one weight (from the layer's type, e.g. a QKeras quantiser)
    latency: int = 0  # cycles from its first input to its last output
    interval: int = 1  # cycles between inputs
    kind: str = LAYER  # LAYER: a layer of the model; MEMORY: a FIFO or buffer between layers; TOP: the top's own

    @property
    def cycles(self) -> int:
        return self.latency

    def resources(self) -> dict[str, int]:
        return {"LUT": self.lut, "FF": self.ff, "BRAM_18K": self.bram18, "DSP": self.dsp}


@dataclass
class DesignEstimate:
    layers: list[LayerEstimate]
    totals: dict[str, int]
    latency: int
    interval: int


# ---------- hls4ml's arithmetic ----------


def valid_reuse_factors(n_in: int, n_out: int) -> list[int]:
    """The ReuseFactors hls4ml accepts for an n_in x n_out multiply (FPGABackend._validate_reuse_factor)."""
    total = n_in * n_out
    valid = []
    for rf in _divisors(total):
        multiplier_limit = math.ceil(total / min(n_in, rf))
        if (multiplier_limit % n_out == 0 or rf >= n_in) and (rf % n_in == 0 or rf < n_in):
            valid.append(rf)
    return valid


def _divisors(n: int) -> list[int]:
    small = [d for d in range(1, math.isqrt(n) + 1) if n % d == 0]
    return sorted(set(small + [n // d for d in small]))


def closest_reuse_factor(valid: list[int], asked: int) -> int:
    """hls4ml's choice: the closest valid value, the smaller one on a tie."""
    from bisect import bisect_left

    pos = bisect_left(valid, asked)
    if pos == 0:
        return valid[0]
    if pos == len(valid):
        return valid[-1]
    before, after = valid[pos - 1], valid[pos]
    return after if after - asked < asked - before else before


def usable_reuse_factors(row: LayerRow, io_type: str) -> list[int]:
    """hls4ml's valid ReuseFactors for a layer that its kernel also runs correctly with."""
    valid = valid_reuse_factors(row.n_in, row.n_out)
    limit = kernels.max_reuse(row.layer_class, io_type, row.strategy, row.n_in)
    return [rf for rf in valid if limit is None or rf <= limit] or valid[:1]


# ---------- the tools' habits ----------


def dsp_per_multiply(a_bits: int, b_bits: int, design: Design) -> float:
    """DSP slices for one real a x b multiply: LUTs when both are narrow (two very narrow ones share a DSP), else
    the DSP's ports (25x18 on 7-series, 27x18 on UltraScale), more than one for wider operands."""
    big = max(a_bits, b_bits)
    if big <= design.calibration.packed_multiply_bits:
        return 0.5
    if big <= design.calibration.lut_multiply_bits:
        return 0.0
    return float(dsp_ports(a_bits, b_bits, design))


def dsp_ports(a_bits: int, b_bits: int, design: Design) -> int:
    """DSP slices one multiply of this width needs: 25x18 on 7-series, 27x18 on UltraScale."""
    big, small = max(a_bits, b_bits), min(a_bits, b_bits)
    port_a = 27 if design.ultrascale else 25
    return math.ceil(big / port_a) * math.ceil(small / 18)


def constant_multiplies(weights: WeightStats | None, data_bits: int, design: Design) -> float:
    """DSPs of constant multiplies with these weights: zeros vanish, powers of two are shifts, few significant
    bits become shift-adds, the rest DSPs (by the calibrated share per odd-part bit length)."""
    calibration = design.calibration
    if not weights:
        return 0.0
    if data_bits <= calibration.narrow_data_bits:
        shares = calibration.dsp_share_narrow
    else:
        shares = calibration.dsp_share_stream if design.io_type == "io_stream" else calibration.dsp_share_parallel
    dsp = 0.0
    for key, count in weights.odd_bits_hist.items():
        bits = int(key)
        if bits <= 1:
            continue  # zero, or a power of two: a shift
        dsp += count * shares[min(bits, len(shares) + 1) - 2]
    return dsp


def lut_per_product(a_bits: int, w_bits: int) -> float:
    """The adder tree and shift-adds of one constant product grow with the operands' width: (2 b - 5) LUTs at
    b = their mean width (27 at 16 bits, 11 at 8, 7 at 6 in the reports), before calibration."""
    return max(1.0, a_bits + w_bits - 5)


def tree_bits(row: LayerRow, a_bits: int, acc_bits: int) -> float:
    """What a Latency-strategy layer's pipeline registers hold, in bits: each output's accumulator at every level of
    its adder tree (log2 of its non-zero products), and the inputs."""
    n_in, n_out = row.n_in, row.n_out
    nonzero_per_output = (n_in * n_out - row.zero_weights) / n_out
    return n_out * acc_bits * math.log2(max(2.0, nonzero_per_output)) + n_in * a_bits


def pipeline_stages(design: Design, a_bits: int, w_bits: int, n_in: int) -> int:
    """The register stages the tool cuts a fully parallel multiply and its adder tree into: the whole clock
    periods (less the tool's uncertainty) their delay spans, none when it fits in one. The delays are a guess
    that the reports bear out (a layer's latency is 0 or 1 cycle at 5 ns on UltraScale, and its FFs with it): a
    DSP multiply 2.5 ns, a LUT one (narrow data) 1.5 ns, 0.4 ns per adder level, 1.5x that on 7-series."""
    multiply = 1.5 if max(a_bits, w_bits) <= design.calibration.narrow_data_bits else 2.5
    delay = (multiply + 0.4 * math.log2(max(2, n_in))) * (1.0 if design.ultrascale else 1.5)
    return math.floor(delay / (design.clock_period * (1 - CLOCK_UNCERTAINTY)))


def _ff_per_tree_bit(calibration: Calibration, stream: bool, rf: int) -> float:
    if rf > 1:
        return calibration.ff_per_shared_tree_bit_stream if stream else calibration.ff_per_shared_tree_bit
    return calibration.ff_per_tree_bit_stream if stream else calibration.ff_per_tree_bit


def bram18_for(width_bits: int, depth: int) -> int:
    """BRAM18 blocks for a memory of depth x width (aspect ratios 512x36 ... 16Kx1)."""
    for max_depth, port in ((512, 36), (1024, 18), (2048, 9), (4096, 4), (8192, 2), (16384, 1)):
        if depth <= max_depth:
            return math.ceil(width_bits / port)
    return math.ceil(depth / 16384) * width_bits


# ---------- per layer kind ----------


def _weighted(row: LayerRow, design: Design, reuse: int | None, bits: int | None) -> LayerEstimate:
    calibration = design.calibration
    est = LayerEstimate(row.name, row.layer_class, list(row.output_shape))
    n_in, n_out = row.n_in, row.n_out
    products = n_in * n_out
    resource = kernels.is_resource(row.strategy)
    est.multiplies_per_output, est.pixels = products, (row.pixels or 1)
    est.reuse_valid = valid_reuse_factors(n_in, n_out)
    est.reuse_asked = row.reuse_asked
    # As converted, the ReuseFactor is the one hls4ml wrote (a PointwiseConv's own entry unchecked); one asked
    # for here (a way out, fit's search) goes through hls4ml's rule.
    asked = reuse if reuse is not None else row.reuse_used or 1
    rf = closest_reuse_factor(est.reuse_valid, asked) if resource and reuse is not None else asked
    est.reuse_used = rf
    w_bits = bits or row.weight_bits or 16
    a_bits = bits or row.input_bits or 16
    acc_bits = bits or row.accum_bits or row.result_bits or 16
    est.weight_width = w_bits
    stream = design.io_type == "io_stream"
    conv = "Conv" in row.layer_class
    # The multiplies that run at once: a pixel (io_stream), a partition of n_pixels (io_parallel conv), or all.
    copies = 1 if stream or not conv else max(1, (row.pixels or 1) // max(1, row.n_partitions or 1))
    mean_bits = (w_bits + a_bits) / 2
    if resource:
        est.multipliers = math.ceil(products / rf) * copies
        est.dsp = round(est.multipliers * dsp_per_multiply(w_bits, a_bits, design))
        width = est.multipliers * max(mean_bits, acc_bits)
        est.lut = round(calibration.lut_resource_layer + calibration.lut_per_multiplier_bit * width)
        product_width = est.multipliers * (w_bits + a_bits)  # each multiplier's registered product
        est.ff = round(calibration.ff_resource_layer + calibration.ff_per_multiplier_bit * product_width)
        est.ff += round(calibration.ff_per_input_bit * n_in * a_bits * copies)  # the inputs (a conv's window)
        if rf > 1:
            est.bram18 = bram18_for(math.ceil(products / rf) * w_bits, rf) * copies
        steps = rf + calibration.resource_overhead
    else:
        weights = row.weights
        if bits:  # what-if width: the layer's values with the same share as at their own width
            weights = None
        dsp = constant_multiplies(weights, a_bits, design) if weights else products * 0.7
        if bits and bits <= calibration.narrow_data_bits:
            dsp = 0.0
        ports = dsp_ports(w_bits, a_bits, design)
        # hls4ml's ALLOCATION mul limit: ceil(products / RF) - zeros / RF (its dense config's multiplier_limit)
        limit = math.ceil(products / rf) - row.zero_weights // rf
        if limit < dsp:
            est.dsp = round(limit * ports * calibration.latency_limit_share * copies)
        else:
            est.dsp = round(dsp * ports * copies)
        est.multipliers = math.ceil(products / rf) * copies
        nonzero = (products - row.zero_weights) * copies
        est.lut = round(calibration.lut_per_product * nonzero * lut_per_product(a_bits, w_bits))
        stages = pipeline_stages(design, a_bits, w_bits, n_in) if rf == 1 else 1
        est.ff = round(_ff_per_tree_bit(calibration, stream, rf) * tree_bits(row, a_bits, acc_bits) * copies * stages)
        est.ff += round(calibration.ff_per_dsp * est.dsp * stages)
        steps = rf
    depth = calibration.dense_depth + calibration.dense_depth_per_log2 * math.log2(max(n_in, 2))
    if stream and conv:
        in_pixels = (row.in_height or 1) * row.in_width if row.in_width is not None else est.pixels
        est.interval = in_pixels * (steps + (0 if resource else calibration.stream_pixel_overhead))
        est.latency = est.interval + round(depth)
    elif conv:
        partitions = row.n_partitions if row.n_partitions is not None else est.pixels
        est.interval = partitions * steps
        est.latency = est.interval + round(depth)
    else:
        est.interval = steps
        est.latency = round(depth) + (steps if resource else steps - 1)
    return est


def is_scale(row: LayerRow) -> bool:
    """A BatchNormalization or its kin (ApplyAlpha, a QONNX scale): multiplies a ReuseFactor shares too."""
    return not row.weighted and (
        row.elementwise_multiplies is not None or row.layer_class in ("BatchNormalization", "ApplyAlpha")
    )


def scale_reuse_factors(row: LayerRow, io_type: str) -> list[int]:
    """The ReuseFactors that change a scale layer's cost (_batchnorm): the divisors of the multiplies it shares
    (a pixel's channels in io_stream, every element in io_parallel), the largest one multiplier for them all."""
    channels = row.output_shape[-1] if row.output_shape else 1
    count = channels if io_type != "io_parallel" else (row.elementwise_multiplies or row.outputs or channels)
    return _divisors(max(1, count))


def _batchnorm(row: LayerRow, design: Design, reuse: int | None, bits: int | None) -> LayerEstimate:
    """BatchNormalization and its kin (ApplyAlpha, a QONNX scale): a multiply and an add per element.
    hls4ml's normalize: in io_parallel every element at once, PIPELINE II=RF with ALLOCATION mul limit
    ceil(n_in / RF) (the multipliers shared over RF cycles); in io_stream (nnet_batchnorm_stream.h) one pixel per
    cycle (II about RF), its channels unrolled: at most one multiplier per channel, shared over the II."""
    est = LayerEstimate(row.name, row.layer_class, list(row.output_shape))
    result_bits = bits or row.result_bits or 16
    channels = row.output_shape[-1] if row.output_shape else 1
    elements = row.elementwise_multiplies or row.outputs or channels
    rf = reuse or row.reuse_used or 1
    # io_stream: II = n_in / ceil(n_in / RF), about RF cycles a pixel, for its channels' multiplies
    at_once = math.ceil((elements if design.io_type == "io_parallel" else channels) / rf)
    est.dsp = round(_scale_dsp_share(row, result_bits, design) * at_once)
    est.multipliers = at_once
    est.lut = round(2 * at_once * result_bits * design.calibration.lut_per_element_bit)
    est.ff = round(at_once * result_bits * design.calibration.ff_per_element_bit)
    est.latency, est.interval = _elementwise_timing(row, design)
    return est


def _scale_dsp_share(row: LayerRow, data_bits: int, design: Design) -> float:
    """The share of a scale layer's multiplies that take a DSP (at most one each): its constants' share, by
    their statistics (a scale per element makes the stream's multiplier a real one: the DSP rule for its width)."""
    weights = row.weights
    if not weights or not weights.total:
        return min(1.0, dsp_per_multiply(row.weight_bits or 16, data_bits, design))
    channels = row.output_shape[-1] if row.output_shape else 1
    if design.io_type != "io_parallel" and weights.total > channels:
        return min(1.0, dsp_per_multiply(row.weight_bits or 16, data_bits, design))
    return min(1.0, constant_multiplies(weights, data_bits, design) / weights.total)


def _activation(row: LayerRow, design: Design, bits: int | None) -> LayerEstimate:
    calibration = design.calibration
    est = LayerEstimate(row.name, row.layer_class, list(row.output_shape))
    result_bits = bits or row.result_bits or 16
    channels = row.output_shape[-1]
    width = row.outputs if design.io_type == "io_parallel" else channels
    kind = row.activation or row.layer_class.lower()
    est.lut = round(width * result_bits * calibration.lut_per_element_bit)
    est.ff = round(width * result_bits * calibration.ff_per_element_bit)
    if row.layer_class == "Softmax" or kind == "softmax":
        implementation = row.implementation or "stable"
        if calibration.softmax_per_class:  # Vitis HLS: an exp table copy and a multiply per class
            classes = width
            est.bram18 = classes
        else:  # Vivado HLS: the classes of one cycle (all at RF 1) read the exp table, 2 per BRAM, + 1/x
            classes = math.ceil(width / max(1, row.reuse_used or 1))
            est.bram18 = min(math.ceil(classes / 2), 3) + (0 if implementation == "latency" else 1)
        est.dsp = classes if implementation != "argmax" else 0
        est.lut += round(classes * 20 * result_bits * calibration.lut_per_element_bit)
        est.ff += round(classes * 6 * result_bits * calibration.ff_per_element_bit)
    elif kind in TABLE_ACTIVATIONS:
        est.bram18 = math.ceil(width / 2)
    est.latency, est.interval = _elementwise_timing(row, design)
    if row.layer_class == "Softmax":
        est.latency += 3
    return est


WIRING = ("Input", "InputLayer", "Reshape", "Flatten", "Transpose", "ZeroPadding1D", "ZeroPadding2D", "Concatenate")


def _other(row: LayerRow, design: Design, bits: int | None) -> LayerEstimate:
    """Pooling, merges, reshapes, padding, inputs: logic per element (per channel when streaming)."""
    est = LayerEstimate(row.name, row.layer_class, list(row.output_shape))
    result_bits = bits or row.result_bits or 16
    est.latency, est.interval = _elementwise_timing(row, design)
    stream = design.io_type != "io_parallel"
    channels = row.output_shape[-1] if row.output_shape else 1
    if row.layer_class in WIRING or row.layer_class.startswith(("Concatenate", "ZeroPadding")):
        if not stream:  # io_parallel: a copy of wires, no logic
            est.latency = 0
            return est
        if row.layer_class in ("Input", "InputLayer", "Reshape", "Flatten", "Transpose"):
            return est  # a stream passed on (a Transpose's buffer is its own row: between_layers)
        # ZeroPadding, Concatenate in a stream: a mux per channel between the data and zeros (or the inputs)
        est.lut = round(channels * result_bits * design.calibration.lut_per_element_bit)
        est.ff = round(channels * result_bits * design.calibration.ff_per_element_bit)
        return est
    operations, registers = _pool_operations(row, stream)
    est.lut = round(operations * result_bits * design.calibration.lut_per_element_bit)
    est.ff = round(registers * result_bits * design.calibration.ff_per_element_bit)
    return est


def _pool_operations(row: LayerRow, stream: bool) -> tuple[int, int]:
    """Adders or comparators working at once, and the registers they keep (in words). A global pooling (hls4ml's
    GlobalPooling, which a Keras 3 GlobalAveragePooling arrives as, with the whole map as its window) keeps one
    accumulator per channel in a stream, and reduces the whole map at once in io_parallel (an adder or comparator
    tree per channel, its result registered); a windowed pooling reduces its window per output, per channel of a
    pixel when streaming; merges and other elementwise layers one operation per element."""
    channels = row.output_shape[-1] if row.output_shape else 1
    width = channels if stream else (row.outputs or channels)
    if "Global" in row.layer_class:
        shape = row.input_shape or ()
        pixels = math.prod(shape[:-1]) if len(shape) > 1 else (row.pool_height or 1) * (row.pool_width or 1)
        if stream:
            return channels, channels
        return channels * max(1, pixels - 1), channels
    window = (row.pool_height or 1) * (row.pool_width or 1)
    return width * max(1, window - 1), width * max(1, window - 1)


def _elementwise_timing(row: LayerRow, design: Design) -> tuple[int, int]:
    if design.io_type == "io_parallel":
        return 1, 1
    shape = row.input_shape or row.output_shape
    positions = max(1, math.prod(shape[:-1]) if len(shape) > 1 else 1)
    return positions + 2, positions


def estimate_layer(row: LayerRow, design: Design, reuse: int | None = None, bits: int | None = None) -> LayerEstimate:
    """One described layer; `reuse` and `bits` (every operand's width) are what-ifs."""
    if row.weighted:
        return _weighted(row, design, reuse, bits)
    if is_scale(row):
        return _batchnorm(row, design, reuse, bits)
    if row.layer_class in ("Activation", "Softmax", "ReLU", "LeakyReLU", "PReLU", "ThresholdedReLU", "HardActivation"):
        return _activation(row, design, bits)
    return _other(row, design, bits)


# ---------- the design ----------


# A FIFO as Vivado HLS builds it: a shift register (SRL32: a LUT per bit per 32 words) with a few LUTs and about
# five FFs of control when shallow, else a block RAM with its read-ahead register and pointers (the FIFO rows of
# the csynth reports in tests/data/estimator: a 2-deep 16-bit FIFO 28 LUT and 5 FF, hls4ml's own fixture).
SRL_CONTROL_LUT, SRL_CONTROL_FF = 9, 5
BRAM_FIFO_CONTROL_LUT, BRAM_FIFO_CONTROL_FF = 20, 12


@dataclass(frozen=True)
class Memory:
    """A FIFO or buffer between layers (or a conv's line buffer): `instances` memories of depth x width."""

    name: str
    cls: str  # FIFO, LineBuffer, Buffer
    depth: int
    width: int  # bits of one instance's word
    instances: int = 1
    shift_register: bool = False  # a buffer (a line buffer's ap_shift_reg, a Transpose's map): no FIFO control


def memory_cost(memory: Memory, design: Design) -> LayerEstimate:
    """LUT, FF and BRAM18 of a memory from its depth and width: a shift register (SRL32) when shallower than
    the calibration's fifo_min_depth, else BRAM18 (its aspect ratios)."""
    est = LayerEstimate(memory.name, memory.cls, [memory.depth, memory.width], kind=MEMORY)
    depth, width, n = max(1, memory.depth), memory.width, memory.instances
    if depth < design.calibration.fifo_min_depth:
        control_lut, control_ff = (0, 0) if memory.shift_register else (SRL_CONTROL_LUT, SRL_CONTROL_FF)
        est.lut = n * (round(design.calibration.srl_lut_per_bit * width * math.ceil(depth / 32)) + control_lut)
        est.ff = n * control_ff
    elif memory.shift_register:  # a buffer in block RAM: its address counters are its user's
        est.bram18 = n * bram18_for(width, depth)
    elif design.calibration.fifo_per_channel:
        est.bram18 = n * bram18_for(width, depth)
        est.lut, est.ff = n * (width + BRAM_FIFO_CONTROL_LUT), n * (width + BRAM_FIFO_CONTROL_FF)
    else:  # Vitis HLS: a pixel's channels in one word, fifo_word_bits of it per BRAM18
        est.bram18 = n * math.ceil(width / design.calibration.fifo_word_bits) * math.ceil(depth / 1024)
        est.lut, est.ff = n * (width + BRAM_FIFO_CONTROL_LUT), n * (width + BRAM_FIFO_CONTROL_FF)
    return est


def between_layers(design: Design, bits: int | None = None) -> list[Memory]:
    """The memories of a DATAFLOW top between its layers: io_stream FIFOs (hls4ml's depths; the model's input and
    output are ports, not FIFOs), conv and pooling line buffers, a Transpose's whole map; in an io_parallel DATAFLOW
    top, the model input's buffer (18 bits a BRAM18; twice, ping-pong, when a layer uses the Resource strategy)."""
    if not design.dataflow:
        return []
    layers, calibration = design.layers, design.calibration
    if design.io_type == "io_parallel":
        if design.tool != "vivado_hls":  # seen only with Vivado HLS (Vitis HLS keeps the input in registers)
            return []
        first = layers[0]
        elements = math.prod(first.output_shape) if first.output_shape else 1
        width = bits or first.result_bits or 16
        copies = 2 if any(kernels.is_resource(row.strategy) for row in layers) else 1
        return [Memory(f"{first.name} buffer", "Buffer", 512, 18, copies * math.ceil(elements * width / 18), True)]
    found = []
    for row in layers[1:-1]:
        if in_place(row):
            continue
        for index, (depth, channels, width) in enumerate(fifos_of(row, bits)):
            name = f"{row.name} FIFO" + (f" {index + 1}" if index else "")
            if calibration.fifo_per_channel:
                found.append(Memory(name, "FIFO", depth, width, channels))
            else:
                found.append(Memory(name, "FIFO", depth, channels * width))
    for row in layers:
        found += _row_buffers(row, bits)
    return found


def _row_buffers(row: LayerRow, bits: int | None) -> list[Memory]:
    """A streamed layer's own buffers: the line buffers of a windowed conv or pooling (window height - 1 rows of
    its input, a shift register per channel), a Transpose's whole map."""
    width = bits or row.input_bits or row.result_bits or 16
    channels = row.n_chan if row.n_chan is not None else (row.output_shape or (1,))[-1]
    if row.layer_class == "Transpose" and row.input_shape:
        return [Memory(f"{row.name} buffer", "Buffer", math.prod(row.input_shape), width, 1, True)]
    if "Global" in row.layer_class or row.in_width is None:
        return []
    height = row.filt_height if "Conv" in row.layer_class else row.pool_height
    if (height or 1) <= 1:
        return []
    return [Memory(f"{row.name} line buffer", "LineBuffer", row.in_width, width, (height - 1) * channels, True)]


def port_bits(design: Design, row_index: int, bits: int | None = None) -> int:
    """The bits a layer of a DATAFLOW top writes to what follows it at once (what lut_per_port_bit and
    ff_per_port_bit are per): an io_stream layer's output streams, an io_parallel top's input buffer."""
    if not design.dataflow:
        return 0
    layers = design.layers
    if design.io_type == "io_parallel":
        first = layers[0]
        return math.prod(first.output_shape or (1,)) * (bits or first.result_bits or 16) if row_index == 0 else 0
    row = layers[row_index]
    if row_index == 0 or row_index == len(layers) - 1 or in_place(row):
        return 0  # the model's ports; an in-place variable has no function writing it (its reader gathers it)
    return sum(channels * width for _, channels, width in fifos_of(row, bits))


def in_place(row: LayerRow) -> bool:
    """An io_stream layer output without a stream pragma: hls4ml's in-place variable (a Flatten a Dense reads
    word by word), no function and no FIFO of its own."""
    return not row.streams and row.stream_depth is None


def gathered_bits(design: Design, row_index: int, bits: int | None = None) -> int:
    """What a streamed layer collects into registers from an in-place variable before it (a Dense after a
    Flatten: nnet_dense_stream's DataPrepare writes data[n_in] word by word): a write enable per bit."""
    if design.io_type != "io_stream" or row_index < 2 or not in_place(design.layers[row_index - 1]):
        return 0
    source = design.layers[row_index - 1]
    return (source.outputs or math.prod(source.output_shape or (1,))) * (bits or source.result_bits or 16)


def fifos_of(row: LayerRow, bits: int | None = None) -> list[tuple[int, int, int]]:
    """A layer's output FIFOs in io_stream as (depth, channels, bits): one, or one per branch of a fork."""
    if row.streams:
        return [(s.depth, s.channels, bits or s.bits or 16) for s in row.streams]
    channels = row.output_shape[-1] if row.output_shape else 1
    return [(row.stream_depth or 0, channels, bits or row.result_bits or 16)]


def _row_estimate(design: Design, index: int, reuse: int | None, bits: int | None) -> LayerEstimate:
    """A layer's row: the layer, and in a DATAFLOW top what it writes to the next (its port) and what it gathers
    from an in-place variable before it."""
    layer = estimate_layer(design.layers[index], design, reuse, bits)
    written = port_bits(design, index, bits)
    layer.lut += round(design.calibration.lut_per_port_bit * written)
    gathered = gathered_bits(design, index, bits)  # the registers it collects them in, a write enable each
    layer.lut += gathered
    layer.ff += round(design.calibration.ff_per_port_bit * written) + gathered
    return layer


def estimate_design(design: Design, reuse: dict[str, int] | None = None, bits: int | None = None) -> DesignEstimate:
    """Every row the design is made of (its layers, the memories between them, the top's own) and their sums."""
    reuse = reuse or {}
    calibration = design.calibration
    layers = [_row_estimate(design, index, reuse.get(row.name), bits) for index, row in enumerate(design.layers)]
    memories = [memory_cost(memory, design) for memory in between_layers(design, bits)]
    top = LayerEstimate("(top)", "top level", [], ff=round(calibration.ff_design), kind=TOP)
    rows = layers + memories + [top]
    totals = {r: sum(row.resources()[r] for row in rows) for r in RESOURCES}
    if design.dataflow:  # layers overlap; the slowest sets the pace
        interval = max((layer.interval for layer in layers), default=1)
        latency = interval + sum(layer.latency - layer.interval for layer in layers)
    else:  # one pipelined function: the depths add up; a new input every max(ReuseFactor) cycles
        latency = sum(layer.latency for layer in layers)
        interval = max((layer.interval for layer in layers), default=1)
    return DesignEstimate(rows, totals, max(latency, 1), max(interval, 1))


# ---------- the cheapest any ReuseFactor can make it ----------


def lower_bound_totals(design: Design, bits: int | None = None) -> dict[str, int]:
    """A bound below every estimate of this design at these types, whatever the ReuseFactors: the sums of
    lower_bound_rows."""
    rows = lower_bound_rows(design, bits)
    return {resource: sum(amounts[resource] for _, amounts in rows) for resource in RESOURCES}


def lower_bound_rows(design: Design, bits: int | None = None) -> list[tuple[str, dict[str, int]]]:
    """Each row of the design at its cheapest, per resource: a weighted layer over the ReuseFactor hls4ml
    converted it with and every usable one (at 8 bits too when its operands are no wider, where a multiply that
    took half a DSP at 4 bits takes none), the rows that no ReuseFactor changes (the others, the FIFOs and
    buffers, the top's own) as they are; a scale layer (BatchNormalization, a QONNX graph's ApplyAlpha) at its
    cheapest ReuseFactor too, as a model-wide one shares its multiplies (the plan's design of a flow with
    ReuseFactor 8 has them at 8). Each row depends only on its own ReuseFactor and types, so the sum of the minima
    is at most any estimate's sum, and a row's figure is at most what it uses in any of them."""
    base = estimate_design(design, None, bits)
    rows = [(estimate.name, estimate.resources()) for estimate in base.layers]
    for index, (row, layer) in enumerate(zip(design.layers, base.layers, strict=False)):
        if row.weighted:
            rows[index] = (layer.name, _cheapest_row(design, index, bits, layer))
        elif is_scale(row):
            candidates = [layer.resources()]
            candidates += [
                _row_estimate(design, index, rf, bits).resources() for rf in scale_reuse_factors(row, design.io_type)
            ]
            rows[index] = (layer.name, {r: min(c[r] for c in candidates) for r in RESOURCES})
    return rows


def _cheapest_row(design: Design, index: int, bits: int | None, as_converted: LayerEstimate) -> dict[str, int]:
    row = design.layers[index]
    widths = [bits]
    if (bits or max(row.weight_bits or 16, row.input_bits or 16)) <= 8:
        widths.append(8)
    candidates = [as_converted.resources()]
    for width in widths:
        for rf in usable_reuse_factors(row, design.io_type):
            candidates.append(_row_estimate(design, index, rf, width).resources())
    return {r: min(c[r] for c in candidates) for r in RESOURCES}
