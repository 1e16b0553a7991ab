"""How the chosen precision is built: io_type, strategy and per-layer ReuseFactors, from the plan's estimator.

For each io_type allowed (io_parallel first; io_stream with fifo_depth = "auto") and each strategy, the design is
described as hls4ml converts it, then ReuseFactors grow greedily: while a resource is over the budget, the layer
(weighted, or a scale layer: BatchNormalization, ApplyAlpha) that uses most of it moves to its next usable
ReuseFactor (hls4ml's valid values that its kernel also runs correctly with, so the plan's kernel checks pass), as
long as that saves some of it. Of the combinations that
fit, the one with the shortest interval (then latency) wins; when none fits, the closest says what stops it.

The budget is tested at the high end of the estimator's out-of-sample error band (plan.band: the estimate divided
by the 10th percentile of estimated / reported over recorded designs, each estimated by a calibration fitted
without any design of its repository), not on the point estimate: "fits within 80%" then means that about 9 in 10
such designs would, by their real reports, use at most 80% of every resource (the point estimate alone let 7 of 27
recorded Vivado HLS designs exceed estimate / 0.8).

Before any C simulation, lower_bound() bounds what the search can reach at all: at the narrowest types it allows
(every knob at 0 fractional bits), for each io_type and strategy fit may choose, every row at its cheapest over the
usable ReuseFactors (estimator.lower_bound_rows: below the estimate at any of them; the largest users a refusal
names are these rows, of the resource it names). If even that needs more than
the budget at the low end of the estimator's error band, no search can succeed: fit says so in seconds instead of
after its C simulations, unless the second opinion disputes the estimate (more than 3x apart) on every resource
over the budget.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path

from hlsbox.core import surrogate
from hlsbox.core.contract import FitDesign, ImageFlow, LayerRow, LayerTable
from hlsbox.core.estimator import (
    RESOURCES,
    Design,
    estimate_design,
    is_scale,
    lower_bound_rows,
    scale_reuse_factors,
    usable_reuse_factors,
)
from hlsbox.core.parts import DEVICES, Device
from hlsbox.core.planner import judged, judged_band, placed, tool_of
from hlsbox.steps import hls
from hlsbox.steps.describe import describe_layer
from hlsbox.steps.protocol import muted_phases, phase

STRATEGIES = ("Latency", "Resource")
GROWTH = 1.5  # each step moves a layer to a ReuseFactor at least this much larger
MIN_SAVING = 0.001  # ... and is taken only when it saves at least this share of the part


@dataclass(frozen=True)
class Architecture:
    """One design fit can build: its cost (as fit.json says it), its layers as hls4ml describes them, and the
    estimator's rows at its ReuseFactors."""

    cost: FitDesign
    rows: list[LayerRow]
    layers: list  # the estimator's LayerEstimates


def architecture_flow(flow: ImageFlow, layer_tables: dict[str, LayerTable], io_type: str, strategy: str) -> ImageFlow:
    return flow.replace(
        io_type=io_type,
        strategy=strategy,
        reuse_factor=1,
        granularity="name",
        precision={},
        fuse_batchnorm=True,
        fifo_depth="auto" if io_type == "io_stream" else "default",
        layer_types={},
        layers=layer_tables,
    )


def describe(model, flow: ImageFlow, run_dir: Path) -> list[LayerRow]:
    with muted_phases():
        hls_model, _ = hls.convert(model, flow, run_dir / "describe_prj")
    return [describe_layer(layer, 1) for layer in hls_model.get_layers()]


def growable_reuse_factors(design: Design) -> dict[str, list[int]]:
    """The ReuseFactors each layer may take, smallest first: a weighted layer's usable ones, and a scale layer's
    (BatchNormalization, a QONNX graph's ApplyAlpha: hls4ml's normalize shares its multiplies over its ReuseFactor
    too, and at ReuseFactor 1 an io_parallel one has a multiplier per element)."""
    usable = {row.name: usable_reuse_factors(row, design.io_type) for row in design.layers if row.weighted}
    scales = {row.name: scale_reuse_factors(row, design.io_type) for row in design.layers if is_scale(row)}
    return {**usable, **scales}


