"""Keras model -> hls4ml model, exactly as the flow says (the seed's calls, parameterised)."""

from __future__ import annotations

import contextlib
import io
from pathlib import Path

from hlsbox.core.contract import BatchNormNote, GraphRepair, ImageFlow, SetColumns, StepSpec
from hlsbox.core.hls4ml_names import HLS4ML_KEYS, layer_tables, table_entry
from hlsbox.steps import fifos, frontends, repairs
from hlsbox.steps.protocol import StepFailure, StepInputError, phase


def load_model(path: Path, weights: Path | None = None):
    phase("loading model")
    return frontends.current().load(path, weights)


def load_spec_model(spec: StepSpec):
    """The model the step's spec names (with its weights, for a Keras JSON)."""
    return load_model(Path(spec.model_path), Path(spec.weights_path) if spec.weights_path else None)


def parsed_layers(model) -> list[dict]:
    """hls4ml's own parse of the model (what its config walks), each layer's class as hls4ml's config names it."""
    return frontends.current().parsed_layers(model)


FUSABLE = ("Dense", "Conv1D", "Conv2D", "QDense", "QConv1D", "QConv2D")


def input_of(layers: list[dict], index: int) -> str | None:
    """The layer a parsed layer reads: its first input, or in a Sequential model's parse (which names no inputs)
    the layer before it."""
    return (layers[index].get("inputs") or [layers[index - 1]["name"] if index else None])[0]


def fused_into(layers: list[dict]) -> dict[str, str]:
    """Dense/Conv layers followed by a BatchNormalization (through linear activations): layer -> its BN."""
    by_name = {layer["name"]: layer for layer in layers}
    position = {layer["name"]: index for index, layer in enumerate(layers)}
    result = {}
    for index, layer in enumerate(layers):
        if layer["class_name"] != "BatchNormalization":
            continue
        parent = input_of(layers, index)
        while (
            parent in by_name
            and by_name[parent]["class_name"] == "Activation"
            and by_name[parent].get("activation", "linear") == "linear"
        ):
            parent = input_of(layers, position[parent])
        if parent in by_name and by_name[parent]["class_name"] in FUSABLE:
            result[parent] = layer["name"]
    return result


def settable(backend, cls: str) -> tuple[set[str], set[str]]:
    """The per-layer config keys and type variables hls4ml lets a config set on a layer class."""
    import hls4ml
    from hls4ml.model.attributes import TypeAttribute

    layer_cls = hls4ml.model.layers.layer_map.get(cls)
    if layer_cls is None:
        return set(), set()
    attributes = [a for a in backend.create_layer_class(layer_cls).expected_attributes if a.configurable]
    types = {a.name.removesuffix("_t") for a in attributes if isinstance(a, TypeAttribute)} | {"default"}
    keys = {a.config_name for a in attributes if not isinstance(a, TypeAttribute)} | {"Strategy", "Precision"}
    return keys, types


def check_tables(flow: ImageFlow, flow_file: str, classes: dict[str, str], backend) -> None:
    """Every [layers.X] names a layer of the model, every [layer_types.X] one of its classes, and every key
    set applies to that layer's class in hls4ml: otherwise bad input naming the table and the closest names."""
    known_types = sorted(set(classes.values()))
    for kind, tables, names in (
        ("layers", flow.layers, sorted(classes)),
        ("layer_types", flow.layer_types, known_types),
    ):
        for name, table in tables.items():
            if name not in names:
                what = "layer" if kind == "layers" else "layer class"
                raise StepInputError(
                    f"In flow '{flow_file}': [{kind}.{name}] names no {what} of the model{closest(name, names)}.",
                    f"The model's {what}es: {', '.join(names)}."
                    if kind == "layer_types"
                    else f"The model's layers (as hls4ml names them): {', '.join(names)}.",
                )
            cls = classes[name] if kind == "layers" else name
            keys, types = settable(backend, cls)
            entry = table_entry(table.set_values())
            wrong = [k for k in entry if k not in keys] + [
                f"precision.{v}" for v in entry.get("Precision", {}) if v not in types
            ]
            if keys and wrong:
                raise StepInputError(
                    f"In flow '{flow_file}': [{kind}.{name}] sets {', '.join(wrong)}, which hls4ml does not have for a "
                    f"{cls} layer.",
                    f"A {cls} takes: {', '.join(sorted(snake(k) for k in keys - {'Precision'}))}; precision: "
                    f"{', '.join(sorted(types))}.",
                )


