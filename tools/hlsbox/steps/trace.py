"""Where C simulation and the frontend part ways: every layer's output compared (hls4ml's trace).

The frontend's per-layer outputs: Keras' (tf.keras on keras2, Keras 3 on keras3), by the layer names hls4ml gives
them; on qonnx, every tensor of qonnx's execution of the cleaned channels-last graph, by the ONNX tensor each
hls4ml layer computes (hls4ml keeps the ONNX names). hls4ml carries a QONNX quantiser's scale in ApplyAlpha layers
(`<Quant>_scale`, `<Quant>_rescale`): between the two a tensor holds the integer codes, the frontend's tensor times a
constant. That constant (the median ratio over the traced inputs) is the row's `scale`; the difference is measured
after it, so a rounding or a saturation shows, a scale does not. The model's output is compared as it is (scale 1).
"""

from __future__ import annotations

import numpy as np

from hlsbox.core.contract import TraceRow
from hlsbox.steps import frontends

# A layer "diverges" when its max |frontend - HLS| exceeds this share of its frontend output range.
DIVERGES_ABOVE = 0.1


def _hls_name(layer, traced: dict) -> str | None:
    """hls4ml splits a Keras layer's activation into `<name>_<activation>`: compare after it."""
    activation = getattr(getattr(layer, "activation", None), "__name__", "linear")
    for name in (f"{layer.name}_{activation}", layer.name):
        if name in traced:
            return name
    return None


def _folded_into(layer, traced: dict) -> str | None:
    """The traced layer a BatchNormalization without a trace of its own reads from (hls4ml folded it into that)."""
    try:
        inbound = layer._inbound_nodes[0].inbound_layers
    except (AttributeError, IndexError):
        return None
    inbound = inbound if isinstance(inbound, list) else [inbound]
    return _hls_name(inbound[0], traced) if len(inbound) == 1 else None


def _range_limit(hls_model, name: str) -> float | None:
    precision = hls_model.graph[name].get_output_variable().type.precision
    integer, signed = getattr(precision, "integer", None), getattr(precision, "signed", True)
    if integer is None:
        return None
    return float(2.0 ** (integer - 1)) if signed else float(2.0**integer)


def _keras_references(model, traced: dict, x: np.ndarray) -> list[tuple[str, np.ndarray, float]]:
    found: list[tuple[str, np.ndarray, float]] = []
    for layer, out in frontends.keras_layer_outputs(model, x):
        name = _hls_name(layer, traced)
        if name is None and any(cls.__name__ == "BatchNormalization" for cls in type(layer).__mro__):
            name = _folded_into(layer, traced)  # hls4ml folded it into the layer before: compare that one after it
            found = [row for row in found if row[0] != name]
        if name is not None:
            found.append((name, out, 1.0))
    return found


def onnx_references(model, hls_model, traced: dict, x: np.ndarray) -> list[tuple[str, np.ndarray, float]]:
    tensors = frontends.onnx_tensors(model, x)
    output_names = {v.name for v in hls_model.get_output_variables()}
    found = []
    for layer in hls_model.get_layers():
        if layer.name not in traced:
            continue
        tensor = frontends.onnx_tensor_of(model, layer, output_names)
        if tensor not in tensors:
            continue
        reference = tensors[tensor].reshape(len(x), -1)
        hls_out = np.asarray(traced[layer.name]).reshape(len(x), -1)
        scale = 1.0
        if layer.outputs[0] not in output_names and reference.shape == hls_out.shape:
            scale = _scale(reference, hls_out)
        found.append((layer.name, reference * scale, scale))
    return found


def _scale(reference: np.ndarray, hls_out: np.ndarray) -> float:
    """The constant an hls4ml tensor is its frontend tensor times: the median ratio over the nonzero elements (a
    rounding or a saturation moves few of them; a least-squares fit would lean towards them)."""
    nonzero = np.abs(reference) > 1e-9 * float(np.abs(reference).max(initial=0.0))
    ratios = hls_out[nonzero] / reference[nonzero]
    return float(np.median(ratios)) if ratios.size and np.median(ratios) else 1.0


def trace_layers(model, hls_model, x: np.ndarray) -> list[TraceRow]:
    """Every layer's output against the frontend's (Keras, or qonnx's execution)."""
    _, traced = hls_model.trace(np.ascontiguousarray(x))
    if frontends.is_onnx():
        references = onnx_references(model, hls_model, traced, x)
    else:
        references = _keras_references(model, traced, x)
    rows = []
    for name, reference, scale in references:
        ref_out = np.asarray(reference).reshape(len(x), -1)
        hls_out = np.asarray(traced[name]).reshape(len(x), -1)
        if ref_out.shape != hls_out.shape:
            continue
        ref_max = float(np.abs(ref_out).max())
        limit = _range_limit(hls_model, name)
        diff = float(np.abs(ref_out - hls_out).max())
        rows.append(
            TraceRow(
                layer=name,
                keras_max=ref_max,
                hls_max=float(np.abs(hls_out).max()),
                max_abs_diff=diff,
                relative_diff=diff / ref_max if ref_max else 0.0,
                range_limit=limit,
                overflow=bool(limit is not None and ref_max >= limit),
                scale=round(scale, 6),
            )
        )
    return rows


def first_divergence(rows: list[TraceRow]) -> TraceRow | None:
    return next((r for r in rows if r.overflow or r.relative_diff > DIVERGES_ABOVE), None)
