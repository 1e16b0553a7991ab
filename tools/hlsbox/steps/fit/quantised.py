"""fit on a QONNX graph: the types its Quant nodes fix are the model and stay; the types hls4ml infers where no
Quant node fixes them are narrowed, by the same search as for Keras (search.py, probes.py).

hls4ml turns a Quant node into an ApplyAlpha `<Quant>_scale` (the scale taken out; the Quant's own type, e.g.
ap_ufixed<4,4,AP_RND_CONV,AP_SAT>, on its result) and an ApplyAlpha `<Quant>_rescale` (the scale put back), and a
Quant on weights into integer weights at the Quant's type with a `<Quant>_rescale` after the layer. Every other type
is hls4ml's: inferred exactly from its inputs ('auto': a rescale's ap_fixed<40,20> before a 4-bit activation,
accumulators and results of Conv / Dense, BatchNormalization, pooling sums, Add) or its default (ap_fixed<16,6> on
a Relu). Those are the knobs here: their result types (and a pooling's sum), never a weight.

A type is the Quant node's when hls4ml built it with a rounding or saturation mode (a Quant node's ROUND, SAT):
hls4ml's inferred and default types truncate and wrap. Integer bits come from the ranges on the calibration inputs:
each layer's output in hls4ml's C simulation of the graph's own types (exact where inferred) and, where the layer
computes a tensor of the ONNX graph, qonnx's execution of it (scaled as hls4ml holds it: frontends/qonnx.py),
whichever is larger, with one bit of headroom.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from hlsbox.core.contract import ImageFlow, StepSpec
from hlsbox.steps import csim, describe, frontends, hls
from hlsbox.steps.fit import knobs
from hlsbox.steps.fit.probes import probe_flow
from hlsbox.steps.protocol import muted_phases

KEPT_MODES = ("RND", "SAT")  # a rounding or saturating type in a graph whose flow sets none: a Quant node's


def is_kept(precision: str | None) -> bool:
    return any(mode in (precision or "") for mode in KEPT_MODES)


@dataclass(frozen=True)
class Profile:
    knobs: list[knobs.Knob]  # the inferred types, to narrow
    kept: dict[str, str]  # layer -> the type a Quant node fixes
    built: dict[str, str]  # layer -> its result type as hls4ml builds the graph's own types


def profile(model, flow: ImageFlow, spec: StepSpec, x: np.ndarray, run_dir: Path) -> Profile:
    """The knobs of a QONNX graph (the result types no Quant node fixes) with their integer bits."""
    probe = probe_flow(flow, {})
    with muted_phases():
        hls_model, _ = hls.convert(model, probe, run_dir / "profile_prj", trace=True)
        csim.build_library(hls_model, probe, spec.csim_cache)
    _, traced = hls_model.trace(np.ascontiguousarray(x))
    ranges = {name: float(np.abs(np.asarray(out)).max(initial=0.0)) for name, out in traced.items()}
    signed = {name: bool(np.min(out) < 0) for name, out in traced.items() if np.size(out)}
    for name, reference, _ in frontends.current().layer_references(model, hls_model, traced, x):
        ranges[name] = max(ranges.get(name, 0.0), float(np.abs(reference).max(initial=0.0)))
        signed[name] = signed.get(name, False) or bool(np.min(reference) < 0)
    inferred, kept, built = split_types(model, hls_model)
    found = [
        knob_of(layer, table, ranges[layer.name], signed.get(layer.name, True), traced)
        for layer, table in inferred
        if layer.name in ranges
    ]
    return Profile(found, kept, built)


def floor(model, flow: ImageFlow, run_dir: Path) -> list[knobs.Knob]:
    """The knobs of a QONNX graph at the narrowest integer bits any profile can give them (an output that never
    leaves 0: one bit of headroom, no sign; a pooling's sum log2 of its window more), known without a C
    simulation: with 0 fractional bits, no type the search can reach is narrower."""
    with muted_phases():
        hls_model, _ = hls.convert(model, probe_flow(flow, {}), run_dir / "floor_prj")
    inferred, _, _ = split_types(model, hls_model)
    return [knob_of(layer, table, 0.0, False, {}) for layer, table in inferred]


def split_types(model, hls_model) -> tuple[list[tuple], dict[str, str], dict[str, str]]:
    """The graph's own types as hls4ml builds them: the layers whose result type it infers (with the [layers.X]
    name that sets it), the types the Quant nodes fix, and every layer's result type."""
    built = {row.name: row.result_precision or "" for row in describe.layer_rows(hls_model)}
    table_of = config_name_of(model)
    inferred, kept = [], {}
    for layer in hls_model.get_layers():
        if layer.name not in built or layer.class_name == "Input" or layer.class_name in knobs.UNTOUCHED:
            continue
        if is_kept(built[layer.name]):
            kept[layer.name] = built[layer.name]
        elif table_of(layer.name):
            inferred.append((layer, table_of(layer.name)))
    return inferred, kept, built


def knob_of(layer, table: str, largest: float, signed: bool, traced: dict) -> knobs.Knob:
    bits = knobs.integer_bits(np.asarray([largest]), signed, knobs.RESULT_HEADROOM)
    cost = float(np.prod(layer.get_output_variable().shape))
    knob = knobs.Knob(layer.name, layer.class_name, bits, signed, cost=cost, table=table)
    if "Pooling" in layer.class_name:
        knob.accum_integer = knobs.pooling_sum_bits(layer, traced.get((layer.inputs or [""])[0]), knob)
    return knob


def config_name_of(model):
    """hls4ml layer -> the [layers.X] name that sets its types: a parsed node's name (hls4ml renames MatMul_0 to
    Dense_MatMul_0 as it converts, but reads the config by the node's name), or a `<Quant>_rescale` it makes."""
    frontend = frontends.current()
    parsed = hls.parsed_layers(model)
    created = frontend.created_layers(parsed)
    names = [layer["name"] for layer in parsed]

    def config_name(layer: str) -> str | None:
        if layer in created:
            return layer
        name = frontend.config_name(layer, names)
        return name if name in names else None

    return config_name


def kept_and_narrowed(found: Profile) -> str:
    """What fit keeps of a QONNX graph and what it may narrow, in words."""
    kept = ", ".join(f"{name} {precision}" for name, precision in found.kept.items()) or "none"
    inferred = ", ".join(f"{k.layer} {found.built[k.layer]}" for k in found.knobs) or "none"
    return (
        f"keeping the {len(found.kept)} types the Quant nodes fix ({kept}) and every weight; narrowing the "
        f"{len(found.knobs)} hls4ml infers ({inferred}), judged by C simulation against qonnx's execution"
    )


def narrowed(found: Profile, best: dict) -> str:
    """What the search made of each inferred type, in words."""
    changes = [f"{k.layer} {found.built[k.layer]} -> {k.types(best[k.layer])['result']}" for k in found.knobs]
    return "narrowed: " + ("; ".join(changes) or "nothing")
