"""Keras model -> hls4ml model, exactly as the flow says (the seed's calls, parameterised)."""

from __future__ import annotations

import contextlib
import io
import zipfile
from pathlib import Path

from hlsbox.steps.protocol import StepInputError, phase


def load_keras_model(path: Path):
    phase("loading model")
    import tensorflow as tf

    if not path.is_file():
        raise StepInputError(f"Model file '{path}' does not exist.", "Make it first (see models/, `make models`).")
    try:
        return tf.keras.models.load_model(path, compile=False)
    except (OSError, ValueError, zipfile.BadZipFile, KeyError, TypeError, EOFError) as exc:
        raise StepInputError(
            f"'{path}' could not be loaded as a Keras model: {str(exc).strip().splitlines()[0][:300]}.",
            "Check that it is a complete .keras or .h5 file saved by TF 2.15 / Keras 2; re-make it with its script.",
        ) from exc


def hls_config(model, flow: dict, trace: bool = False) -> dict:
    import hls4ml

    config = hls4ml.utils.config_from_keras_model(model, granularity=flow["granularity"], backend=flow["backend"])
    precision = flow["precision"]
    if flow["granularity"] == "model":
        config["Model"]["Precision"] = precision["result"]
    else:
        section = "LayerName" if flow["granularity"] == "name" else "LayerType"
        for layer in config[section]:
            # As the seed does: every layer gets the same weight/bias/result precision.
            config[section][layer]["Precision"] = dict(precision)
    config["Model"]["ReuseFactor"] = flow["reuse_factor"]
    config["Model"]["Strategy"] = flow["strategy"]
    # With granularity 'name'/'type', config_from_keras_model writes ReuseFactor = 1 into every
    # layer's entry, and hls4ml prefers it over config['Model']: setting only the model's value
    # (as the seed write-up did) silently leaves every layer at 1. The flow's value means every layer.
    for section in ("LayerName", "LayerType"):
        for entry in config.get(section, {}).values():
            if "ReuseFactor" in entry:
                entry["ReuseFactor"] = flow["reuse_factor"]
    if trace and flow["granularity"] == "name":
        for entry in config["LayerName"].values():
            entry["Trace"] = True
    return config


def convert(model, flow: dict, project_dir: Path, trace: bool = False):
    """convert_from_keras_model with the flow's settings; hls4ml's console output is passed through."""
    import hls4ml

    try:  # hls4ml raises a bare Exception for an unsupported layer, from either call
        phase("configuring")
        config = hls_config(model, flow, trace)
        phase("converting")
        hls_model = hls4ml.converters.convert_from_keras_model(
            model,
            hls_config=config,
            output_dir=str(project_dir),
            project_name=flow["project_name"],
            part=flow["part"],
            backend=flow["backend"],
            io_type=flow["io_type"],
            clock_period=flow["clock_period"],
        )
    except Exception as exc:
        text = str(exc)
        if "nsupported" in text or "not supported" in text:
            raise StepInputError(
                f"hls4ml cannot convert this model: {text.strip().removeprefix('ERROR: ')[:300]}.",
                "Replace the layer with one hls4ml supports (see hls4ml's list of supported layers), "
                "or remove it from the model.",
            ) from exc
        raise
    return hls_model, config


def layer_table(hls_model, requested_reuse: int) -> list[dict]:
    """Per layer: class, output shape, precision and the ReuseFactor hls4ml really uses."""
    rows = []
    for layer in hls_model.get_layers():
        out = layer.get_output_variable()
        reuse = layer.get_attr("reuse_factor")
        rows.append(
            {
                "name": layer.name,
                "index": layer.index,  # hls4ml names the layer's HLS function and config after it
                "class": layer.class_name,
                "output_shape": list(out.shape),
                "result_precision": ap_type(out.type.precision),
                "reuse_factor": reuse,
                "reuse_adjusted": reuse is not None
                and reuse != requested_reuse
                and layer.class_name in ("Dense", "Conv1D", "Conv2D", "PointwiseConv1D", "PointwiseConv2D"),
            }
        )
    return rows


def ap_type(precision) -> str:
    """hls4ml's 'fixed<16,6,TRN,WRAP,0>' as the ap_fixed<16,6> people write (modes only when not default)."""
    from hls4ml.model.types import FixedPrecisionType, IntegerPrecisionType

    sign = "" if getattr(precision, "signed", True) else "u"
    if isinstance(precision, IntegerPrecisionType):
        return f"ap_{sign}int<{precision.width}>"
    if not isinstance(precision, FixedPrecisionType):
        return str(precision)
    modes = (getattr(precision.rounding_mode, "name", "TRN"), getattr(precision.saturation_mode, "name", "WRAP"))
    extra = "" if modes == ("TRN", "WRAP") else f",AP_{modes[0]},AP_{modes[1]}"
    return f"ap_{sign}fixed<{precision.width},{precision.integer}{extra}>"


def plot(hls_model, png: Path) -> str | None:
    """plot_model to a PNG; returns a warning instead of failing the step when graphviz balks."""
    phase("plotting")
    import hls4ml

    try:
        with contextlib.redirect_stdout(io.StringIO()):
            hls4ml.utils.plot_model(hls_model, show_shapes=True, show_precision=True, to_file=str(png))
    except Exception as exc:  # plotting is a convenience; the project is what matters
        return f"plot_model failed: {exc}"
    return None


def versions() -> dict[str, str]:
    import platform

    import hls4ml
    import numpy
    import tensorflow as tf

    return {
        "python": platform.python_version(),
        "tensorflow": tf.__version__,
        "numpy": numpy.__version__,
        "hls4ml": hls4ml.__version__,
    }
