"""Flow files: a declarative description of one model's way to firmware, validated with pydantic.

A flow is a TOML file (see flows/) or one of hls4ml's own YAML configs (`hls4ml convert -c`, read by
formats.py). Paths in it are relative to the workspace (the directory hlsbox runs in, usually the
repository root) and may not leave it.

Settings and their precedence, as in hls4ml (per key: layer, then type, then model):
- the flow's global values (`reuse_factor`, `strategy`, `[precision]`) apply to every layer;
- `[layer_types.<hls4ml class>]` to the layers of that class;
- `[layers.<layer name>]` to one layer.
"""

from __future__ import annotations

import difflib
import re
from pathlib import Path
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from hlsbox.core import toolchains
from hlsbox.core.contract import ImageFlow
from hlsbox.core.errors import BadInput
from hlsbox.core.hls4ml_names import HLS4ML_KEYS, PRECISION_NAMES
from hlsbox.core.imagefolder import FILTERS, NO_RESIZE, RESIZE_MODES, check_folder
from hlsbox.core.parts import resolve_device
from hlsbox.core.units import parse_duration_or_off

# ap_fixed<W,I>, ap_ufixed<W,I,Q,O,N>, ap_int<W>, ap_uint<W> (and hls4ml's fixed<...>) as hls4ml accepts them.
_PRECISION = re.compile(
    r"(?:(?:ap_)?u?fixed<\s*(?P<w>\d+)\s*,\s*(?P<i>-?\d+)\s*(?:,\s*[A-Z_]+\s*(?:,\s*[A-Z_]+\s*(?:,\s*\d+\s*)?)?)?>"
    r"|(?:ap_)?u?int<\s*(?P<iw>\d+)\s*>)"
)


def check_precision(text: str) -> str:
    text = str(text).strip()
    if text == "auto":
        return text
    match = _PRECISION.fullmatch(text)
    width = int(match.group("w") or match.group("iw")) if match else 0
    if not match or not 1 <= width <= 1024:
        raise ValueError(
            f"'{text}' is not an HLS precision; write ap_fixed<W,I> (W total bits, I integer bits incl. sign), "
            "e.g. ap_fixed<16,6>, ap_int<W>, or auto (hls4ml infers it)"
        )
    return text


def check_type_names(table: dict[str, str]) -> dict[str, str]:
    for name in table:
        if name not in PRECISION_NAMES:
            raise ValueError(f"'{name}' is not a type hls4ml knows{_closest(name, PRECISION_NAMES)}")
    return table


PrecisionText = Annotated[str, AfterValidator(check_precision)]


def _closest(name: str, names: tuple[str, ...] | list[str]) -> str:
    close = difflib.get_close_matches(name, list(names), n=3, cutoff=0.5)
    return f" (closest: {', '.join(close)})" if close else f" (known: {', '.join(names)})"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


Strategy = Literal["Latency", "Resource"]


class LayerSettings(_Strict):
    """One `[layers.<name>]` or `[layer_types.<class>]` table: what hls4ml lets a config set per layer."""

    precision: dict[str, PrecisionText] = Field(default_factory=dict)
    reuse_factor: int | None = Field(None, ge=1)
    strategy: Strategy | None = None
    parallelization_factor: int | None = Field(None, ge=1)
    conv_implementation: Literal["LineBuffer", "Encoded"] | None = None
    table_size: int | None = Field(None, ge=2)
    table_range_power2: int | None = None
    implementation: Literal["latency", "stable", "argmax", "legacy"] | None = None
    trace: bool | None = None
    skip: bool | None = None
    depthwise_reuse_factor: int | None = Field(None, ge=1)
    pointwise_reuse_factor: int | None = Field(None, ge=1)
    recurrent_reuse_factor: int | None = Field(None, ge=1)
    forward_reuse_factor: int | None = Field(None, ge=1)
    backward_reuse_factor: int | None = Field(None, ge=1)
    forward_recurrent_reuse_factor: int | None = Field(None, ge=1)
    backward_recurrent_reuse_factor: int | None = Field(None, ge=1)
    static: bool | None = None
    direction: Literal["forward", "backward"] | None = None
    algorithm: Literal["nearest", "bilinear"] | None = None
    time_step_loop_parallelism: Literal["Off", "Unroll", "Pipeline"] | None = None

    _check = field_validator("precision")(classmethod(lambda cls, v: check_type_names(v)))

    @classmethod
    def from_hls4ml(cls, entry: dict, where: str) -> LayerSettings:
        """An hls4ml layer config entry as a table; an unknown key is bad input naming `where`."""
        data: dict = {}
        for key, value in entry.items():
            if key == "Precision":
                data["precision"] = value if isinstance(value, dict) else {"default": value}
            elif key in HLS4ML_KEYS:
                data[HLS4ML_KEYS[key]] = value
            else:
                raise BadInput(
                    f"{where}: '{key}' is not a per-layer setting hls4ml knows{_closest(key, list(HLS4ML_KEYS))}.",
                    "Remove it or spell it as hls4ml does.",
                )
        return cls.model_validate(data)