def grow_reuse(design: Design, budget: float, strategy: str) -> Architecture:
    usable = growable_reuse_factors(design)
    reuse = {name: rfs[0] for name, rfs in usable.items()}
    capacity = design.device.capacity()
    stuck: set[str] = set()  # layers whose larger ReuseFactor no longer saves what is over the budget
    estimate = estimate_design(design, reuse)
    while True:
        high = high_share(design, estimate.totals)
        over = [r for r in RESOURCES if high[r] > budget]
        binding = max(over, key=high.get) if over else None
        layer = _heaviest_growable(estimate, binding, reuse, usable, stuck) if binding else None
        if layer is None:
            return _architecture(design, strategy, reuse, estimate, binding, binding is None)
        current = reuse[layer]
        trial = {**reuse, layer: next((rf for rf in usable[layer] if rf >= current * GROWTH), usable[layer][-1])}
        trial_estimate = estimate_design(design, trial)
        if estimate.totals[binding] - trial_estimate.totals[binding] > MIN_SAVING * capacity[binding]:
            reuse, estimate = trial, trial_estimate
        else:
            stuck.add(layer)


def share_of(design: Design, totals: dict[str, int]) -> dict[str, float]:
    """The point estimate's share of the part at the synthesis level (what the part must hold), per resource."""
    capacity, held = design.device.capacity(), placed(totals)
    return {r: held[r] / capacity[r] if capacity[r] else 0.0 for r in RESOURCES}


def high_share(design: Design, totals: dict[str, int]) -> dict[str, float]:
    """The share of the part at the high end of the synthesis level's out-of-sample error band: what the budget
    tests."""
    capacity = design.device.capacity()
    return {r: judged_band(design.tool, r, totals[r])[1] / capacity[r] if capacity[r] else 0.0 for r in RESOURCES}


def _architecture(
    design: Design,
    strategy: str,
    reuse: dict[str, int],
    estimate,
    binding: str | None,
    fits_budget: bool,
    users: list[tuple[str, int]] | None = None,
) -> Architecture:
    """The design at these ReuseFactors as fit reports it; `users` of the binding resource, most first (default:
    the estimate's layers and buffers)."""
    share, high = share_of(design, estimate.totals), high_share(design, estimate.totals)
    _, verdict = judged(estimate.totals, design.device, design.tool)
    users = users if users is not None else _users(estimate, binding) if binding else []
    cost = FitDesign(
        io_type=design.io_type,
        strategy=strategy,
        reuse=dict(reuse),
        totals=estimate.totals,
        utilisation={r: round(v, 4) for r, v in share.items()},
        verdict=verdict,
        latency_cycles=estimate.latency,
        interval_cycles=estimate.interval,
        fits_budget=fits_budget,
        high_band={r: round(v, 4) for r, v in high.items()},
        binding=binding,
        heaviest=tuple(u for u in users if u[1] > 0)[:3],
    )
    return Architecture(cost, design.layers, estimate.layers)


def _users(estimate, resource: str) -> list[tuple[str, int]]:
    """Who uses a resource, most first: the layers, and the FIFOs and buffers between them (rows of their own)."""
    return sorted(((e.name, e.resources()[resource]) for e in estimate.layers), key=lambda u: -u[1])


def _heaviest_growable(estimate, resource: str, reuse: dict, usable: dict, stuck: set[str]) -> str | None:
    growable = [
        (layer.resources()[resource], layer.name)
        for layer in estimate.layers
        if layer.name in reuse
        and layer.name not in stuck
        and reuse[layer.name] < usable[layer.name][-1]
        and layer.resources()[resource] > 0
    ]
    return max(growable)[1] if growable else None


def designs(
    model, flow: ImageFlow, layer_tables: dict[str, LayerTable], device: Device, io_type: str, run_dir: Path
) -> Iterator[tuple[str, Design]]:
    """The flow with these per-layer tables as hls4ml describes it, for each strategy fit may choose."""
    for strategy in STRATEGIES:
        rows = describe(model, architecture_flow(flow, layer_tables, io_type, strategy), run_dir)
        yield strategy, Design(rows, io_type, device, flow.part, tool_of(flow.backend), flow.clock_period)


