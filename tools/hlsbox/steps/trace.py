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


def _range_limit(hls_model, name: str) -> float | None:
    precision = hls_model.graph[name].get_output_variable().type.precision
    integer, signed = getattr(precision, "integer", None), getattr(precision, "signed", True)
    if integer is None:
        return None
    return float(2.0 ** (integer - 1)) if signed else float(2.0**integer)


def trace_layers(model, hls_model, x: np.ndarray) -> list[TraceRow]:
    """Every layer's output against the frontend's (Keras, or qonnx's execution)."""
    _, traced = hls_model.trace(np.ascontiguousarray(x))
    references = frontends.current().layer_references(model, hls_model, traced, x)
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
