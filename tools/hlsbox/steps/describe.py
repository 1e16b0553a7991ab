"""Step `describe`: the hls4ml view of a model, layer by layer, for `hlsbox plan`.

Converts (without writing or compiling) and reports what the estimator on the host needs: the
multiply sizes hls4ml uses (n_in x n_out per output pixel), output pixels, operand widths, the
ReuseFactor asked for and the one hls4ml settled on, the strategy, and the zero weights.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from hlsbox.steps import hls


def _width(precision) -> int | None:
    return getattr(precision, "width", None)


def describe_layer(layer, asked_reuse: int) -> dict:
    out = layer.get_output_variable()
    row = {
        "name": layer.name,
        "class": layer.class_name,
        "output_shape": list(out.shape),
        "outputs": int(np.prod(out.shape)),
        "result_bits": _width(out.type.precision),
        "strategy": str(layer.get_attr("strategy") or "").lower(),
        "reuse_asked": asked_reuse,
        "reuse_used": layer.get_attr("reuse_factor"),
    }
    size = hls.mult_size(layer)
    if size and "weight" in layer.weights:
        weights = layer.weights["weight"]
        inputs = layer.get_input_variable()
        row.update(
            n_in=int(size[0]),
            n_out=int(size[1]),
            pixels=int(size[2]),
            weight_bits=_width(weights.type.precision),
            input_bits=_width(inputs.type.precision),
            accum_bits=_width(layer.get_attr("accum_t").precision) if layer.get_attr("accum_t") else None,
            weights=int(np.size(weights.data)),
            zero_weights=int(np.count_nonzero(np.asarray(weights.data) == 0)),
        )
    elif layer.class_name == "BatchNormalization":
        # One multiply per element (scale), unrolled in io_parallel.
        row.update(
            elementwise_multiplies=int(np.prod(out.shape)), weight_bits=_width(layer.weights["scale"].type.precision)
        )
    return row


def run(spec: dict) -> dict:
    flow, run_dir = spec["flow"], Path(spec["run_dir"])
    start = time.monotonic()
    model = hls.load_keras_model(Path(spec["model_path"]), hls.weights_path(spec))
    hls_model, config = hls.convert(model, flow, run_dir / "hls4ml_prj", flow_file=spec["flow_file"])
    layers = [describe_layer(layer, hls_model.config.get_reuse_factor(layer)) for layer in hls_model.get_layers()]
    return {
        "step": "describe",
        "parameters": int(model.count_params()),
        "input_shape": list(model.input_shape[1:]),
        "layers": layers,
        "hls_config": config,
        "unfused_batchnorms": hls.unfused_batchnorms(model, hls_model, flow),
        "seconds": round(time.monotonic() - start, 2),
        "versions": hls.versions(),
    }
