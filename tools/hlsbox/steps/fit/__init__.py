"""Step `fit`: from a flow that does not fit or does not agree with Keras to one that does.

1. Profile: Keras on the calibration inputs (the hardest of the flow's calibration split) gives every layer's
   output range, hls4ml's conversion the weights it will use: integer bits (knobs.py). With them, the lower bound
   (hardware.py): when even the narrowest types at the largest ReuseFactors cannot fit, fit ends here, in seconds.
2. Precision: the fewest fractional bits that keep the agreement target, judged by C simulation (search.py,
   probes.py); resources never need a build.
3. Architecture: io_type, strategy and ReuseFactors from the plan's estimator within the budget (hardware.py).
4. Check: the chosen design, built as it is, on held-out inputs never used above; every layer traced.
On the qonnx toolchain the Quant nodes fix the types of the model (weights, quantised activations): fit keeps them,
judges the graph's own types in one calibration probe, then narrows the types hls4ml infers where no Quant node
fixes them (quantised.py: rescales, accumulators and results, pooling, BatchNormalization, Add) with the search of
step 2; steps 3 and 4 are as above, the reference outputs qonnx's own execution. Its profile is a C simulation, so
a lower bound at the floor of those types (quantised.floor: from the conversion alone) comes first. A plain ONNX
graph (no Quant nodes) keeps the flow's types.
Everything the search learns is cached in the flow's fit-cache directory; the best design so far is in the run dir
(best.json) from the first passing probe on.
"""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path

import numpy as np

from hlsbox.core.contract import (
    Agreement,
    BestDesign,
    FitLayer,
    FitResult,
    FitTarget,
    ImageFlow,
    LayerRow,
    StepSpec,
    TraceRow,
)
from hlsbox.core.parts import resolve_device
from hlsbox.steps import csim, describe, frontends, hls, trace
from hlsbox.steps.fit import hardware, knobs, outputs, quantised, search
from hlsbox.steps.fit.probes import Probe, Prober, probe_flow, tables
from hlsbox.steps.protocol import StepInputError, muted_phases, phase, write_json

TRACE_SAMPLES = 20
POOL = 5  # calibration inputs are the hardest of this many times as many


def run(spec: StepSpec) -> FitResult:
    flow, params, run_dir = spec.flow, spec.fit.params, spec.run_path
    start = time.monotonic()
    model = hls.load_spec_model(spec)
    frontend = frontends.current()
    shape = frontend.input_shape(model)
    device = resolve_device(flow.part)
    io_types = ["io_parallel", "io_stream"] if params.io_type == "auto" else [params.io_type]
    quant = frontend.has_quant_nodes(model)
    if quant:  # its integer bits need a C simulation: first the bound at the narrowest any can give
        phase("lower bound before any C simulation: every type hls4ml infers at its floor (the plan's estimator)")
        floor = quantised.floor(model, flow, run_dir)
        floor_bound = refuse_unreachable(
            model, flow, tables(floor, search.uniform(floor, 0)), device, io_types, spec, False
        )
        phase(outputs.room(floor_bound, params.budget, "lower bound at the floor"))
    workspace = Path(spec.workspace)
    pool, x_held, labels = csim.split_inputs(flow.csim, shape, workspace, POOL * params.calibration_samples)
    x_calibration = hardest(model, pool, params.calibration_samples)
    found, quantised_graph = knobs_of(model, spec, x_calibration)
    phase("lower bound: the cheapest design the search can reach (the plan's estimator)")
    narrowest = tables(found, search.uniform(found, 0))
    bound = refuse_unreachable(model, flow, narrowest, device, io_types, spec, quant)
    phase(outputs.room(bound, params.budget))
    prober = Prober(model, flow, spec, found, x_calibration, params.agreement)
    own = judge_kept(prober, keep(found, run_dir)) if frontend.own_types else None
    if found:
        result = search.search(prober, found, params.max_probes, report(prober), keep(found, run_dir))
        if own is not None:  # the graph's own types were the first probe
            result.probes.insert(0, own.best_probe)
            result.verdicts.insert(0, own.verdicts[0])
    else:
        result = own
    if quantised_graph is not None:
        phase(quantised.narrowed(quantised_graph, result.best))
    layer_tables = tables(found, result.best)
    phase("choosing io_type, strategy and ReuseFactors (the plan's estimator)")
    chosen, tried = hardware.choose(model, flow, layer_tables, device, params.budget, io_types, run_dir)
    if chosen is None:
        raise outputs.no_fit(tried, flow, params, result)
    final_flow = outputs.fitted_flow(flow, found, result.best, config_names(model, chosen), spec.flow_file)
    phase(f"checking the design on {len(x_held)} held-out inputs")
    held_out, traced, built = check(model, final_flow, spec, x_held, labels, run_dir)
    if frontend.own_types:
        layers = kept_rows(built, chosen, traced)
    else:
        layers = outputs.layer_rows(found, result.best, chosen, traced)
    fitted = FitResult(
        step="fit",
        target=FitTarget(params.agreement, params.budget, flow.part),
        flow=final_flow,
        reference=frontend.reference,
        calibration=outputs.calibration(result),
        held_out=held_out,
        design=chosen.cost,
        tried=tuple(arch.cost for arch in tried),
        lower_bound=outputs.bound_design(bound),
        layers=layers,
        probes=outputs.probe_records(result),
        stopped_early=result.stopped_early,
        meets_target=held_out.top1_agreement >= params.agreement,
        seconds=round(time.monotonic() - start, 1),
        probes_run=prober.run,
        probes_cached=prober.count - prober.run,
        versions=hls.versions(),
    )
    phase("drawing the search")
    outputs.draw(run_dir / "fit.png", result, chosen, device, flow, params)
    write_json(run_dir / "fit.json", fitted.to_dict())
    return fitted


