"""The precision search: the fewest fractional bits that keep the agreement target, judged by C simulation.

1. One width for every layer: the widest start that keeps the target, then bisection down to the narrowest common
   number of fractional bits (a handful of probes).
2. Then layer by layer, the most expensive first (weights before results; cost = the multiplies their widths
   drive): bisection of that layer's fractional bits below the common width, all others held, until the probe
   budget is spent.
   A layer's narrowing is kept only if the output error (mean |Keras - HLS|) stays within ERROR_GROWTH times the
   common width's: counting flipped top-1 decisions alone lets every layer go to its edge, and layers at their
   edges together pass the calibration inputs only just (and fail inputs it has not seen).
Every probe is reported with its verdict (accepted, or rejected and why); only accepted ones become the best design.
Each accepted step passed the C simulation with every other layer at its current width, so the design kept is
always one that passed. Agreement is treated as monotone in the widths (more bits never hurt), which is what
bisection needs; the chosen design is checked again on held-out inputs at the end.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass, field

from hlsbox.steps import frontends
from hlsbox.steps.fit.knobs import Knob
from hlsbox.steps.fit.probes import Fractions, Probe, Prober
from hlsbox.steps.protocol import StepInputError

STARTS = (12, 16, 22)  # common fractional bits tried first, widening until one keeps the target
PER_LAYER_RANGE = 7  # how far below the common width a layer's bisection looks
ERROR_GROWTH = 1.2  # the per-layer stage may let the mean output error grow this much over the common width's
UNDECIDED = 0.5  # outputs nearly uniform: this share of top-1s wins by less than the HLS outputs' error


class Unreachable(StepInputError):
    """The target cannot be reached (exit 2, with the reason)."""


@dataclass
class SearchResult:
    best: Fractions
    best_probe: Probe
    common: int  # the common fractional bits of stage 1
    probes: list[Probe] = field(default_factory=list)
    verdicts: list[Verdict] = field(default_factory=list)  # one a probe
    stopped_early: bool = False  # the probe budget ran out before every layer was tried


@dataclass(frozen=True)
class Verdict:
    accepted: bool
    why: str  # "accepted", or "rejected: " and the reason with its numbers


def verdict_of(probe: Probe, threshold: float, error_budget: float | None) -> Verdict:
    """Whether the search keeps a probe: agreement at or above the threshold on every calibration input, and (in
    the per-layer stage) the mean output error within its budget."""
    if probe.over_error or (probe.passed and error_budget is not None and probe.mean_abs_diff > error_budget):
        early = probe.samples < probe.inputs  # stopped early: its final mean is at least the error so far spread
        error = probe.error_floor if early else probe.mean_abs_diff
        over = error / error_budget - 1 if error_budget else 0.0
        return Verdict(
            False,
            f"rejected: output error over its budget (mean |Keras - HLS| {'≥ ' if early else ''}{error:.4g} > "
            f"{error_budget:.4g}, by {'at least ' if early else ''}{over:.0%})",
        )
    if not probe.passed:
        agree = f"{probe.agreement:.1%} of {probe.samples}"
        return Verdict(False, f"rejected: agreement below target ({agree} < {threshold:.1%})")
    return Verdict(True, f"accepted: {probe.agreement:.1%} of {probe.samples} agree")


def unreachable(prober: Prober, widest: Probe) -> Unreachable:
    """Even the widest types miss the target: the types' fault, unless the reference's own top-1 is decided by
    less than the HLS outputs' error on most inputs (nearly uniform outputs, as of an untrained stand-in model,
    where hls4ml's softmax tables decide the top-1 whatever the layers' types)."""
    reference = frontends.current().reference
    said = (
        f"Even {STARTS[-1]} fractional bits in every layer agree with {reference} on only {widest.agreement:.1%} "
        f"of the calibration inputs (target {prober.target:.1%})."
    )
    share, margin = prober.undecided(widest.mean_abs_diff)
    if share >= UNDECIDED:
        return Unreachable(
            f"{said} On {share:.0%} of them {reference}'s own top output wins by less than the HLS outputs' mean "
            f"error ({widest.mean_abs_diff:.3g}; median margin {margin:.3g}): the model's outputs are nearly "
            "uniform, so the top-1 is decided by rounding (hls4ml's softmax lookup tables, whatever the layers' "
            "types), not by the types fit searches.",
            "Fit a trained model, whose top output stands out (a stand-in or untrained model cannot be judged by "
            "top-1 agreement); `hlsbox csim` on the flow shows the outputs side by side.",
        )
    return Unreachable(
        said,
        "The integer bits come from the calibration inputs' ranges: check that the flow's data are what the "
        "model sees; `hlsbox csim` on the written flow traces where the layers part ways. Or ask for less "
        "(--agreement).",
    )


def uniform(knobs: list[Knob], bits: int) -> Fractions:
    return {k.layer: {v: bits for v in k.variables()} for k in knobs}


def search(
    prober: Prober,
    knobs: list[Knob],
    max_probes: int,
    report: Callable[[str, Probe, Verdict], None],
    keep: Callable[[Probe], None],
) -> SearchResult:
    probes: list[Probe] = []
    verdicts: list[Verdict] = []

    def judge(fractions: Fractions, what: str, error_budget: float | None = None) -> Verdict:
        probe = prober.judge(fractions, error_budget)
        probes.append(probe)
        verdict = verdict_of(probe, prober.threshold, error_budget)
        verdicts.append(verdict)
        report(what, probe, verdict)
        if verdict.accepted:
            keep(probe)
        return verdict

    passing, common = None, None
    for bits in STARTS:
        if judge(uniform(knobs, bits), f"every layer {bits} fractional bits").accepted:
            passing, common = probes[-1], bits
            break
    if passing is None:
        raise unreachable(prober, probes[-1])
    low = -1
    while common - low > 1:
        middle = (common + low) // 2
        if judge(uniform(knobs, middle), f"every layer {middle} fractional bits").accepted:
            passing, common = probes[-1], middle
        else:
            low = middle
    best, best_probe = uniform(knobs, common), passing
    error_budget = ERROR_GROWTH * passing.mean_abs_diff
    order = sorted(((k, v) for k in knobs for v in k.variables()), key=lambda kv: (-kv[0].cost, kv[1] != "weight"))
    for knob, variable in order:
        if prober.count >= max_probes:
            return SearchResult(best, best_probe, common, probes, verdicts, stopped_early=True)
        high, low = best[knob.layer][variable], max(-1, best[knob.layer][variable] - PER_LAYER_RANGE)
        while high - low > 1 and prober.count < max_probes:
            middle = (high + low) // 2
            trial = copy.deepcopy(best)
            trial[knob.layer][variable] = middle
            if judge(trial, f"{knob.layer} {variable} {middle} fractional bits", error_budget).accepted:
                best, best_probe, high = trial, probes[-1], middle
            else:
                low = middle
    return SearchResult(best, best_probe, common, probes, verdicts)
