"""`hlsbox plan`: a design's resources, latency and interval against the part, with the estimator's error band,
a verdict, kernel checks and re-planned ways out, in seconds.

The estimates come from hlsbox.core.estimator (per layer, hls4ml's arithmetic and the tools' habits fitted to real
reports); the band of each total is the 10th-90th percentile of estimated / reported over the recorded designs
of the same tool (ERROR_BANDS, checked against tests/data/estimator by a test). The verdict uses the band:
"fits" when every resource fits even at the band's high end, "does not fit" when one exceeds the part even at
its low end, "tight" between. Pure Python: used on the host and, by `fit`, in the image.

Two levels: the estimator's totals are csynth's (Vivado or Vitis HLS's own estimate, what the recorded reports
give); a part holds what Vivado's synthesis places, csynth's totals times the measured synthesis / csynth ratio
of each resource (SYNTHESIS_RATIO, SYNTHESIS_BANDS: tests/data/estimator/synthesis). The verdict, fit's budget
and the ways out are decided on the synthesis level (`judged`: what the part must hold); the plan shows the csynth
level beside it, each number named by its level.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field

from hlsbox.core import kernels, surrogate
from hlsbox.core.contract import BatchNormNote, DescribeResult, DesignCost, GraphRepair, ImageFlow, JsonRecord, Verdict
from hlsbox.core.estimator import (
    RESOURCES,
    Design,
    DesignEstimate,
    LayerEstimate,
    closest_reuse_factor,
    estimate_design,
    usable_reuse_factors,
    valid_reuse_factors,
)
from hlsbox.core.parts import DEVICES, Device
from hlsbox.core.units import human_time

__all__ = [
    "FITS",
    "NO_FIT",
    "TIGHT",
    "LayerEstimate",
    "Plan",
    "SynthesisLevel",
    "Variant",
    "closest_reuse_factor",
    "design_for",
    "make_plan",
    "usable_reuse_factors",
    "valid_reuse_factors",
]

FITS, TIGHT, NO_FIT = Verdict.FITS, Verdict.TIGHT, Verdict.NO_FIT
TIGHT_ABOVE = 0.8  # share of a resource above which a design is "tight" even inside the band
# estimated / reported, out of sample (each recorded design estimated by a calibration fitted without any design
# of its repository): 10th and 90th percentile (tests/unit/test_estimator_accuracy.py checks them against the data).
ERROR_BANDS = {
    "vivado_hls": {
        "DSP": (0.9, 1.29),
        "BRAM_18K": (0.86, 1.14),
        "LUT": (0.63, 1.59),
        "FF": (0.33, 2.06),
        "latency": (0.6, 1.6),
        "interval": (0.96, 1.23),
    },
    "vitis_hls": {
        "DSP": (0.82, 1.54),
        "BRAM_18K": (0.9, 1.15),
        "LUT": (0.56, 1.66),
        "FF": (0.19, 1.12),
        "latency": (0.22, 3.39),
        "interval": (0.33, 2.63),
    },
}


# Vivado's synthesis against csynth, per resource: the median of synthesis / csynth over the hls4ml designs that
# published both reports (tests/data/estimator/synthesis: 15-16 designs from 6-7 repositories; designs whose csynth
# DSPs exceed the part's left out), never above 1. csynth counts LUTs for logic synthesis removes and FIFOs that
# become shift registers (io_stream FIFOs in BRAM_18K: 0.10-0.18 on Resource CNNs).
SYNTHESIS_RATIO = {"DSP": 1.0, "BRAM_18K": 0.71, "LUT": 0.47, "FF": 0.74}
# synthesis-level estimate / real synthesis, out of sample (the csynth level's held-out error times the ratio's,
# each ratio the median without the design's repository): 10th and 90th percentile (tests/unit/test_synthesis_level.py).
SYNTHESIS_BANDS = {
    "vivado_hls": {"DSP": (0.9, 2.22), "BRAM_18K": (0.74, 5.66), "LUT": (0.57, 1.88), "FF": (0.3, 2.64)},
    "vitis_hls": {"DSP": (0.83, 2.22), "BRAM_18K": (0.71, 5.66), "LUT": (0.52, 2.01), "FF": (0.19, 2.04)},
}
TOOL_NAMES = {"vivado_hls": "Vivado HLS", "vitis_hls": "Vitis HLS"}
SYNTHESIS_LEVEL = "synthesis (what the part holds)"


def csynth_level(tool: str) -> str:
    return f"csynth ({TOOL_NAMES.get(tool, 'Vivado HLS')}'s estimate)"


def tool_of(backend: str) -> str:
    return "vitis_hls" if backend == "Vitis" else "vivado_hls"


def design_for(described: DescribeResult, flow: ImageFlow, device: Device) -> Design:
    return Design(
        list(described.layers),
        flow.io_type,
        device,
        flow.part,
        tool_of(flow.backend),
        flow.clock_period,
    )


Bands = dict[str, dict[str, tuple[float, float]]]


def band(tool: str, quantity: str, value: float, bands: Bands = ERROR_BANDS) -> tuple[int, int]:
    """The range the real figure is likely in, given the estimate (estimate / the ratio band)."""
    low, high = (bands[tool] if tool in bands else bands["vivado_hls"]).get(quantity, (1.0, 1.0))
    return math.floor(value / high), math.ceil(value / low)


def verdict_of(
    totals: dict[str, int], device: Device, tool: str, bands: Bands = ERROR_BANDS
) -> tuple[dict[str, float], Verdict]:
    capacity = device.capacity()
    share = {r: totals[r] / capacity[r] if capacity[r] else math.inf for r in RESOURCES}
    worst = max(share.values())
    lowest = max(band(tool, r, totals[r], bands)[0] / capacity[r] if capacity[r] else math.inf for r in RESOURCES)
    highest = max(band(tool, r, totals[r], bands)[1] / capacity[r] if capacity[r] else math.inf for r in RESOURCES)
    if lowest > 1:
        return share, NO_FIT
    if highest <= 1 and worst <= TIGHT_ABOVE:
        return share, FITS
    return share, TIGHT


def placed(totals: dict[str, int]) -> dict[str, int]:
    """What synthesis places of these csynth-level totals (the measured ratios)."""
    return {r: math.ceil(totals[r] * SYNTHESIS_RATIO[r]) for r in RESOURCES}


def judged(totals: dict[str, int], device: Device, tool: str) -> tuple[dict[str, float], Verdict]:
    """The verdict on csynth-level totals, decided on what the part must hold: their synthesis level, its shares
    of the part and its out-of-sample band."""
    return verdict_of(placed(totals), device, tool, SYNTHESIS_BANDS)


def judged_band(tool: str, quantity: str, value: float) -> tuple[int, int]:
    """The synthesis level's band of one csynth-level figure."""
    return band(tool, quantity, math.ceil(value * SYNTHESIS_RATIO[quantity]), SYNTHESIS_BANDS)


