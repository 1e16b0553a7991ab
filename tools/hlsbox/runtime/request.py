"""A run request: everything one step run needs, in one frozen value (and as JSON, for sweeps)."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from hlsbox.config.flow import Flow
from hlsbox.config.formats import load_flow
from hlsbox.core.contract import JsonRecord, StepInputs, StepSpec
from hlsbox.runtime import step_table
from hlsbox.runtime.engines import Limits, Mount


@dataclass(frozen=True)
class Workspace:
    root: Path  # mounted read-only; flows' paths are relative to it
    build: Path  # where run dirs go

    def run_dir(self, flow: Flow, step: str) -> Path:
        return self.build / flow.name / flow.part / step


@dataclass(frozen=True)
class StepExtras:
    """What a step adds to the common run (the Vivado steps: the install, a project to start from)."""

    spec: StepInputs = field(default_factory=StepInputs)  # the step's own parts of its spec.json
    mounts: tuple[Mount, ...] = ()
    env: dict[str, str] = field(default_factory=dict)
    prepare: Callable[[StepSpec], StepSpec] | None = None  # fills the new run dir; the spec as it then is
    cache_inputs: dict = field(default_factory=dict)  # anything else the result depends on
    log_reader: Callable[[], object] | None = None  # makes a reader of the tool's log for the live view
    diagnose: Callable[[Path], str | None] | None = None  # explains a failure from the run dir (log, result)
    stall_note: str = ""  # said with the stall warning (the Vivado steps: what the plan expected of the design)


@dataclass(frozen=True)
class RunRequest:
    step: str
    flow: Flow
    flow_file: Path
    workspace: Workspace
    limits: Limits = field(default_factory=Limits)
    verbose: bool = False
    force: bool = False  # run even when the last good run had the same inputs
    stall_warn: float | None = 600.0  # seconds without output before a warning
    stall_kill: bool = False  # stop the step when it stalls
    hang_after: float | None = None  # seconds silent and idle before the step is hung; None: the flow's or 5 min
    run_name: str | None = None  # the run dir's name; default: the step's
    options: JsonRecord | None = None  # the step's own options (runtime/options.py); its step reads them
    extras: StepExtras = field(default_factory=StepExtras)

    @property
    def name(self) -> str:
        return self.run_name or self.step

    @property
    def final_dir(self) -> Path:
        return self.workspace.run_dir(self.flow, self.name)

    def replace(self, **changes: object) -> RunRequest:
        return dataclasses.replace(self, **changes)

    def to_json(self) -> str:
        """What a sweep's executor needs to run this request elsewhere (no callables: those are derived)."""
        return json.dumps(
            {
                "step": self.step,
                "flow_file": str(self.flow_file),
                "part": self.flow.part,
                "workspace": {"root": str(self.workspace.root), "build": str(self.workspace.build)},
                "limits": dataclasses.asdict(self.limits),
                "verbose": self.verbose,
                "force": self.force,
                "stall_warn": self.stall_warn,
                "stall_kill": self.stall_kill,
                "hang_after": self.hang_after,
                "options": self.options.to_dict() if self.options is not None else None,
            },
            indent=1,
        )

    @classmethod
    def from_json(cls, text: str) -> RunRequest:
        data = json.loads(text)
        flow_file = Path(data["flow_file"])
        options = data.get("options")
        return cls(
            step=data["step"],
            flow=load_flow(flow_file).with_part(data.get("part")),
            flow_file=flow_file,
            workspace=Workspace(Path(data["workspace"]["root"]), Path(data["workspace"]["build"])),
            limits=Limits(**data["limits"]),
            verbose=data["verbose"],
            force=data["force"],
            stall_warn=data["stall_warn"],
            stall_kill=data["stall_kill"],
            hang_after=data.get("hang_after"),
            options=step_table.step(data["step"]).read_options(options) if options is not None else None,
        )