def refuse_unreachable(
    model, flow: ImageFlow, narrowest: dict, device, io_types: list[str], spec: StepSpec, simulated: bool
) -> hardware.Bound:
    """The lower bound at these types; when even it cannot fit (and the second opinion does not dispute it), the
    refusal (exit 2) naming it."""
    params = spec.fit.params
    bound = hardware.lower_bound(model, flow, narrowest, device, params.budget, io_types, spec.run_path)
    if not bound.reachable(params.budget) and not bound.refutable(params.budget):
        raise outputs.unreachable_at_best(bound, flow, params, simulated)
    return bound


def knobs_of(model, spec: StepSpec, x: np.ndarray) -> tuple[list[knobs.Knob], quantised.Profile | None]:
    """What the search may change: every layer's types (Keras), the types no Quant node fixes (QONNX), or nothing
    (a plain ONNX graph); a QONNX graph's profile too."""
    flow, run_dir = spec.flow, spec.run_path
    frontend = frontends.current()
    if frontend.has_quant_nodes(model):
        phase(f"profiling the QONNX graph on {len(x)} calibration inputs (its own types, qonnx's execution)")
        found = quantised.profile(model, flow, spec, x, run_dir)
        phase(quantised.kept_and_narrowed(found))
        return found.knobs, found
    if frontend.own_types:
        phase(f"keeping the types of the ONNX graph: {kept_types()}")
        return [], None
    phase(f"profiling every layer on {len(x)} calibration inputs")
    return profile(model, flow, x, run_dir), None


def hardest(model, pool: np.ndarray, samples: int) -> np.ndarray:
    """The inputs Keras is least sure about (smallest gap between its top two outputs), least sure first: the ones
    fewer bits flip first, so agreement on them is a cautious stand-in for inputs the search never sees, and a probe
    that fails meets its disagreements in its first chunks and stops there."""
    out = frontends.current().predict(model, pool).reshape(len(pool), -1)
    ranked = np.sort(out, axis=1)
    gap = ranked[:, -1] - ranked[:, -2] if out.shape[1] > 1 else np.abs(out[:, 0])
    return pool[np.argsort(gap, kind="stable")[:samples]]


def profile(model, flow: ImageFlow, x: np.ndarray, run_dir: Path) -> list[knobs.Knob]:
    """The knobs of this model with their integer bits: Keras ranges and the weights hls4ml will use."""
    from hls4ml.model.profiling import get_ymodel_keras

    with muted_phases():
        hls_model, config = hls.convert(model, probe_flow(flow, {}), run_dir / "profile_prj")
    outputs_by_layer = get_ymodel_keras(model, x)
    outputs_by_layer[hls_model.get_input_variables()[0].name] = x
    parsed = hls.parsed_layers(model)
    fused = hls.fused_into(parsed)
    present = {layer.name for layer in hls_model.get_layers()}
    folded = {parent: bn for parent, bn in fused.items() if bn not in present}
    found = knobs.find_knobs(hls_model, outputs_by_layer, config, folded)
    if not found:
        raise StepInputError("The model has no layer whose types hls4ml lets a config set.", "Nothing to fit.")
    knobs.attach_linear_followers(found, parsed)
    knobs.consumers_cost(found, hls_model)
    return found


