"""Flow files: a declarative description of one model's way to firmware, validated with pydantic.

A flow is a TOML file (see flows/). Paths in it are relative to the workspace (the directory
hlsbox runs in, usually the repository root) and may not leave it.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Literal

import tomllib
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from hlsbox.errors import BadInput
from hlsbox.parts import resolve_device

# ap_fixed<W,I>, ap_ufixed<W,I,Q,O,N>, ap_int<W>, ap_uint<W> as hls4ml accepts them.
_PRECISION = re.compile(
    r"(?:ap_u?fixed<\s*(?P<w>\d+)\s*,\s*(?P<i>-?\d+)\s*(?:,\s*[A-Z_]+\s*(?:,\s*[A-Z_]+\s*(?:,\s*\d+\s*)?)?)?>"
    r"|ap_u?int<\s*(?P<iw>\d+)\s*>)"
)


def check_precision(text: str) -> str:
    match = _PRECISION.fullmatch(text.strip())
    width = int(match.group("w") or match.group("iw")) if match else 0
    if not match or not 1 <= width <= 1024:
        raise ValueError(
            f"'{text}' is not an HLS precision; write ap_fixed<W,I> (W total bits, I integer bits incl. sign), "
            "e.g. ap_fixed<16,6>, or ap_int<W>"
        )
    return text.strip()


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Precision(_Strict):
    """The precision of every layer's weights, biases and results (hls4ml 'Precision')."""

    weight: str = "ap_fixed<16,6>"
    bias: str = "ap_fixed<16,6>"
    result: str = "ap_fixed<16,6>"

    _check = field_validator("weight", "bias", "result")(classmethod(lambda cls, v: check_precision(v)))


class CsimSettings(_Strict):
    """Inputs for C simulation: a data set the image has, or random inputs."""

    dataset: Literal["digits", "random", "cifar10"] = "random"
    samples: int = Field(100, ge=1, le=100_000)
    seed: int = 0
    cifar10_path: str | None = None  # a local cifar-10-batches-py directory, for dataset = "cifar10"
    # Compare every layer's output with Keras (hls4ml's trace) on the first trace_samples inputs.
    trace: bool = True
    trace_samples: int = Field(20, ge=1, le=1000)


class Flow(_Strict):
    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
    description: str = ""
    model: str  # path to a .keras / .h5 file, relative to the workspace
    backend: Literal["Vivado", "Vitis"] = "Vivado"
    part: str = "xc7z010clg400-1"
    clock_period: float = Field(5.0, gt=0, description="ns")
    io_type: Literal["io_parallel", "io_stream"] = "io_parallel"
    granularity: Literal["model", "type", "name"] = "name"
    precision: Precision = Precision()
    reuse_factor: int = Field(1, ge=1)
    strategy: Literal["Latency", "Resource"] = "Latency"
    project_name: str = Field("myproject", pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")
    csim: CsimSettings = CsimSettings()
    # A grid for `hlsbox sweep`, e.g. {reuse_factor = [16, 32, 64], precision = ["ap_fixed<16,6>"]}.
    sweep: dict[str, list[str | int | float]] = Field(default_factory=dict)

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


def inside_workspace(workspace: Path, relative: str, what: str) -> Path:
    """Resolve a flow path; flows may not reach outside the workspace (they are shared files)."""
    path = (workspace / relative).resolve()
    if not path.is_relative_to(workspace.resolve()):
        raise BadInput(
            f"The flow's {what} path '{relative}' leads outside the workspace {workspace}.",
            "Paths in a flow are relative to the workspace and stay inside it; copy the file into it.",
        )
    return path


def load_flow(path: Path) -> Flow:
    """Read and validate a flow file; every problem becomes one BadInput naming the file and field."""
    if not path.is_file():
        raise BadInput(f"Flow file '{path}' does not exist.", "Give an existing flow with --flow / FLOW= (see flows/).")
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise BadInput(
            f"Flow file '{path}' is not valid TOML: {exc}.", "Fix the syntax (see flows/seed.toml)."
        ) from exc
    try:
        return Flow.model_validate(data)
    except BadInput as exc:  # raised by a validator (unknown part): keep its own hint
        raise BadInput(f"In flow '{path}': {exc.message}", exc.hint) from exc
    except ValidationError as exc:
        raise BadInput(
            f"Flow file '{path}' is not valid: {describe_validation_error(exc)}.",
            "Fix the field named; flows/seed.toml documents every field.",
        ) from exc


def describe_validation_error(exc: ValidationError) -> str:
    problems = []
    for err in exc.errors():
        where = ".".join(str(p) for p in err["loc"]) or "(top level)"
        if err["type"] == "extra_forbidden":
            problems.append(f"unknown key '{where}'")
        elif err["type"] == "missing":
            problems.append(f"missing key '{where}'")
        else:
            problems.append(f"'{where}': {err['msg'].removeprefix('Value error, ')}")
    return "; ".join(problems)
