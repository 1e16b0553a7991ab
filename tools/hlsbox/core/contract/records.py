"""What a run leaves beside its result and how a step talks to the host: manifest.json (the host's record of the
run), error.json (the step's refusal or explained failure), and the mark that starts a phase in its log."""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar, Literal

from hlsbox.core.jsonrecord import JsonRecord, build_fields

PHASE_MARK = "@@hlsbox phase "


@dataclass(frozen=True)
class ErrorReport(JsonRecord):
    """error.json: a step's refusal (bad input, exit 2) or explained failure (exit 1), with its hint."""

    kind: str
    message: str
    hint: str

    @classmethod
    def read(cls, path: Path) -> ErrorReport | None:
        try:
            return cls.from_dict(json.loads(path.read_text()))
        except (OSError, ValueError, TypeError):
            return None


@dataclass(frozen=True)
class RunEnd(JsonRecord):
    """How a run that went to its end finished: the engine's outcome and what the live view saw."""

    versions: dict[str, str]  # the libraries the step ran with (its result's)
    seconds: float
    phase_seconds: dict[str, float]
    tool_phase_seconds: dict[str, float]  # as the tool itself reported them (Vivado's "COMPLETED IN")
    warnings: int
    errors: tuple[str, ...]  # the log's last 20 error lines
    peak_memory: int
    exit_code: int
    timed_out: bool
    stalled: float
    hung: float
    last_phase: str
    oom_killed: bool


@dataclass(frozen=True)
class RunManifest(JsonRecord):
    """manifest.json: what ran, on what, with which limits, and how it ended (status ok / failed / interrupted).
    In JSON one flat record: an interrupted run has its `seconds`, one the engine lost its `error`, one that went to
    its end the fields of its `end`; then what the step itself wants on record (`record`, e.g. the faketime date)."""

    hlsbox: str
    engine: str
    step: str
    cache_key: str
    flow: dict  # the flow as the host validated it
    flow_file: str
    image: str
    image_id: str
    inputs: dict  # model_sha256, flow_sha256 and the step's own cache inputs
    command: tuple[str, ...]
    limits: dict  # the container's limits (runtime.engines.Limits)
    started: float
    status: Literal["ok", "failed", "interrupted"]
    seconds: float | None = None  # an interrupted run's
    error: str | None = None  # the engine went away mid-run
    end: RunEnd | None = None
    record: dict[str, str] = field(default_factory=dict)

    OMIT_NONE: ClassVar[bool] = True

    def to_dict(self) -> dict:
        data = super().to_dict()
        end, record = data.pop("end", {}), data.pop("record")
        return {**data, **end, **record}

    @classmethod
    def from_dict(cls, data: dict) -> RunManifest:
        ended = {f.name for f in dataclasses.fields(RunEnd)} if "exit_code" in data else set()
        own = {f.name for f in dataclasses.fields(cls)} - {"end", "record"} - ended
        return build_fields(
            cls,
            {
                **{k: v for k, v in data.items() if k in own},
                "end": {k: v for k, v in data.items() if k in ended} or None,
                "record": {k: v for k, v in data.items() if k not in own and k not in ended},
            },
        )

    def write(self, run_dir: Path) -> None:
        (run_dir / "manifest.json").write_text(json.dumps(self.to_dict(), indent=2))

    @classmethod
    def read(cls, run_dir: Path) -> RunManifest:
        return cls.from_dict(json.loads((run_dir / "manifest.json").read_text()))