@dataclass(frozen=True)
class SynthesisLevel(JsonRecord):
    """What Vivado's synthesis places: csynth's totals times the measured ratios, their band, share and verdict."""

    totals: dict[str, int]
    bands: dict[str, tuple[int, int]]
    utilisation: dict[str, float]
    verdict: Verdict
    level: str = SYNTHESIS_LEVEL


def synthesis_level(totals: dict[str, int], device: Device, tool: str) -> SynthesisLevel:
    share, verdict = judged(totals, device, tool)
    return SynthesisLevel(
        placed(totals),
        {r: judged_band(tool, r, totals[r]) for r in RESOURCES},
        {r: round(v, 4) for r, v in share.items()},
        verdict,
    )


@dataclass(frozen=True)
class Plan(JsonRecord):
    """`hlsbox plan`'s answer (plan.json): the estimate against the part, its band, the verdict and the ways out."""

    flow: str
    part: str
    device: str
    tool: str
    io_type: str
    strategy: str
    clock_period: float
    layers: list[LayerEstimate]
    totals: dict[str, int]
    bands: dict[str, tuple[int, int]]
    capacity: dict[str, int]
    utilisation: dict[str, float]
    verdict: Verdict
    latency_cycles: int
    interval_cycles: int
    ways_out: list[str]
    reuse_that_fits: dict[str, int] | None = None
    parts_that_fit: list[str] = field(default_factory=list)
    alternatives: list[Variant] = field(default_factory=list)  # the ways out that can be written as flows
    kernel_problems: list[kernels.KernelProblem] = field(default_factory=list)  # layers whose hls4ml kernel would abort
    unfused_batchnorms: list[BatchNormNote] = field(default_factory=list)
    repairs: list[GraphRepair] = field(default_factory=list)  # what hlsbox repaired in hls4ml's conversion
    hls4ml_warnings: list[str] = field(default_factory=list)
    second_opinion: surrogate.Opinion | None = None  # None: no recorded design to compare with
    disputed: tuple[str, ...] = ()  # totals on which the estimate and the second opinion differ by more than 3x
    level: str = ""  # which level totals, bands and utilisation are: csynth_level(tool); the verdict is synthesis's
    synthesis: SynthesisLevel | None = None  # the same design at the synthesis level (what the part holds)


