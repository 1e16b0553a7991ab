"""The types that cross between the host and the image: what a step is given and what it reports back, by concern.

- flow.py: `ImageFlow`, a flow as the image sees it (every default filled in), its `LayerTable`s and `CsimInputs`.
- spec.py: `StepSpec`, spec.json, the one input of a step, with each step's own parts (`StepInputs`);
  `ParetoPlot`, the sweep's.
- layers.py: `LayerRow`, one layer as hls4ml builds it, and what the steps say of a layer.
- results.py: each step's result.json (`ConvertResult`, `DescribeResult`, `CsimResult`, `TableResult`,
  `PlotResult`, `VivadoResult`; the da4ml path's `RtlResult`, `SynthResult`, `RtlsimResult`).
- design.py: one design's cost against its part (`DesignCost`, `Verdict`), as fit reports it (`FitDesign`).
- fit.py: `FitResult`, the fit step's result, and `BestDesign`, what a stopped search keeps.
- records.py: what a run leaves beside its result (`RunManifest`, manifest.json; `ErrorReport`, error.json) and
  `PHASE_MARK`, how a line of a step's log starts a phase.

Types only: frozen standard-library dataclasses with `to_dict` / `from_dict` (core.jsonrecord; the image has no
pydantic), no rules of hls4ml or the estimator (those are in core.hls4ml_names and core.estimator). The host
builds `ImageFlow` from its validated pydantic `Flow` (config.flow); tests/unit/test_contract.py checks that both
keep the same fields, so a new flow key cannot be lost on its way into the image. Every type is importable from
here.
"""

from hlsbox.core.contract.design import DesignCost, FitBound, FitDesign, Verdict
from hlsbox.core.contract.fit import BestDesign, FitCalibration, FitLayer, FitProbe, FitResult, FitTarget
from hlsbox.core.contract.flow import CsimInputs, ImageFlow, LayerTable, RtlInputs
from hlsbox.core.contract.layers import (
    BatchNormNote,
    GraphRepair,
    LayerRow,
    SetColumns,
    StreamFifo,
    TraceRow,
    WeightStats,
    layer_rows,
)
from hlsbox.core.contract.records import PHASE_MARK, ErrorReport, RunEnd, RunManifest
from hlsbox.core.contract.results import (
    RTL_LEVEL,
    Agreement,
    ConvertedModel,
    ConvertResult,
    CsimBuild,
    CsimResult,
    DescribeResult,
    ImageInputs,
    LibraryBuild,
    PlotResult,
    ResultTable,
    RtlResult,
    RtlsimResult,
    SplitPhases,
    SynthResult,
    TableResult,
    VivadoResult,
)
from hlsbox.core.contract.spec import (
    CsimCache,
    FitParams,
    FitRun,
    ParetoPlot,
    ParetoPoint,
    StepInputs,
    StepSpec,
    VivadoRun,
)
from hlsbox.core.jsonrecord import JsonRecord

__all__ = [
    "PHASE_MARK",
    "RTL_LEVEL",
    "Agreement",
    "BatchNormNote",
    "BestDesign",
    "ConvertResult",
    "ConvertedModel",
    "CsimBuild",
    "CsimCache",
    "CsimInputs",
    "CsimResult",
    "DescribeResult",
    "DesignCost",
    "ErrorReport",
    "FitBound",
    "FitCalibration",
    "FitDesign",
    "FitLayer",
    "FitParams",
    "FitProbe",
    "FitResult",
    "FitRun",
    "FitTarget",
    "GraphRepair",
    "ImageFlow",
    "ImageInputs",
    "JsonRecord",
    "LayerRow",
    "LayerTable",
    "LibraryBuild",
    "ParetoPlot",
    "ParetoPoint",
    "PlotResult",
    "ResultTable",
    "RtlInputs",
    "RtlResult",
    "RtlsimResult",
    "RunEnd",
    "RunManifest",
    "SetColumns",
    "SplitPhases",
    "StepInputs",
    "StepSpec",
    "StreamFifo",
    "SynthResult",
    "TableResult",
    "TraceRow",
    "Verdict",
    "VivadoResult",
    "VivadoRun",
    "WeightStats",
    "layer_rows",
]