def choose(
    model,
    flow: ImageFlow,
    layer_tables: dict[str, LayerTable],
    device: Device,
    budget: float,
    io_types: list[str],
    run_dir: Path,
) -> tuple[Architecture | None, list[Architecture]]:
    tried = []
    for io_type in io_types:
        for strategy, design in designs(model, flow, layer_tables, device, io_type, run_dir):
            tried.append(grow_reuse(design, budget, strategy))
        if any(a.cost.fits_budget for a in tried):
            break  # io_stream only where io_parallel cannot fit
    fitting = [a for a in tried if a.cost.fits_budget]
    best = min(
        fitting,
        key=lambda a: (a.cost.interval_cycles, a.cost.latency_cycles, max(a.cost.utilisation.values())),
        default=None,
    )
    if best is not None:
        cost = best.cost
        worst = max(cost.high_band, key=cost.high_band.get)
        phase(
            f"{cost.io_type}, {cost.strategy}: {worst} at {cost.utilisation[worst]:.0%} of the part estimated at the "
            f"synthesis level (what the part must hold), {cost.high_band[worst]:.0%} at the high end of its "
            f"out-of-sample error band, within the {budget:.0%} budget (tested there: about 9 in 10 designs so "
            "estimated use at most that after synthesis)"
        )
    return best, tried


def closest(tried: list[Architecture]) -> Architecture:
    return min(tried, key=lambda a: max(a.cost.high_band.values()))


def parts_that_fit(arch: Architecture, flow: ImageFlow, budget: float) -> list[str]:
    """The parts, smallest first, on which the closest design fits the budget."""
    found = []
    for device in sorted(DEVICES.values(), key=lambda d: (d.dsp, d.lut)):
        design = Design(arch.rows, arch.cost.io_type, device, device.name, tool_of(flow.backend), flow.clock_period)
        if grow_reuse(design, budget, arch.cost.strategy).cost.fits_budget:
            found.append(device.name)
    return found


@dataclass(frozen=True)
class Bound:
    """A bound below every design the search can reach, estimated; `low` its share of the part at the band's low
    end. `disputed`: the resources on which the second opinion (the recorded designs most like it) differs from
    the estimate by more than 3x, where the bound alone is no reason to refuse."""

    arch: Architecture
    low: dict[str, float]
    disputed: tuple[str, ...] = ()

    @property
    def worst(self) -> str:
        return max(self.low, key=self.low.get)

    def reachable(self, budget: float) -> bool:
        return self.low[self.worst] <= budget

    def refutable(self, budget: float) -> bool:
        """Every resource the bound puts over the budget is one the second opinion disputes."""
        over = [r for r, share in self.low.items() if share > budget]
        return bool(over) and all(r in self.disputed for r in over)


def cheapest(design: Design, budget: float, strategy: str) -> Bound:
    """Below every estimate of this design, whatever its ReuseFactors (estimator.lower_bound_rows, each row at its
    cheapest); reported as the design with every weighted layer at its largest usable ReuseFactor, its totals and
    largest users the bound's own (the rows at their cheapest, of the resource furthest over)."""
    reuse = {row.name: usable_reuse_factors(row, design.io_type)[-1] for row in design.layers if row.weighted}
    estimate = estimate_design(design, reuse)
    bound_rows = lower_bound_rows(design)
    estimate.totals = {r: sum(amounts[r] for _, amounts in bound_rows) for r in RESOURCES}
    capacity = design.device.capacity()
    high = high_share(design, estimate.totals)
    low = {
        r: judged_band(design.tool, r, estimate.totals[r])[0] / capacity[r] if capacity[r] else 0.0 for r in RESOURCES
    }
    low = {r: round(v, 4) for r, v in low.items()}
    worst = max(low, key=low.get)  # Bound.worst
    users = sorted(((name, amounts[worst]) for name, amounts in bound_rows), key=lambda u: -u[1])
    arch = _architecture(design, strategy, reuse, estimate, worst, max(high.values()) <= budget, users)
    rows = [replace(row, reuse_used=reuse.get(row.name, row.reuse_used)) for row in design.layers]
    opinion = surrogate.opinion(replace(design, layers=rows))
    return Bound(arch, low, surrogate.disagreements(estimate.totals, opinion))


def lower_bound(
    model,
    flow: ImageFlow,
    narrowest: dict[str, LayerTable],
    device: Device,
    budget: float,
    io_types: list[str],
    run_dir: Path,
) -> Bound:
    """The cheapest of the designs the search can reach, over the io_types and strategies fit may choose."""
    bounds = []
    for io_type in io_types:
        for strategy, design in designs(model, flow, narrowest, device, io_type, run_dir):
            bounds.append(cheapest(design, budget, strategy))
    return min(bounds, key=lambda b: b.low[b.worst])