def kernel_problems(design: Design) -> list[kernels.KernelProblem]:
    found = []
    for row in design.layers:
        if row.weighted:
            rf = row.reuse_used or 1
            problem = kernels.problem(
                row.name, row.layer_class, design.io_type, row.strategy, row.n_in, rf, row.flow_name
            )
            if problem is not None:
                found.append(problem)
    return found


def with_io(design: Design, io_type: str) -> Design:
    return Design(design.layers, io_type, design.device, design.part, design.tool, design.clock_period)


def smallest_reuse_that_fits(
    design: Design, bits: int | None = None, accept_tight: bool = True
) -> dict[str, int] | None:
    """Per weighted layer, the smallest usable ReuseFactor at or above one common target with which the whole
    design fits the part: "fits" where some target gets there, else (if `accept_tight`) the first "tight" one;
    None when none does."""
    weighted = [row for row in design.layers if row.weighted]
    usable = {row.name: usable_reuse_factors(row, design.io_type) for row in weighted}
    candidates = sorted({rf for valid in usable.values() for rf in valid})
    first_tight = None
    for target in candidates:
        choice = {name: next((rf for rf in valid if rf >= target), valid[-1]) for name, valid in usable.items()}
        verdict = judged(estimate_design(design, choice, bits).totals, design.device, design.tool)[1]
        if verdict == FITS:
            return choice
        if verdict == TIGHT and accept_tight and first_tight is None:
            first_tight = choice
    return first_tight


def make_plan(described: DescribeResult, flow: ImageFlow, device: Device) -> Plan:
    design = design_for(described, flow, device)
    estimate = estimate_design(design)
    share, _ = verdict_of(estimate.totals, device, design.tool)  # the csynth level's shares, shown beside
    synthesis = synthesis_level(estimate.totals, device, design.tool)
    verdict = synthesis.verdict  # decided on what the part must hold
    plan = Plan(
        flow.name,
        flow.part,
        device.name,
        design.tool,
        design.io_type,
        flow.strategy,
        design.clock_period,
        estimate.layers,
        estimate.totals,
        {r: band(design.tool, r, estimate.totals[r]) for r in RESOURCES},
        device.capacity(),
        {r: round(v, 4) for r, v in share.items()},
        verdict,
        estimate.latency,
        estimate.interval,
        [],
        unfused_batchnorms=list(described.unfused_batchnorms),
        repairs=list(described.repairs),
        hls4ml_warnings=list(described.hls4ml_warnings),
        kernel_problems=kernel_problems(design),
        second_opinion=surrogate.opinion(design),
        level=csynth_level(design.tool),
        synthesis=synthesis,
    )
    plan = dataclasses.replace(plan, disputed=surrogate.disagreements(plan.totals, plan.second_opinion))
    if verdict == FITS and not plan.kernel_problems:
        return plan
    plan = dataclasses.replace(plan, parts_that_fit=parts_better_than(design, verdict))
    tries = alternatives(plan, design)
    return dataclasses.replace(
        plan,
        alternatives=[t for t in tries if not (t.searched_reuse and t.reuse is None)],  # writable as flows
        reuse_that_fits=tries[0].reuse if verdict == NO_FIT else None,  # this io_type, ReuseFactors that fit
        ways_out=ways_out(plan, tries),
    )