def closest(name: str, names: list[str]) -> str:
    import difflib

    close = difflib.get_close_matches(name, names, n=3, cutoff=0.4)
    return f" (closest: {', '.join(close)})" if close else ""


def snake(key: str) -> str:
    return HLS4ML_KEYS.get(key, key)


def merge(entry: dict, update: dict) -> None:
    for key, value in update.items():
        if key == "Precision":
            current = entry.get("Precision")
            entry["Precision"] = {**(current if isinstance(current, dict) else {}), **value}
        else:
            entry[key] = value


def hls_config(model, flow: ImageFlow, trace: bool = False, flow_file: str = "the flow") -> dict:
    """The hls4ml config the flow describes: config_from_keras_model at the flow's granularity, the flow's types on
    every entry (the seed's loop) and its reuse_factor and strategy as the Model's (the write-up's), then its
    [layer_types] and [layers] tables, hls4ml's precedence."""
    import hls4ml

    backend = hls4ml.backends.get_backend(flow.backend)
    granularity = flow.granularity
    frontend = frontends.current()
    config = frontend.config_from_model(model, granularity, flow.backend)
    layers = parsed_layers(model)
    classes = {layer["name"]: layer["class_name"] for layer in layers} | frontend.created_layers(layers)
    check_tables(flow, flow_file, classes, backend)
    precision = dict(flow.precision)
    model_cfg = config["Model"]
    model_cfg["ReuseFactor"], model_cfg["Strategy"] = flow.reuse_factor, flow.strategy
    if "default" in precision:
        model_cfg["Precision"]["default"] = precision.pop("default")
    types = {name: table_entry(table.set_values()) for name, table in flow.layer_types.items()}
    names = {name: table_entry(table.set_values()) for name, table in flow.layers.items()}
    if granularity == "model":
        model_cfg["Precision"].update(precision)
        config["LayerType"], config["LayerName"] = types, names
    else:
        keep_auto = fused_into(layers) if flow.fuse_batchnorm else {}
        section = "LayerName" if granularity == "name" else "LayerType"
        for name, entry in config[section].items():
            stamp = {k: v for k, v in precision.items() if not (k == "result" and name in keep_auto)}
            merge(entry, {"Precision": stamp} if stamp else {})
            # Given a backend (as here), config_from_keras_model writes ReuseFactor = 1 into every entry, and
            # hls4ml prefers it over config['Model']. The flow's reuse_factor is the Model value, as in the
            # write-up (which called it without a backend): a per-layer entry repeating it is not the same, since
            # hls4ml takes a PointwiseConv's entry unchecked (RF 32 over 3 inputs: C++ that does not compile)
            # where it validates the Model value. Only the flow's own tables write per-layer ReuseFactors.
            entry.pop("ReuseFactor", None)
            if section == "LayerName":  # the layer's tables over its class's (hls4ml_names.layer_tables)
                merge(entry, table_entry(layer_tables(flow, name, classes.get(name, name))))
            else:
                merge(entry, types.get(name, {}))
        if section == "LayerName":  # the layers hls4ml makes as it converts (frontends.created_layers)
            created = {name for name in flow.layers if name not in config["LayerName"] and name in classes}
            config["LayerName"].update({name: table_entry(flow.layers[name].set_values()) for name in created})
        if section == "LayerName" and types:
            config["LayerType"] = types
        if section == "LayerType" and names:
            config["LayerName"] = names
    if trace and granularity == "name":
        for entry in config["LayerName"].values():
            entry["Trace"] = True
    return config