class CsimSettings(_Strict):
    """Inputs for C simulation: a data set the image has, a folder of labelled images, or random inputs."""

    dataset: Literal["digits", "random", "cifar10", "synthetic_cifar", "jets", "images"] = "random"
    samples: int = Field(100, ge=1, le=100_000)
    seed: int = 0
    cifar10_path: str | None = None  # a local cifar-10-batches-py directory, for dataset = "cifar10"
    # dataset = "images": a folder of class subfolders of PNG/JPEG images (torchvision's ImageFolder layout;
    # classes sorted by name), each pixel divided by `scale` as the model was trained (the seed: 255).
    images: str | None = None
    scale: float | None = Field(None, gt=0)
    # How images of another size become the model's input size: "none" (they must be it), "center_crop" (the
    # centre, pixels exact) or a PIL resampling filter (nearest, box, bilinear, hamming, bicubic, lanczos: PIL's
    # Image.resize of the 8-bit image to the model's height and width). See core/imagefolder.py.
    resize: str = NO_RESIZE
    # Compare every layer's output with Keras (hls4ml's trace) on the first trace_samples inputs.
    trace: bool = True
    trace_samples: int = Field(20, ge=1, le=1000)
    # Compile exactly as hls4ml does (no fast build of io_parallel convolutions): slow, for comparison.
    exact_build: bool = False

    @model_validator(mode="after")
    def _images_need_folder_and_scale(self) -> CsimSettings:
        if self.dataset == "images" and (self.images is None or self.scale is None):
            raise ValueError(
                'dataset = "images" needs images = "<folder of class subfolders>" and scale = <what the model '
                "divided the pixels by in training> (e.g. 255 for inputs in [0, 1])"
            )
        if self.dataset != "images" and (self.images is not None or self.scale is not None):
            raise ValueError(f'images and scale are for dataset = "images"; the dataset is "{self.dataset}"')
        if self.dataset != "images" and self.resize != NO_RESIZE:
            raise ValueError(f'resize is for dataset = "images" (a folder of images); the dataset is "{self.dataset}"')
        return self

    @field_validator("resize")
    @classmethod
    def _known_resize(cls, resize: str) -> str:
        if resize not in RESIZE_MODES:
            raise ValueError(
                f"'{resize}' is not a way to fit images to the model's input: "
                '"none" (the images are its size), "center_crop" (their centre, pixels exact) or a PIL resampling '
                f"filter ({', '.join(FILTERS)})"
            )
        return resize

    def check_images(self, workspace: Path) -> None:
        """The host's check of dataset = "images" before any container: the folder, its images, one size (the
        model's input size is known only in the image, which checks csim.resize against it)."""
        if self.dataset == "images":
            check_folder(inside_workspace(workspace, self.images or "", "csim.images"))

    def data_path(self, workspace: Path) -> Path | None:
        """The data folder the flow names, inside the workspace (the container sees nothing else)."""
        if self.dataset == "images":
            return inside_workspace(workspace, self.images or "", "csim.images")
        if self.dataset == "cifar10" and self.cifar10_path:
            return inside_workspace(workspace, self.cifar10_path, "csim.cifar10_path")
        return None


class RtlSettings(_Strict):
    """The [rtl] table, for backend = "da4ml": how rtl pipelines the design, the largest network it unrolls,
    how many inputs rtlsim simulates (core.contract.RtlInputs)."""

    latency_cutoff: float = 5.0
    max_multiplications: int = Field(20_000, ge=1)
    samples: int = Field(10_000, ge=1_000, le=1_000_000)


def _known_toolchain(name: str | None) -> str | None:
    if name is not None and name not in toolchains.NAMES:
        close = difflib.get_close_matches(name, toolchains.NAMES, n=1)
        raise ValueError(
            f"'{name}' is not a toolchain{f' (closest: {close[0]})' if close else ''}; toolchains: "
            f"{', '.join(toolchains.NAMES)}"
        )
    return name


