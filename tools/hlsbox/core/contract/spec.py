"""spec.json: the one input of a step (`python -m hlsbox.steps <step> --spec spec.json`), with each step's own
parts (`CsimCache`, `FitRun`, `VivadoRun`); the sweep's plot has its own (`ParetoPlot`)."""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from pathlib import Path

from hlsbox.core.contract.flow import ImageFlow
from hlsbox.core.jsonrecord import JsonRecord


@dataclass(frozen=True)
class CsimCache(JsonRecord):
    """csim and fit: the workspace's compiler cache, mounted."""

    ccache_dir: str


@dataclass(frozen=True)
class FitParams(JsonRecord):
    agreement: float = 0.99  # top-1 agreement with the frontend to keep, on calibration and held-out inputs
    budget: float = 0.8  # share of every resource of the part the design may use
    io_type: str = "auto"  # auto: io_parallel, io_stream only where io_parallel cannot fit
    max_probes: int = 40  # C simulations the search may use, cached ones included (a re-run replays them)
    calibration_samples: int = 200


@dataclass(frozen=True)
class FitRun(JsonRecord):
    params: FitParams
    cache_dir: str  # the probe cache, mounted


@dataclass(frozen=True)
class VivadoRun(JsonRecord):
    """A Vivado step: the tool, what build_prj.tcl switches on, the command line, the faked date, the log lines
    that stop the tool at once, and the copy of the upstream project."""

    tool: str
    options: dict[str, int]
    command: list[str]
    fake_date: str | None = None
    stop_on: tuple[str, ...] = ()
    project_dir: str | None = None


@dataclass(frozen=True)
class ParetoPoint(JsonRecord):
    """One variant of a sweep: its latency against the largest share of its part any resource takes."""

    variant: str
    latency: float
    resources: float
    estimated: bool  # from the plan (no csynth report)
    pareto: bool = False  # on the front


@dataclass(frozen=True)
class ParetoPlot(JsonRecord):
    """The spec of the sweep's plot (steps/pareto.py), the one step that runs on no flow."""

    run_dir: str
    title: str
    flow_name: str
    points: tuple[ParetoPoint, ...]
    module: str = "pareto"


@dataclass(frozen=True)
class StepInputs:
    """A step's own parts of its spec.json, beside what every step is given (the host's hooks fill them in)."""

    csim_cache: CsimCache | None = None
    fit: FitRun | None = None
    vivado: VivadoRun | None = None


@dataclass(frozen=True)
class StepSpec(JsonRecord):
    """spec.json: everything a step in the image is given."""

    step: str
    module: str
    flow: ImageFlow
    model_path: str
    flow_file: str
    run_dir: str
    workspace: str
    weights_path: str | None = None
    csim_cache: CsimCache | None = None  # the step's own inputs (StepInputs), from here on
    fit: FitRun | None = None
    vivado: VivadoRun | None = None

    @property
    def run_path(self) -> Path:
        return Path(self.run_dir)

    def write(self, path: Path) -> None:
        path.write_text(json.dumps(self.to_dict(), indent=2))

    @classmethod
    def read(cls, path: Path) -> StepSpec:
        return cls.from_dict(json.loads(path.read_text()))

    def replace(self, **changes: object) -> StepSpec:
        return dataclasses.replace(self, **changes)
