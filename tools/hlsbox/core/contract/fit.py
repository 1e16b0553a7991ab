"""The `fit` step's result (result.json and fit.json) and what a stopped search keeps (best.json)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar

from hlsbox.core.contract.design import FitBound, FitDesign
from hlsbox.core.contract.flow import ImageFlow, LayerTable
from hlsbox.core.contract.results import Agreement
from hlsbox.core.jsonrecord import JsonRecord


@dataclass(frozen=True)
class FitTarget(JsonRecord):
    """What fit was asked for: top-1 agreement to keep, share of the part to use, on which part."""

    agreement: float
    budget: float
    part: str


@dataclass(frozen=True)
class FitCalibration(JsonRecord):
    """The chosen types on the calibration inputs (fewer than asked for when the data have fewer)."""

    samples: int
    agreement: float
    common_fractional_bits: int | None  # the search's common width; None: nothing searched (a graph's own types)


@dataclass(frozen=True)
class FitLayer(JsonRecord):
    """One layer of the chosen design: its types, ReuseFactor, estimated cost and error against the frontend.
    In JSON `layer_class` is "class"."""

    layer: str
    layer_class: str
    result: str  # its result type, or "auto (exact)"
    weight: str | None
    reuse_factor: int | None
    dsp: int
    bram18: int
    lut: int
    max_abs_diff: float | None  # None: not traced
    relative_diff: float | None

    JSON_NAMES: ClassVar[dict[str, str]] = {"layer_class": "class"}


@dataclass(frozen=True)
class FitProbe(JsonRecord):
    """One C simulation of the search, with the search's verdict on it."""

    agreement: float
    samples: int
    passed: bool
    accepted: bool
    verdict: str  # "accepted", or "rejected: " and why
    mean_abs_diff: float
    seconds: float
    phases: dict[str, float] = field(default_factory=dict)
    cached: bool = False


@dataclass(frozen=True)
class FitResult(JsonRecord):
    """The `fit` step (result.json and fit.json): the new flow, the chosen design, how it was found and checked."""

    step: str
    target: FitTarget
    flow: ImageFlow  # the fitted flow; in JSON as its file says it (ImageFlow.file_form)
    reference: str  # what the design is judged against: Keras, Keras 3, qonnx execution
    calibration: FitCalibration
    held_out: Agreement  # the chosen design on inputs the search never saw
    design: FitDesign
    tried: tuple[FitDesign, ...]
    lower_bound: FitBound
    layers: tuple[FitLayer, ...]
    probes: tuple[FitProbe, ...]
    stopped_early: bool  # the probe budget ran out before every layer was narrowed
    meets_target: bool
    seconds: float
    probes_run: int
    probes_cached: int
    versions: dict[str, str] = field(default_factory=dict)
    written: str | None = None  # the flow file the host wrote from it

    def to_dict(self) -> dict:
        data = super().to_dict()
        data["flow"] = self.flow.file_form()
        data["held_out"] = {k: v for k, v in data["held_out"].items() if v is not None}
        return {k: v for k, v in data.items() if k != "written" or v is not None}


@dataclass(frozen=True)
class BestDesign(JsonRecord):
    """best.json: the best types fit has found so far, written at every accepted probe (what a stop keeps)."""

    layers: dict[str, LayerTable]
    agreement: float

    @classmethod
    def read(cls, path: Path) -> BestDesign | None:
        try:
            return cls.from_dict(json.loads(path.read_text()))
        except (OSError, ValueError, TypeError, KeyError):
            return None
