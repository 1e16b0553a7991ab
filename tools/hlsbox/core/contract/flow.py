"""A flow as the image sees it: validated on the host (config.flow), every default filled in."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

from hlsbox.core.jsonrecord import JsonRecord


@dataclass(frozen=True)
class LayerTable(JsonRecord):
    """One `[layers.<name>]` or `[layer_types.<class>]` table, as the flow writes it (None: not set)."""

    precision: dict[str, str] = field(default_factory=dict)
    reuse_factor: int | None = None
    strategy: str | None = None
    parallelization_factor: int | None = None
    conv_implementation: str | None = None
    table_size: int | None = None
    table_range_power2: int | None = None
    implementation: str | None = None
    trace: bool | None = None
    skip: bool | None = None
    depthwise_reuse_factor: int | None = None
    pointwise_reuse_factor: int | None = None
    recurrent_reuse_factor: int | None = None
    forward_reuse_factor: int | None = None
    backward_reuse_factor: int | None = None
    forward_recurrent_reuse_factor: int | None = None
    backward_recurrent_reuse_factor: int | None = None
    static: bool | None = None
    direction: str | None = None
    algorithm: str | None = None
    time_step_loop_parallelism: str | None = None

    def set_values(self) -> dict:
        """What the table sets (the keys the flow wrote), snake-case as in the flow."""
        return {k: v for k, v in dataclasses.asdict(self).items() if v is not None and v != {}}

    def to_dict(self) -> dict:
        """As a flow file writes it: the keys set (from_dict fills the rest back in)."""
        return self.set_values()


@dataclass(frozen=True)
class CsimInputs(JsonRecord):
    """The flow's [csim] table: which inputs C simulation, trace and fit use."""

    dataset: str = "random"
    samples: int = 100
    seed: int = 0
    cifar10_path: str | None = None
    images: str | None = None
    scale: float | None = None
    resize: str = "none"  # how images become the model's input size (core.imagefolder)
    trace: bool = True
    trace_samples: int = 20
    exact_build: bool = False


@dataclass(frozen=True)
class RtlInputs(JsonRecord):
    """The flow's [rtl] table, for backend = "da4ml" (rtl, synth, rtlsim)."""

    latency_cutoff: float = 5.0  # da4ml's pipelining: a register stage every this many adder delays; <= 0: none
    max_multiplications: int = 20_000  # the largest network rtl unrolls (da4ml unrolls every multiplication)
    samples: int = 10_000  # rtlsim's inputs: the flow's [csim] data first, then uniform random ones


@dataclass(frozen=True)
class ImageFlow(JsonRecord):
    """A flow as the image sees it: validated on the host, every default filled in."""

    name: str
    model: str
    description: str = ""
    toolchain: str | None = None
    weights: str | None = None
    backend: str = "Vivado"
    part: str = "xc7z010clg400-1"
    clock_period: float = 5.0
    io_type: str = "io_parallel"
    granularity: str = "name"
    precision: dict[str, str] = field(default_factory=dict)
    reuse_factor: int = 1
    strategy: str = "Latency"
    fuse_batchnorm: bool = True
    fifo_depth: str = "default"
    project_name: str = "myproject"
    layer_types: dict[str, LayerTable] = field(default_factory=dict)
    layers: dict[str, LayerTable] = field(default_factory=dict)
    csim: CsimInputs = field(default_factory=CsimInputs)
    rtl: RtlInputs = field(default_factory=RtlInputs)
    sweep: dict[str, list] = field(default_factory=dict)
    hang_after: str | None = None

    def replace(self, **changes: object) -> ImageFlow:
        return dataclasses.replace(self, **changes)

    def file_form(self) -> dict:
        """The flow as a file says it (what the host validates and writes): the values set, and [csim] without
        the build switch only hlsbox's own steps set."""
        data = self.to_dict()
        data["csim"] = {k: v for k, v in data["csim"].items() if k != "exact_build" and v is not None}
        return {k: v for k, v in data.items() if v is not None and v != {}}
