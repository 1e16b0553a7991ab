"""`hlsbox plan`: resource and latency estimates per layer against the part, in seconds.

The model is hls4ml's own arithmetic for its Vivado backend (io_parallel / io_stream, Latency /
Resource strategy): a weighted layer with n_in x n_out multiplies per output pixel runs
ceil(n_in * n_out / RF) multipliers in parallel, each output pixel taking RF cycles; under the
Resource strategy (RF > 1) the weights sit in block RAM reshaped by that block factor. The
ReuseFactor rule is hls4ml's (`_validate_reuse_factor`), so the RF shown as used is the one hls4ml
will use. LUT and FF are rough (README, "Estimator accuracy").
"""

from __future__ import annotations

import math
from bisect import bisect_left
from dataclasses import asdict, dataclass, field

from hlsbox import kernels
from hlsbox.parts import DEVICES, Device

FITS, TIGHT, NO_FIT = "fits", "tight", "does not fit"
TIGHT_ABOVE = 0.8  # share of a resource above which a design is "tight"
RESOURCES = ("LUT", "FF", "BRAM_18K", "DSP")


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
    pos = bisect_left(valid, asked)
    if pos == 0:
        return valid[0]
    if pos == len(valid):
        return valid[-1]
    before, after = valid[pos - 1], valid[pos]
    return after if after - asked < asked - before else before


def dsp_per_multiply(a_bits: int, b_bits: int, device: Device) -> int:
    """DSP slices for one a x b multiply; 0 where the tools build it from LUTs (both operands small)."""
    big, small = max(a_bits, b_bits), min(a_bits, b_bits)
    if big <= 10:
        return 0
    port_a = 27 if "UltraScale" in device.family or device.family.startswith("Alveo") else 25
    return math.ceil(big / port_a) * math.ceil(small / 18)


def bram18_for(width_bits: int, depth: int) -> int:
    """BRAM18 blocks for a ROM of depth x width (aspect ratios 512x36 ... 16Kx1)."""
    for max_depth, port in ((512, 36), (1024, 18), (2048, 9), (4096, 4), (8192, 2), (16384, 1)):
        if depth <= max_depth:
            return math.ceil(width_bits / port)
    return math.ceil(depth / 16384) * width_bits


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
    multipliers: int = 0  # in parallel
    dsp: int = 0
    lut: int = 0
    ff: int = 0
    bram18: int = 0
    weight_width: int = 0  # bits of one weight (from the layer's type, e.g. a QKeras quantiser)
    cycles: int = 0

    def resources(self) -> dict[str, int]:
        return {"LUT": self.lut, "FF": self.ff, "BRAM_18K": self.bram18, "DSP": self.dsp}


