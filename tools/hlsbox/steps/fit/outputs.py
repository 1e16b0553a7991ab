"""What `fit` hands back: the new flow, the parts of its result (core.contract.FitResult), the PNG of the search,
and the reason when no design can reach the target on the part."""

from __future__ import annotations

from dataclasses import fields, replace
from pathlib import Path

from hlsbox.core.contract import (
    FitBound,
    FitCalibration,
    FitDesign,
    FitLayer,
    FitParams,
    FitProbe,
    ImageFlow,
    LayerTable,
    TraceRow,
)
from hlsbox.core.estimator import Design, estimate_design
from hlsbox.core.parts import Device
from hlsbox.core.planner import tool_of
from hlsbox.steps.fit import hardware
from hlsbox.steps.fit.knobs import Knob
from hlsbox.steps.fit.probes import Fractions, tables
from hlsbox.steps.fit.search import SearchResult, Unreachable


def fitted_flow(
    flow: ImageFlow, found: list[Knob], best: Fractions, chosen: hardware.Architecture, flow_file: str
) -> ImageFlow:
    """A normal flow: the knobs' types and each weighted layer's ReuseFactor in [layers], the chosen io_type and
    strategy; its [csim] as the input flow's."""
    layer_tables = tables(found, best)
    for layer, rf in chosen.cost.reuse.items():
        layer_tables[layer] = replace(layer_tables.get(layer, LayerTable()), reuse_factor=rf)
    written = hardware.architecture_flow(flow, layer_tables, chosen.cost.io_type, chosen.cost.strategy)
    return written.replace(
        name=f"{flow.name}_fit",
        description=f"{flow.name} fitted to {flow.part} by hlsbox fit (from {Path(flow_file).name})",
        csim=replace(flow.csim, exact_build=False),
        sweep={},
    )


def layer_rows(
    found: list[Knob], best: Fractions, chosen: hardware.Architecture, traced: list[TraceRow]
) -> tuple[FitLayer, ...]:
    """Per layer of the chosen design: its types, ReuseFactor, DSP and BRAM (estimated), its error vs Keras."""
    rows = []
    for knob in found:
        types = knob.types(best[knob.layer])
        weight = types.get(knob.weight_names[0]) if knob.weight_integer is not None else None
        rows.append(fit_layer(knob.layer, knob.cls, types.get("result", "auto (exact)"), weight, chosen, traced))
    return tuple(rows)


def fit_layer(
    name: str, cls: str, result: str, weight: str | None, chosen: hardware.Architecture, traced: list[TraceRow]
) -> FitLayer:
    """One layer's row: the types given, its ReuseFactor and estimated cost in the chosen design, its trace."""
    estimate = next((e for e in chosen.layers if e.name == name), None)
    error = next((row for row in traced if row.layer == name), None)
    return FitLayer(
        layer=name,
        layer_class=cls,
        result=result,
        weight=weight,
        reuse_factor=chosen.cost.reuse.get(name),
        dsp=estimate.dsp if estimate else 0,
        bram18=estimate.bram18 if estimate else 0,
        lut=estimate.lut if estimate else 0,
        max_abs_diff=error.max_abs_diff if error else None,
        relative_diff=error.relative_diff if error else None,
    )


def calibration(result: SearchResult) -> FitCalibration:
    probe = result.best_probe
    return FitCalibration(probe.samples, probe.agreement, result.common)


def probe_records(result: SearchResult) -> tuple[FitProbe, ...]:
    """Every probe of the search with its verdict, in the order run."""
    return tuple(
        FitProbe(
            agreement=p.agreement,
            samples=p.samples,
            passed=p.passed,
            accepted=v.accepted,
            verdict=v.why,
            mean_abs_diff=p.mean_abs_diff,
            seconds=p.seconds,
            phases=p.phases,
            cached=p.cached,
        )
        for p, v in zip(result.probes, result.verdicts, strict=True)
    )


def bound_design(bound: hardware.Bound) -> FitBound:
    cost = bound.arch.cost
    return FitBound(**{f.name: getattr(cost, f.name) for f in fields(FitDesign)}, low_band=bound.low, worst=bound.worst)


def no_fit(tried: list[hardware.Architecture], flow: ImageFlow, params: FitParams, result: SearchResult) -> Unreachable:
    """Why nothing fits: the closest design's resource over the budget, who uses it, and what would fit."""
    nearest = hardware.closest(tried)
    closest = nearest.cost
    used = closest.high_band[closest.binding]
    users = ", ".join(f"{name} {amount:,}" for name, amount in closest.heaviest)
    parts = hardware.parts_that_fit(nearest, flow, params.budget)
    where = f"the smallest part that holds it: {parts[0]}" if parts else "no part in hlsbox's database holds it"
    return Unreachable(
        f"No design reaches {params.agreement:.0%} agreement within {params.budget:.0%} of {flow.part}: the "
        f"narrowest types that keep the target ({result.common} fractional bits, then per layer) still need "
        f"{closest.binding} at {used:.0%} of the part at the largest usable ReuseFactors, at the high end of the "
        f"synthesis level's out-of-sample error band ({closest.utilisation[closest.binding]:.0%} estimated; "
        f"{closest.io_type}, {closest.strategy}; most used by {users}).",
        f"What would: {where} (--part); a larger --budget; or a lower --agreement, which allows narrower types."
        + ("" if "io_stream" in [a.cost.io_type for a in tried] else " Or --io-type io_stream."),
    )


