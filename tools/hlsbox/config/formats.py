"""Flows as files: TOML (hlsbox's own), and hls4ml's YAML config (what `hls4ml convert -c` reads).

hls4ml YAML -> flow: KerasModel (or KerasJson + KerasH5, or KerasH5), ProjectName, Part, ClockPeriod, Backend,
IOType and HLSConfig (Model / LayerType / LayerName) map onto a flow with granularity "model", so hls4ml gets
the tables as given. Flow -> YAML writes the config hlsbox hands to hls4ml, plus an `HlsboxFlow` block with
the flow itself, which hls4ml ignores and `flow import` reads back: a round trip loses nothing a flow says.
"""

from __future__ import annotations

import difflib
import re
from pathlib import Path

import tomli_w
import tomllib
import yaml

from hlsbox.config.flow import Flow, LayerSettings, validate_flow
from hlsbox.core.errors import BadInput

HLSBOX_BLOCK = "HlsboxFlow"
# Top-level keys of hls4ml's YAML config that a flow carries, and those it knows but hlsbox replaces.
_MODEL_KEYS = ("KerasModel", "KerasJson", "KerasH5")
_FLOW_KEYS = ("ProjectName", "Part", "XilinxPart", "ClockPeriod", "Backend", "IOType", "HLSConfig")
_REPLACED_KEYS = ("OutputDir", "InputData", "OutputPredictions", "ClockUncertainty", "Stamp", "WriterConfig")
_MODEL_SECTION = ("Precision", "ReuseFactor", "Strategy")
_MODEL_SECTION_IGNORED = ("BramFactor", "TraceOutput", "BitExact")


YAML_SUFFIXES = (".yml", ".yaml")