def kept_types() -> str:
    """What fit keeps of an ONNX graph without Quant nodes, in words."""
    return (
        "a plain ONNX graph, no Quant nodes: fit keeps the flow's types (its [precision] and [layers.X], hls4ml's "
        "default elsewhere) and chooses io_type, strategy and ReuseFactors"
    )


def judge_kept(prober: Prober, save) -> search.SearchResult:
    """The probe of an ONNX graph's own types (no knob set): they must reach the target on the calibration inputs,
    since fit never changes what its Quant nodes fix."""
    probe = prober.judge({})
    verdict = search.verdict_of(probe, prober.threshold, None)
    report(prober)("the QONNX graph's own types", probe, verdict)
    if not verdict.accepted:
        raise search.Unreachable(
            f"The QONNX graph's own types (its Quant nodes, hls4ml's exact types elsewhere) agree with qonnx's "
            f"execution on only {probe.agreement:.1%} of {probe.samples} calibration inputs (target "
            f"{prober.target:.1%}); fit keeps the types its Quant nodes fix, so no search can raise it.",
            "`hlsbox csim` on the flow traces where the layers part ways; or ask for less (--agreement).",
        )
    save(probe)
    return search.SearchResult({}, probe, None, [probe], [verdict])  # no common width: none searched


def config_names(model, chosen: hardware.Architecture) -> hardware.Architecture:
    """The chosen design with its ReuseFactors under the names an hls4ml config takes (the frontend's)."""
    frontend = frontends.current()
    names = [layer["name"] for layer in hls.parsed_layers(model)]
    reuse = {frontend.config_name(layer, names): rf for layer, rf in chosen.cost.reuse.items()}
    return dataclasses.replace(chosen, cost=dataclasses.replace(chosen.cost, reuse=reuse))


def kept_rows(layers: list[LayerRow], chosen, traced: list[TraceRow]) -> tuple[FitLayer, ...]:
    """The per-layer rows of an ONNX graph: each layer's types as hls4ml built them in the chosen design (the
    Quant nodes' kept, the inferred ones as narrowed), its ReuseFactor, estimated cost and error against the
    frontend."""
    return tuple(
        outputs.fit_layer(row.name, row.layer_class, row.result_precision, row.precisions.get("weight"), chosen, traced)
        for row in layers
        if row.layer_class != "Input"
    )


def report(prober: Prober):
    def show(what: str, probe: Probe, verdict: search.Verdict) -> None:
        source = "cached" if probe.cached else f"{probe.seconds:.1f} s"
        phase(f"probe {prober.count}: {what}: {verdict.why} ({source})")

    return show


def keep(found: list[knobs.Knob], run_dir: Path):
    """The best design so far, on disk at once: an interrupted fit keeps it."""

    def save(probe: Probe) -> None:
        write_json(run_dir / "best.json", BestDesign(tables(found, probe.fractions), probe.agreement).to_dict())

    return save


def check(
    model, flow: ImageFlow, spec: StepSpec, x: np.ndarray, labels, run_dir: Path
) -> tuple[Agreement, list[TraceRow], list[LayerRow]]:
    """The chosen design built as it is (its io_type, strategy, ReuseFactors, FIFO depths) on held-out inputs."""
    flow = flow.replace(csim=dataclasses.replace(flow.csim, exact_build=False))
    with muted_phases():
        hls_model, _ = hls.convert(model, flow, run_dir / "hls4ml_prj", trace=True)
        layers = describe.layer_rows(hls_model)
        csim.build_library(hls_model, flow, spec.csim_cache, repeated=True)  # the probes' layers are cached
        csim.check_first_input(hls_model, x, flow, layers)
    keras_out = frontends.current().predict(model, x).reshape(len(x), -1)
    hls_out = np.asarray(hls_model.predict(np.ascontiguousarray(x))).reshape(len(x), -1)
    phase(f"tracing every layer on {min(len(x), TRACE_SAMPLES)} held-out inputs")
    traced = trace.trace_layers(model, hls_model, x[:TRACE_SAMPLES])
    return csim.compare(keras_out, hls_out, labels), traced, layers
