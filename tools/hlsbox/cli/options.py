"""The options every step command shares, declared once: a command written as `def f(run: RunOptions, ...)` gets
them all (`--flow`, `--part`, limits, `--hang-after`, `--build-dir`, `--force`, `--verbose`) beside its own."""

from __future__ import annotations

import functools
import inspect
import os
import typing
from collections.abc import Callable
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Annotated

import typer

from hlsbox.config.flow import Flow
from hlsbox.config.formats import load_flow
from hlsbox.core.errors import BadInput
from hlsbox.core.units import human_size, parse_duration, parse_duration_or_off, parse_size
from hlsbox.runtime import step_table, toolchains
from hlsbox.runtime.engines import MIN_MEMORY, Limits
from hlsbox.runtime.request import RunRequest, Workspace

DEFAULT_FLOW = Path("flows/digits.toml")
FlowOpt = Annotated[
    Path, typer.Option("--flow", "-f", help="Flow file: TOML (see flows/) or an hls4ml YAML config.", envvar="FLOW")
]
PartOpt = Annotated[
    str | None, typer.Option("--part", "-p", help="FPGA part; overrides the flow's (e.g. xc7z010clg400-1).")
]
TimeoutOpt = Annotated[
    str | None, typer.Option(help="Wall-clock limit: 90s, 30m, 2h. Past it the container is killed, exit 124.")
]
MemOpt = Annotated[
    str | None,
    typer.Option("--mem", help="Memory limit (swap included): 512m, 8g. Past it: OOM kill, exit 137."),
]
CpusOpt = Annotated[float, typer.Option(help="CPU limit (cores).")]
PidsOpt = Annotated[int | None, typer.Option(help="Process limit inside the container.")]
BuildOpt = Annotated[Path, typer.Option("--build-dir", help="Where run directories go.")]
ToolchainOpt = Annotated[str, typer.Option("--toolchain", help=f"The toolchain image: {', '.join(toolchains.NAMES)}.")]
VerboseOpt = Annotated[bool, typer.Option("--verbose", "-v", help="Print the step's whole output.")]
ForceOpt = Annotated[bool, typer.Option("--force", help="Run even if the last good run had the same inputs.")]
HangOpt = Annotated[
    str | None,
    typer.Option(
        "--hang-after",
        help="Stop the step as hung (exit 123, stacks kept) after this long with no output and no CPU use "
        "(default: the flow's hang_after, else 5m; 'off').",
        envvar="HLSBOX_HANG_AFTER",
    ),
]
VivadoOpt = Annotated[
    str | None,
    typer.Option(
        "--vivado", help="Vivado / Vitis HLS install (version dir, e.g. /opt/Xilinx/Vivado/2019.2).", envvar="VIVADO"
    ),
]


@dataclass(frozen=True)
class RunOptions:
    """What every step command takes; `request` makes the step's RunRequest from it."""

    flow: FlowOpt = DEFAULT_FLOW
    part: PartOpt = None
    timeout: TimeoutOpt = None
    mem: MemOpt = None
    cpus: CpusOpt = 2.0
    pids: PidsOpt = None
    hang_after: HangOpt = None
    build_dir: BuildOpt = Path("build")
    force: ForceOpt = False
    verbose: VerboseOpt = False

    def loaded_flow(self) -> Flow:
        return load_flow(self.flow).with_part(self.part)

    def request(self, step: str, flow: Flow | None = None, **changes: object) -> RunRequest:
        """The step's request: the flow (loaded, with --part), its limits (the step's defaults where not given)."""
        limits = limits_of(step_table.step(step), self.timeout, self.mem, self.cpus, self.pids)
        request = RunRequest(
            step,
            flow or self.loaded_flow(),
            self.flow.resolve(),
            workspace_of(self.build_dir),
            limits,
            self.verbose,
            self.force,
            hang_after=hang_of(self.hang_after),
        )
        return request.replace(**changes)


RUN_FIELDS = [f.name for f in fields(RunOptions)]


def with_run_options(command: Callable[..., None]) -> Callable[..., None]:
    """`command(run: RunOptions, **own)` as a typer command taking the shared options and its own, one list."""
    hints = typing.get_type_hints(command, include_extras=True)
    shared_hints = typing.get_type_hints(RunOptions, include_extras=True)
    own = [p.replace(annotation=hints[p.name]) for p in inspect.signature(command).parameters.values()]
    own = [p for p in own if p.name != "run"]
    shared = [
        inspect.Parameter(f.name, inspect.Parameter.KEYWORD_ONLY, default=f.default, annotation=shared_hints[f.name])
        for f in fields(RunOptions)
    ]
    positional = [p for p in own if p.default is inspect.Parameter.empty]
    keyword = [p.replace(kind=inspect.Parameter.KEYWORD_ONLY) for p in own if p not in positional]

    @functools.wraps(command)
    def wrapper(*args: object, **kwargs: object) -> None:
        run = RunOptions(**{name: kwargs.pop(name) for name in RUN_FIELDS if name in kwargs})
        command(run, *args, **kwargs)

    parameters = [*positional, *shared, *keyword]
    wrapper.__signature__ = inspect.Signature(parameters)  # type: ignore[attr-defined]
    wrapper.__annotations__ = {p.name: p.annotation for p in parameters}
    del wrapper.__wrapped__  # typer reads the signature above, not the command's
    return wrapper


def limits_of(step: step_table.Step, timeout: str | None, mem: str | None, cpus: float, pids: int | None) -> Limits:
    memory = parse_size(mem or step.memory)
    pids = pids if pids is not None else step.pids
    if memory < MIN_MEMORY:
        raise BadInput(
            f"--mem {mem} is too little for any step (at least {human_size(MIN_MEMORY)}).",
            "Give --mem 512m or more; TensorFlow alone needs several hundred MB, g++ and Vivado GBs.",
        )
    if cpus <= 0 or pids < 16:
        raise BadInput(f"--cpus {cpus} / --pids {pids} are too small.", "Give --cpus > 0 and --pids >= 16.")
    if cpus > (os.cpu_count() or 1):
        raise BadInput(
            f"--cpus {cpus} is more than this machine's {os.cpu_count()} cores.",
            f"Give --cpus {os.cpu_count()} or less.",
        )
    return Limits(memory=memory, cpus=cpus, pids=pids, timeout=parse_duration(timeout or step.timeout))


def hang_of(text: str | None) -> float | None:
    """--hang-after as seconds (0.0: off), or None for the flow's / the default."""
    return parse_duration_or_off(text) if text is not None else None


def workspace_of(build_dir: Path) -> Workspace:
    root = Path.cwd().resolve()
    return Workspace(root=root, build=(root / build_dir).resolve())