def load_flow(path: Path) -> Flow:
    """Read and validate a flow file (TOML, or hls4ml's YAML); every problem is one BadInput naming the file."""
    if not path.is_file():
        raise BadInput(f"Flow file '{path}' does not exist.", "Give an existing flow with --flow / FLOW= (see flows/).")
    if path.suffix.lower() in YAML_SUFFIXES:
        return read_hls4ml_yaml(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise BadInput(
            f"Flow file '{path}' is not valid TOML: {exc}.", "Fix the syntax (see flows/seed.toml)."
        ) from exc
    return validate_flow(data, path)


# Written even at their defaults: what a reader of the file wants to see without knowing the defaults.
ALWAYS_WRITTEN = ("backend", "part", "clock_period", "io_type", "strategy", "reuse_factor")


def to_toml(flow: Flow, header: str = "") -> str:
    """A flow as TOML that load_flow reads back the same (defaults and empty tables left out)."""
    data = flow.model_dump(exclude_none=True, exclude_defaults=True)
    architecture = {key: getattr(flow, key) for key in ALWAYS_WRITTEN}
    if flow.io_type == "io_stream":
        architecture["fifo_depth"] = flow.fifo_depth
    data = {"name": flow.name, "model": flow.model, **data, **architecture}
    for key in ("layers", "layer_types"):
        if key in data:
            data[key] = {
                name: {k: v for k, v in table.items() if v not in (None, {})} for name, table in data[key].items()
            }
    text = tomli_w.dumps(data)
    return (header.rstrip() + "\n" if header else "") + text


def write_toml(flow: Flow, path: Path, header: str = "") -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(to_toml(flow, header))


def read_hls4ml_yaml(path: Path) -> Flow:
    """hls4ml's YAML config as a flow; its problems are bad input naming the file and the key."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise BadInput(f"'{path}' is not valid YAML: {exc}.", "Fix the syntax of the hls4ml config.") from exc
    if not isinstance(data, dict):
        raise BadInput(f"'{path}' is not an hls4ml config (a YAML mapping).", "See hls4ml's configuration docs.")
    if isinstance(data.get(HLSBOX_BLOCK), dict):
        return validate_flow(data[HLSBOX_BLOCK], path)
    return validate_flow(_flow_data(data, path), path)


def _flow_data(data: dict, path: Path) -> dict:
    known = (*_MODEL_KEYS, *_FLOW_KEYS, *_REPLACED_KEYS, HLSBOX_BLOCK)
    for key in data:
        if key not in known:
            close = difflib.get_close_matches(key, known, n=3, cutoff=0.5)
            raise BadInput(
                f"In hls4ml config '{path}': '{key}' is not a key hls4ml's YAML config has"
                + (f" (closest: {', '.join(close)})." if close else "."),
                f"Known keys: {', '.join(known)}.",
            )
    flow: dict = {"name": _safe_name(path.stem), "granularity": "model"}
    if data.get("KerasModel"):
        flow["model"] = str(data["KerasModel"])
    elif data.get("KerasJson"):
        flow["model"], flow["weights"] = str(data["KerasJson"]), data.get("KerasH5")
    elif data.get("KerasH5"):
        flow["model"] = str(data["KerasH5"])
    else:
        raise BadInput(
            f"hls4ml config '{path}' names no Keras model.",
            "Give KerasModel (a .keras/.h5 file), or KerasJson with KerasH5 (architecture + weights).",
        )
    simple = {"ProjectName": "project_name", "ClockPeriod": "clock_period", "IOType": "io_type"}
    flow.update({ours: data[key] for key, ours in simple.items() if key in data})
    if part := data.get("Part") or data.get("XilinxPart"):
        flow["part"] = part
    if "Backend" in data:
        flow["backend"] = data["Backend"]
    flow.update(_hls_config(data.get("HLSConfig") or {}, path))
    return flow


def _hls_config(config: dict, path: Path) -> dict:
    out: dict = {}
    model = config.get("Model") or {}
    unknown = [k for k in model if k not in (*_MODEL_SECTION, *_MODEL_SECTION_IGNORED)]
    if unknown:
        raise BadInput(
            f"In hls4ml config '{path}': HLSConfig.Model has keys hlsbox does not know: {', '.join(unknown)}.",
            f"A flow sets {', '.join(_MODEL_SECTION)} for the model; remove the others.",
        )
    if "Precision" in model:
        precision = model["Precision"]
        out["precision"] = dict(precision) if isinstance(precision, dict) else {"default": str(precision)}
    if "ReuseFactor" in model:
        out["reuse_factor"] = model["ReuseFactor"]
    if "Strategy" in model:
        out["strategy"] = str(model["Strategy"]).capitalize()
    for section, key in (("LayerType", "layer_types"), ("LayerName", "layers")):
        tables = config.get(section) or {}
        out[key] = {
            name: LayerSettings.from_hls4ml(
                entry or {}, f"hls4ml config '{path}', HLSConfig.{section}.{name}"
            ).model_dump(exclude_none=True)
            for name, entry in tables.items()
        }
    return out


def _safe_name(stem: str) -> str:
    name = re.sub(r"[^A-Za-z0-9_.-]+", "_", stem).strip("_.-")
    return name or "hls4ml_config"


def to_hls4ml_yaml(flow: Flow, hls_config: dict, output_dir: str) -> str:
    """The flow as hls4ml's YAML config: the config hlsbox gives hls4ml, and the flow for `flow import`."""
    data: dict = {}
    if flow.weights:
        data["KerasJson"], data["KerasH5"] = flow.model, flow.weights
    else:
        data["KerasModel"] = flow.model
    data.update(
        {
            "OutputDir": output_dir,
            "ProjectName": flow.project_name,
            "Part": flow.part,
            "ClockPeriod": flow.clock_period,
            "Backend": flow.backend,
            "IOType": flow.io_type,
            "HLSConfig": hls_config,
            HLSBOX_BLOCK: flow.model_dump(exclude_none=True),
        }
    )
    header = (
        f"# hls4ml config of hlsbox flow '{flow.name}' (hlsbox flow export). `hls4ml convert -c` reads it;\n"
        f"# `hlsbox flow import` reads the {HLSBOX_BLOCK} block back into the flow.\n"
    )
    return header + yaml.safe_dump(data, sort_keys=False, default_flow_style=False)