def estimate_layer(
    row: dict, device: Device, io_type: str, reuse: int | None = None, bits: int | None = None
) -> LayerEstimate:
    """One layer of a `describe` result; `reuse` and `bits` (every operand's width) are what-ifs."""
    est = LayerEstimate(row["name"], row["class"], row["output_shape"])
    if bits:
        row = {**row, **{k: bits for k in ("result_bits", "weight_bits", "input_bits", "accum_bits") if k in row}}
    result_bits = row.get("result_bits") or 16
    positions = max(1, row["outputs"] // (row["output_shape"][-1] or 1))
    if "n_in" in row:
        n_in, n_out = row["n_in"], row["n_out"]
        resource = row["strategy"] in ("resource", "resource_unrolled")
        est.multiplies_per_output, est.pixels = n_in * n_out, row["pixels"]
        est.reuse_valid = valid_reuse_factors(n_in, n_out)
        est.reuse_asked = row["reuse_asked"]
        rf = reuse if reuse is not None else row["reuse_used"] or 1
        est.reuse_used = closest_reuse_factor(est.reuse_valid, rf) if resource else rf
        rf = est.reuse_used
        w_bits, a_bits = row["weight_bits"] or 16, row["input_bits"] or 16
        acc_bits = row.get("accum_bits") or result_bits
        multiplies = n_in * n_out
        if not resource:  # constant weights in logic: multiplies by zero vanish
            multiplies -= row.get("zero_weights", 0)
        est.multipliers = math.ceil(multiplies / rf)
        per_dsp = dsp_per_multiply(w_bits, a_bits, device)
        est.dsp = est.multipliers * per_dsp
        lut_mult = 0 if per_dsp else math.ceil(0.6 * w_bits * a_bits)
        est.lut = est.multipliers * (2 * acc_bits + lut_mult)
        est.ff = est.multipliers * 2 * (w_bits + a_bits + acc_bits)
        est.weight_width = w_bits
        if resource and rf > 1:
            est.bram18 = bram18_for(est.multipliers * w_bits, rf)
        est.cycles = est.pixels * rf + 5
    elif "elementwise_multiplies" in row:  # batch norm: one scale multiply per element, shared RF times
        rf = reuse or row.get("reuse_used") or 1
        per_dsp = dsp_per_multiply(row.get("weight_bits") or 16, result_bits, device)
        width = row["elementwise_multiplies"] if io_type == "io_parallel" else row["output_shape"][-1]
        est.multipliers = math.ceil(width / rf)
        est.dsp = est.multipliers * per_dsp
        est.lut, est.ff = est.multipliers * result_bits, est.multipliers * 2 * result_bits
        est.cycles = 3 if io_type == "io_parallel" else positions
    else:  # activations, pooling, merges, reshapes: logic per element (per channel when streaming)
        width = row["outputs"] if io_type == "io_parallel" else row["output_shape"][-1]
        est.lut, est.ff = width * result_bits, width * result_bits
        est.cycles = 2 if io_type == "io_parallel" else positions
    return est


@dataclass
class Plan:
    flow: str
    part: str
    device: str
    io_type: str
    strategy: str
    clock_period: float
    layers: list[LayerEstimate]
    totals: dict[str, int]
    capacity: dict[str, int]
    utilisation: dict[str, float]
    verdict: str
    latency_cycles: int
    ways_out: list[str]
    reuse_that_fits: dict[str, int] | None = None
    parts_that_fit: list[str] = field(default_factory=list)
    alternatives: list[Variant] = field(default_factory=list)  # the ways out that can be written as flows
    kernel_problems: list[dict] = field(default_factory=list)  # layers whose hls4ml kernel would abort

    def to_dict(self) -> dict:
        return asdict(self)


def totals_of(layers: list[LayerEstimate]) -> dict[str, int]:
    return {r: sum(layer.resources()[r] for layer in layers) for r in RESOURCES}


def verdict_of(totals: dict[str, int], device: Device) -> tuple[dict[str, float], str]:
    capacity = device.capacity()
    share = {r: totals[r] / capacity[r] if capacity[r] else math.inf for r in RESOURCES}
    worst = max(share.values())
    return share, NO_FIT if worst > 1 else TIGHT if worst > TIGHT_ABOVE else FITS


def estimate(
    described: dict, device: Device, io_type: str, reuse: dict[str, int] | None = None, bits: int | None = None
) -> list[LayerEstimate]:
    reuse = reuse or {}
    return [estimate_layer(row, device, io_type, reuse.get(row["name"]), bits) for row in described["layers"]]


def usable_reuse_factors(row: dict, io_type: str) -> list[int]:
    """hls4ml's valid ReuseFactors for a layer that its kernel also runs correctly with."""
    valid = valid_reuse_factors(row["n_in"], row["n_out"])
    limit = kernels.max_reuse(row["class"], io_type, row.get("strategy"), row["n_in"])
    return [rf for rf in valid if limit is None or rf <= limit] or valid[:1]


def kernel_problems(described: dict, io_type: str) -> list[dict]:
    found = []
    for row in described["layers"]:
        if "n_in" in row:
            rf = row.get("reuse_used") or 1
            problem = kernels.problem(row["name"], row["class"], io_type, row.get("strategy"), row["n_in"], rf)
            if problem is not None:
                found.append(asdict(problem))
    return found


def smallest_reuse_that_fits(
    described: dict, device: Device, io_type: str, bits: int | None = None
) -> dict[str, int] | None:
    """Per weighted layer, the smallest valid ReuseFactor at or above one common target with which the
    whole design fits the part (every resource within 100%); None when even the largest does not."""
    weighted = [row for row in described["layers"] if "n_in" in row]
    usable = {row["name"]: usable_reuse_factors(row, io_type) for row in weighted}
    candidates = sorted({rf for valid in usable.values() for rf in valid})
    for target in candidates:
        choice = {}
        for row in weighted:
            valid = usable[row["name"]]
            choice[row["name"]] = next((rf for rf in valid if rf >= target), valid[-1])
        totals = totals_of(estimate(described, device, io_type, choice, bits))
        if verdict_of(totals, device)[1] != NO_FIT:
            return choice
    return None


def make_plan(described: dict, flow: dict, device: Device) -> Plan:
    io_type = flow["io_type"]
    layers = estimate(described, device, io_type)
    totals = totals_of(layers)
    share, verdict = verdict_of(totals, device)
    plan = Plan(
        flow["name"],
        flow["part"],
        device.name,
        io_type,
        flow["strategy"],
        flow["clock_period"],
        layers,
        totals,
        device.capacity(),
        {r: round(v, 4) for r, v in share.items()},
        verdict,
        sum(layer.cycles for layer in layers),
        [],
    )
    plan.kernel_problems = kernel_problems(described, io_type)
    if verdict != FITS or plan.kernel_problems:
        plan.parts_that_fit = [
            d.name
            for d in sorted(DEVICES.values(), key=lambda d: (d.dsp, d.lut))
            if verdict_of(totals_of(estimate(described, d, io_type)), d)[1] != NO_FIT
        ]
        tries = alternatives(plan, described, device)
        plan.alternatives = [t for t in tries if not (t.searched_reuse and t.reuse is None)]  # writable as flows
        if verdict == NO_FIT:
            plan.reuse_that_fits = tries[0].reuse  # the first alternative: this io_type, ReuseFactors that fit
        plan.ways_out = ways_out(plan, tries)
    return plan


@dataclass(frozen=True)
class Variant:
    """A what-if: the same model with another io_type, precision width or ReuseFactors."""

    label: str
    verdict: str
    totals: dict[str, int]
    utilisation: dict[str, float]
    latency_cycles: int
    io_type: str
    bits: int | None = None  # every operand this wide (ap_fixed<bits, 3>), or the flow's types
    reuse: dict[str, int] | None = None
    searched_reuse: bool = False  # True when ReuseFactors were searched for (and `reuse` is None if none fit)


def variant(
    described: dict, device: Device, io_type: str, label: str, bits: int | None = None, fit_reuse: bool = False
) -> Variant:
    reuse = smallest_reuse_that_fits(described, device, io_type, bits) if fit_reuse else None
    layers = estimate(described, device, io_type, reuse, bits)
    totals = totals_of(layers)
    share, verdict = verdict_of(totals, device)
    cycles = sum(layer.cycles for layer in layers)
    return Variant(label, verdict, totals, share, cycles, io_type, bits, reuse, fit_reuse)


def _describe_variant(v: Variant, clock_period: float) -> str:
    if v.searched_reuse and v.reuse is None:
        return f"{v.label.replace(' that fit', '')}: no ReuseFactor makes it fit."
    worst = max(v.utilisation, key=v.utilisation.get)
    text = (
        f"{v.label}: {v.verdict} (most used {worst} {v.utilisation[worst]:.0%}; latency about "
        f"{v.latency_cycles:,} cycles, {v.latency_cycles * clock_period / 1e3:,.1f} µs)"
    )
    if v.reuse:
        text += "; ReuseFactor per layer " + ", ".join(f"{name} {rf}" for name, rf in v.reuse.items())
    return text


def alternatives(plan: Plan, described: dict, device: Device) -> list[Variant]:
    """What-ifs, each re-planned: ReuseFactors that fit, io_stream for conv nets, 8-bit precision."""
    conv_net = plan.io_type == "io_parallel" and any(layer.cls.startswith("Conv") for layer in plan.layers)
    tries = [variant(described, device, plan.io_type, f"ReuseFactors that fit ({plan.io_type})", fit_reuse=True)]
    if conv_net:
        tries.append(variant(described, device, "io_stream", "io_stream, same ReuseFactors"))
        tries.append(variant(described, device, "io_stream", "io_stream + ReuseFactors that fit", fit_reuse=True))
    tries.append(variant(described, device, plan.io_type, f"ap_fixed<8,3> everywhere ({plan.io_type})", bits=8))
    if plan.io_type == "io_parallel":
        tries.append(
            variant(
                described,
                device,
                "io_stream",
                "io_stream + ap_fixed<8,3> + ReuseFactors that fit",
                bits=8,
                fit_reuse=True,
            )
        )
    return tries


def ways_out(plan: Plan, tries: list[Variant]) -> list[str]:
    period = plan.clock_period
    writable = [t for t in tries if not (t.searched_reuse and t.reuse is None)]
    ways = [_describe_variant(attempt, period) for attempt in writable + [t for t in tries if t not in writable]]
    if plan.strategy != "Resource":
        ways.append('ReuseFactors above 1 share multipliers only with strategy = "Resource".')
    if plan.parts_that_fit:
        ways.append(f"A larger part holds this design as is: {', '.join(plan.parts_that_fit[:4])} (smallest first).")
    else:
        ways.append("No part in the database holds this design as it is.")
    return ways