def unreachable_at_best(
    bound: hardware.Bound, flow: ImageFlow, params: FitParams, simulated: bool = False
) -> Unreachable:
    """Why no search can succeed: even the cheapest design it can reach is over the budget at the band's low end.
    `simulated`: the bound's types came from a C simulation (a QONNX graph's profile)."""
    arch, worst = bound.arch.cost, bound.worst
    users = ", ".join(f"{name} {amount:,}" for name, amount in arch.heaviest)
    parts = hardware.parts_that_fit(bound.arch, flow, params.budget)
    where = (
        f"the smallest part on which even this cheapest design fits: {parts[0]} (--part; the types the search keeps "
        "are wider, so it may need a larger one)"
        if parts
        else "no part in hlsbox's database holds even this cheapest design"
    )
    return Unreachable(
        f"No design reaches {params.agreement:.0%} agreement within {params.budget:.0%} of {flow.part}, "
        f"whatever the C simulation finds: the cheapest design the search can reach (the narrowest types it tries, "
        f"the largest usable ReuseFactors, {arch.io_type}, {arch.strategy}) needs {worst} at "
        f"{arch.utilisation[worst]:.0%} of the part at the synthesis level ({bound.low[worst]:.0%} at the low end of "
        f"its error band; most used by {users}). "
        + ("Only the profile's C simulation was run." if simulated else "No C simulation was run."),
        f"What would: {where}; or a larger --budget. A lower --agreement does not help: these are already the "
        "narrowest types fit tries.",
    )


def room(bound: hardware.Bound, budget: float, label: str = "lower bound") -> str:
    """How much the search has to spend, in one line (and why it goes on when the bound alone says no)."""
    worst, cost = bound.worst, bound.arch.cost
    text = (
        f"{label}: the cheapest design the search can reach ({cost.io_type}, {cost.strategy}) needs "
        f"{worst} at {cost.utilisation[worst]:.0%} of the part ({bound.low[worst]:.0%} at the band's low end), "
        f"budget {budget:.0%}, tested at the high end of the synthesis level's out-of-sample error band (what the "
        "part must hold: about 9 in 10 designs so estimated use at most that after synthesis)"
    )
    if bound.refutable(budget):
        text += (
            f"; over the budget, but the second opinion (the recorded designs most like it) differs from the "
            f"estimate by more than 3x on {', '.join(bound.disputed)}: the search goes on rather than refuse on the "
            "estimate alone"
        )
    return text


def draw(
    png: Path, result: SearchResult, chosen: hardware.Architecture, device: Device, flow: ImageFlow, params: FitParams
) -> None:
    """Agreement against the most used resource for every probe, each estimated as the chosen architecture."""
    import matplotlib
    import matplotlib.ticker

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    capacity, cost = device.capacity(), chosen.cost
    points = []
    for probe, verdict in zip(result.probes, result.verdicts, strict=True):
        rows = [row.replace(strategy=cost.strategy.lower()) for row in probe.rows]
        design = Design(rows, cost.io_type, device, flow.part, tool_of(flow.backend), flow.clock_period)
        totals = estimate_design(design, cost.reuse).totals
        share = max(totals[r] / capacity[r] for r in capacity if capacity[r])
        points.append((share, probe.agreement, verdict.accepted))
    chosen_share = max(cost.utilisation.values())
    figure, axes = plt.subplots(figsize=(7, 4.5))
    for accepted, colour, label in ((True, "tab:green", "accepted"), (False, "tab:red", "rejected")):
        mine = [(x, y) for x, y, p in points if p == accepted]
        if mine:
            axes.scatter(*zip(*mine, strict=True), c=colour, label=label, alpha=0.7)
    axes.scatter([chosen_share], [result.best_probe.agreement], marker="*", s=300, c="gold", edgecolors="k")
    axes.set_xscale("log")
    axes.xaxis.set_major_formatter(matplotlib.ticker.PercentFormatter(1.0, decimals=0))
    axes.axhline(params.agreement, ls="--", c="grey", lw=1)
    axes.axvline(params.budget, ls=":", c="grey", lw=1)
    axes.set_xlabel(f"most used resource, share of {device.name} (estimated, {cost.io_type}, {cost.strategy})")
    axes.set_ylabel("top-1 agreement with Keras (calibration)")
    axes.set_title(f"hlsbox fit: {flow.name} on {flow.part} (* chosen)")
    axes.legend(loc="lower right")
    figure.tight_layout()
    figure.savefig(png, dpi=110)
    plt.close(figure)