def convert(model, flow: ImageFlow, project_dir: Path, trace: bool = False, flow_file: str = "the flow"):
    """convert_from_keras_model with the flow's settings; hls4ml's console output is passed through."""

    try:  # hls4ml raises a bare Exception for an unsupported layer, from either call
        phase("configuring")
        config = hls_config(model, flow, trace, flow_file)
        phase("converting")
        made = getattr(model, "hlsbox_repairs", [])  # repairs of the graph itself, as it was loaded
        with (
            repairs.repairing(frontends.current().own_types, flow_types(flow), made) as session,
            repairs.hls4ml_warnings() as said,
        ):
            hls_model = frontends.current().convert(
                model,
                hls_config=config,
                output_dir=str(project_dir),
                project_name=flow.project_name,
                part=flow.part,
                backend=flow.backend,
                io_type=flow.io_type,
                clock_period=flow.clock_period,
            )
        hls_model.hlsbox_notes = (tuple(session.repairs), tuple(said))
        say_notes(hls_model)
        changed = fifos.set_fifo_depths(hls_model, flow.fifo_depth)
        if changed:
            deep = sum(1 for c in changed if c["to"] != fifos.SHALLOW)
            print(f"fifo_depth = auto: {len(changed) - deep} FIFOs shallow, {deep} a whole map at a fork", flush=True)
    except (StepInputError, StepFailure):  # explained already
        raise
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


def flow_types(flow: ImageFlow) -> frozenset[str]:
    """The type variables the flow sets for every layer or a whole class (the repairs leave them alone)."""
    tables = [table.set_values().get("precision", {}) for table in flow.layer_types.values()]
    return frozenset({*flow.precision, *(name for table in tables for name in table)})


def conversion_notes(hls_model) -> tuple[tuple[GraphRepair, ...], tuple[str, ...]]:
    """What hlsbox repaired in the conversion, and hls4ml's own warnings during it."""
    return getattr(hls_model, "hlsbox_notes", ((), ()))


def say_notes(hls_model) -> None:
    """The repairs and hls4ml's warnings, in the step's log and live output as they happen."""
    repaired, said = conversion_notes(hls_model)
    for repair in repaired:
        print(f"hlsbox repaired {repair.layer}: {repair.what} ({repair.why})", flush=True)
    for text in said:
        print(f"hls4ml warned: {text}", flush=True)


SETTINGS = ("strategy", "parallelization_factor", "conv_implementation", "table_size", "implementation")


def mult_size(layer) -> tuple[int, int, int] | None:
    """(n_in, n_out, output pixels) as hls4ml's get_layer_mult_size sees a weighted layer."""
    get = layer.get_attr
    name = layer.class_name
    if "Dense" in name:
        return get("n_in"), get("n_out"), 1
    if "Conv1D" in name:
        return get("n_chan") * get("filt_width"), get("n_filt"), get("out_width")
    if "Conv2D" in name:
        return (
            get("n_chan") * get("filt_height") * get("filt_width"),
            get("n_filt"),
            get("out_height") * get("out_width"),
        )
    return None


def set_columns(flow: ImageFlow) -> SetColumns:
    """What the flow sets, for the table convert shows: the type variables and the other per-layer keys."""
    tables = [table.set_values() for table in (*flow.layers.values(), *flow.layer_types.values())]
    types = {*flow.precision, *(v for table in tables for v in table.get("precision", {}))} - {"default"}
    keys = {k for table in tables for k in table if k != "precision"}
    return SetColumns(tuple(sorted(types - {"result"})), tuple(sorted(keys & set(SETTINGS))))


def unfused_batchnorms(model, hls_model, flow: ImageFlow) -> tuple[BatchNormNote, ...]:
    """BatchNormalization layers hls4ml kept apart from the Dense/Conv before them (each costs a multiply per
    element), and why."""
    fusable = {bn: parent for parent, bn in fused_into(parsed_layers(model)).items()}
    present = {layer.name for layer in hls_model.get_layers()}
    notes = []
    for bn, parent in fusable.items():
        if bn not in present:
            continue
        why = (
            "the flow sets fuse_batchnorm = false: the layer's result type is set, and hls4ml 1.3 fuses only "
            "into a layer whose result type it chooses itself"
            if not flow.fuse_batchnorm
            else "hls4ml did not fuse it (the layer's output has another consumer, or its weights are quantised)"
        )
        notes.append(BatchNormNote(bn, parent, why))
    return tuple(notes)


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

    base = {"python": platform.python_version(), "numpy": numpy.__version__, "hls4ml": hls4ml.__version__}
    return base | frontends.current().versions()