def parts_better_than(design: Design, verdict: Verdict) -> list[str]:
    """The other parts on which the design as is fits (or, when it does not fit here, is at least tight)."""
    wanted = {FITS} if verdict == TIGHT else {FITS, TIGHT}
    return [
        d.name
        for d in sorted(DEVICES.values(), key=lambda d: (d.dsp, d.lut))
        if d.name != design.device.name and judged(estimate_design(_on(design, d)).totals, d, design.tool)[1] in wanted
    ]


def _on(design: Design, device: Device) -> Design:
    return Design(design.layers, design.io_type, device, device.name, design.tool, design.clock_period)


@dataclass(frozen=True, kw_only=True)
class Variant(DesignCost):
    """A what-if: the same model with another io_type, precision width or ReuseFactors, and its cost."""

    label: str
    bits: int | None = None  # every operand this wide (ap_fixed<bits, 3>), or the flow's types
    reuse: dict[str, int] | None = None
    searched_reuse: bool = False  # True when ReuseFactors were searched for (and `reuse` is None if none fit)


def variant(
    design: Design, label: str, bits: int | None = None, fit_reuse: bool = False, accept_tight: bool = True
) -> Variant:
    reuse = smallest_reuse_that_fits(design, bits, accept_tight) if fit_reuse else None
    estimate: DesignEstimate = estimate_design(design, reuse, bits)
    share, verdict = judged(estimate.totals, design.device, design.tool)  # shares at the synthesis level
    return Variant(
        label=label,
        verdict=verdict,
        totals=estimate.totals,
        utilisation=share,
        latency_cycles=estimate.latency,
        io_type=design.io_type,
        bits=bits,
        reuse=reuse,
        searched_reuse=fit_reuse,
        interval_cycles=estimate.interval,
    )


def _describe_variant(v: Variant, clock_period: float) -> str:
    if v.searched_reuse and v.reuse is None:
        return f"{v.label.replace(' that fit', '')}: no ReuseFactor makes it fit."
    worst = max(v.utilisation, key=v.utilisation.get)
    text = (
        f"{v.label}: {v.verdict} (most used {worst} {v.utilisation[worst]:.0%}; latency about "
        f"{v.latency_cycles:,} cycles, {human_time(v.latency_cycles * clock_period * 1e-9)}, a new input every "
        f"{v.interval_cycles:,} cycles)"
    )
    if v.reuse:
        text += "; ReuseFactor per layer " + ", ".join(f"{name} {rf}" for name, rf in v.reuse.items())
    return text


def alternatives(plan: Plan, design: Design) -> list[Variant]:
    """What-ifs, each re-planned: ReuseFactors that fit, io_stream for conv nets, 8-bit precision."""
    conv_net = plan.io_type == "io_parallel" and any(layer.cls.startswith("Conv") for layer in plan.layers)
    # a design already within the estimator's error is only helped by ReuseFactors that make it fit
    tries = [
        variant(design, f"ReuseFactors that fit ({plan.io_type})", fit_reuse=True, accept_tight=plan.verdict == NO_FIT)
    ]
    stream = with_io(design, "io_stream")
    if conv_net:
        tries.append(variant(stream, "io_stream, same ReuseFactors"))
        tries.append(variant(stream, "io_stream + ReuseFactors that fit", fit_reuse=True))
    tries.append(variant(design, f"ap_fixed<8,3> everywhere ({plan.io_type})", bits=8))
    if plan.io_type == "io_parallel":
        tries.append(variant(stream, "io_stream + ap_fixed<8,3> + ReuseFactors that fit", bits=8, fit_reuse=True))
    return tries


def ways_out(plan: Plan, tries: list[Variant]) -> list[str]:
    period = plan.clock_period
    writable = [t for t in tries if not (t.searched_reuse and t.reuse is None)]
    ways = [_describe_variant(attempt, period) for attempt in writable + [t for t in tries if t not in writable]]
    if plan.parts_that_fit:
        parts = ", ".join(plan.parts_that_fit[:4])
        room = " with room" if plan.verdict == TIGHT else ""
        ways.append(f"Parts that hold this design as is{room}: {parts} (smallest first).")
    else:
        ways.append("No part in the database holds this design as it is.")
    return ways