class Flow(_Strict):
    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
    description: str = ""
    model: str  # path to a .keras / .h5 / .onnx file (or a Keras JSON with `weights`), relative to the workspace
    # The toolchain (image) that reads the model (core.toolchains: keras2, keras3, qonnx); left out, the model file
    # picks it.
    toolchain: Annotated[str | None, AfterValidator(_known_toolchain)] = None
    weights: str | None = None  # the .h5 weights of a model given as Keras JSON (hls4ml's KerasJson + KerasH5)
    # Vivado, Vitis: hls4ml's HLS backends; da4ml: da4ml's Verilog (hlsbox rtl, synth, rtlsim), HGQ2 models only
    backend: Literal["Vivado", "Vitis", "da4ml"] = "Vivado"
    part: str = "xc7z010clg400-1"
    clock_period: float = Field(5.0, gt=0, description="ns")
    io_type: Literal["io_parallel", "io_stream"] = "io_parallel"
    # How the hls4ml config is built: 'name' and 'type' start from config_from_keras_model at that granularity
    # and set the global values on every entry (the seed's loop); 'model' passes the tables to hls4ml as given.
    granularity: Literal["model", "type", "name"] = "name"
    precision: dict[str, PrecisionText] = Field(default_factory=dict)  # every layer's types: weight, result, ...
    reuse_factor: int = Field(1, ge=1)
    strategy: Strategy = "Latency"
    # Leave a Dense/Conv layer's result type to hls4ml when a BatchNormalization follows, so hls4ml fuses the two
    # (hls4ml 1.3 fuses only then); false keeps them apart, as the seed's code did.
    fuse_batchnorm: bool = True
    # io_stream FIFO depths: "default" keeps hls4ml's (a whole feature map each: BRAM), "auto" makes them shallow
    # where that cannot deadlock (hlsbox.steps.fifos).
    fifo_depth: Literal["default", "auto"] = "default"
    project_name: str = Field("myproject", pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")
    layer_types: dict[str, LayerSettings] = Field(default_factory=dict)
    layers: dict[str, LayerSettings] = Field(default_factory=dict)
    csim: CsimSettings = CsimSettings()
    rtl: RtlSettings = RtlSettings()
    # A grid for `hlsbox sweep`, e.g. {reuse_factor = [16, 32, 64], precision = ["ap_fixed<16,6>"]}.
    sweep: dict[str, list[str | int | float]] = Field(default_factory=dict)
    # Stop a step that prints nothing and uses no CPU for this long ("5m" by default, "off"); not in the cache key.
    hang_after: str | None = None

    _check_precision = field_validator("precision")(classmethod(lambda cls, v: check_type_names(v)))

    @field_validator("hang_after")
    @classmethod
    def _duration(cls, text: str | None) -> str | None:
        if text is not None:
            parse_duration_or_off(text)  # raises BadInput naming a bad duration
        return text

    @field_validator("part")
    @classmethod
    def _known_part(cls, part: str) -> str:
        resolve_device(part)  # raises BadInput with the closest names
        return part

    def with_part(self, part: str | None) -> Flow:
        """The flow with the part from the command line, which wins over the file's."""
        return self if not part else Flow.model_validate({**self.model_dump(), "part": part})

    def model_path(self, workspace: Path) -> Path:
        return inside_workspace(workspace, self.model, "model")

    def weights_path(self, workspace: Path) -> Path | None:
        return inside_workspace(workspace, self.weights, "weights") if self.weights else None


def inside_workspace(workspace: Path, relative: str, what: str) -> Path:
    """Resolve a flow path; flows may not reach outside the workspace (they are shared files)."""
    path = (workspace / relative).resolve()
    if not path.is_relative_to(workspace.resolve()):
        raise BadInput(
            f"The flow's {what} path '{relative}' leads outside the workspace {workspace}.",
            "Paths in a flow are relative to the workspace and stay inside it (the container sees only the "
            "workspace); copy it into the workspace.",
        )
    return path


def validate_flow(data: dict, path: Path) -> Flow:
    try:
        return Flow.model_validate(data)
    except BadInput as exc:  # raised by a validator (unknown part): keep its own hint
        raise BadInput(f"In flow '{path}': {exc.message}", exc.hint) from exc
    except ValidationError as exc:
        raise BadInput(
            f"Flow file '{path}' is not valid: {describe_validation_error(exc)}.",
            "Fix the key named; flows/seed.toml and docs/flows.md document every key.",
        ) from exc


def _fields_at(loc: tuple) -> list[str]:
    """The keys allowed where a validation error points, for 'closest' hints."""
    if loc[:1] in (("layers",), ("layer_types",)) and len(loc) >= 3:
        return list(LayerSettings.model_fields)
    if loc[:1] == ("csim",):
        return list(CsimSettings.model_fields)
    if loc[:1] == ("rtl",):
        return list(RtlSettings.model_fields)
    return list(Flow.model_fields)


def _where(loc: tuple) -> str:
    if loc[:1] in (("layers",), ("layer_types",)) and len(loc) >= 2:
        table, rest = f"[{loc[0]}.{loc[1]}]", ".".join(str(p) for p in loc[2:])
        return f"{table} {rest}".strip()
    return ".".join(str(p) for p in loc) or "(top level)"


def describe_validation_error(exc: ValidationError) -> str:
    problems = []
    for err in exc.errors():
        loc = tuple(err["loc"])
        if err["type"] == "extra_forbidden":
            table = _where(loc[:-1]) if len(loc) > 1 else "the top level"
            key = str(loc[-1])
            problems.append(f"unknown key '{key}' in {table}{_closest(key, _fields_at(loc))}")
        elif err["type"] == "missing":
            problems.append(f"missing key '{_where(loc)}'")
        else:
            problems.append(f"'{_where(loc)}': {err['msg'].removeprefix('Value error, ')}")
    return "; ".join(problems)


def image_flow(flow: Flow) -> ImageFlow:
    """The flow as the image sees it (core.contract): every default filled in, no pydantic needed there."""
    return ImageFlow.from_dict(flow.model_dump())
