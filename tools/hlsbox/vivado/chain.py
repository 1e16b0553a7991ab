"""The chain of Vivado steps on the host: csynth, cosim, export, vsynth (commands/vivado.py runs it, after the plan).

Each runs the host's Vivado HLS (mounted read-only at its own path) in the image on a copy of the project
its upstream step made (the step table says which: convert -> csynth -> cosim / export / vsynth). Upstream
steps run first when their result is missing or stale (the cache makes an up-to-date one free), so a part
given on the command line regenerates the project. The install is probed once per command.
"""

from __future__ import annotations

import json
import shlex
import shutil
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

from rich.console import Console

from hlsbox.core.contract import ConvertResult, LayerRow, StepInputs, StepSpec, VivadoResult, VivadoRun
from hlsbox.core.errors import BadInput
from hlsbox.core.parts import resolve_device
from hlsbox.runtime import engines, image, runner, step_table
from hlsbox.runtime.engines import ContainerSpec, Limits, Mount, Watch
from hlsbox.runtime.options import VivadoParams
from hlsbox.runtime.request import RunRequest, StepExtras
from hlsbox.vivado import install as vivado
from hlsbox.vivado import log as vivado_log
from hlsbox.vivado import reports as report

BUILD_OPTIONS = ("reset", "csim", "synth", "cosim", "validation", "export", "vsynth", "fifo_opt")


def build_options(step: str, csim: bool = False) -> dict[str, int]:
    on = set(step_table.step(step).build_options) | ({"csim"} if csim else set())
    return {name: int(name in on) for name in BUILD_OPTIONS}


def tool_command(install: vivado.Install, options: dict[str, int], fake_date: str | None = None) -> list[str]:
    """The command run in the project dir: settings64.sh sourced by bash (it uses `source`), then the
    tool; vivado_hls / vitis_hls take the options as arguments, vitis-run reads build_opt.tcl. With
    `fake_date`, the tool and its children see that date (libfaketime), the Y2K22 workaround."""
    if install.tool == "vitis-run":
        tool = [str(install.tool_path), "--tcl", "build_prj.tcl", "--mode", "hls"]
    else:
        tool = [str(install.tool_path), "-f", "build_prj.tcl", " ".join(f"{k}={v}" for k, v in options.items())]
    return (["faketime", fake_date] if fake_date else []) + sourced(install, tool)


def sourced(install: vivado.Install, command: list[str]) -> list[str]:
    return ["bash", "-c", f'source {shlex.quote(str(install.settings))} >/dev/null 2>&1; exec "$@"', "hlsbox", *command]


def probe(install: vivado.Install) -> vivado.Install:
    """`<tool> -version` in the image with the install mounted: proves the mount, the runtime libraries
    and the version before an hours-long step starts."""
    engine = engines.select()
    img = image.find_image(engine)
    lines: list[str] = []
    spec = ContainerSpec(
        img.id,
        tuple(sourced(install, [str(install.tool_path), "-version"])),
        Limits(memory=2 << 30, cpus=1, pids=512, timeout=120),
        mounts=(Mount(install.root, install.root),),
        labels={"org.hlsbox.step": "vivado-version"},
    )
    outcome = engine.run(spec, Watch(on_line=lines.append))
    version = vivado.parse_version_output("\n".join(lines))
    if outcome.exit_code != 0 or version is None:
        tail = " / ".join(lines[-3:]) or "no output"
        raise BadInput(
            f"`{install.tool} -version` from {install.root} did not print a version in the image "
            f"(exit {outcome.exit_code}: {tail}).",
            "Check the install (bin/, settings64.sh); it runs on Debian bookworm with the image's libraries.",
        )
    return replace(install, version=version)


def _diagnose(run_dir: Path) -> str | None:
    log = run_dir / "step.log"
    lines = log.read_text(errors="replace").splitlines() if log.is_file() else []
    known = [f"{f.name}: {f.explanation}" for f in vivado_log.diagnose(lines)]
    result_file = run_dir / "result.json"
    if result_file.is_file():
        missing = VivadoResult.from_dict(json.loads(result_file.read_text())).missing_report
        if missing:
            known.append(f"The step's report is missing: {missing}.")
    return "\n".join(known) or None


def _copy_project(source: Path) -> Callable[[StepSpec], StepSpec]:
    def prepare(spec: StepSpec) -> StepSpec:
        project = spec.run_path / "hls4ml_prj"
        shutil.copytree(source / "hls4ml_prj", project, symlinks=True)
        return spec.replace(vivado=replace(spec.vivado, project_dir=str(project)))

    return prepare


@dataclass(frozen=True)
class Tool:
    """The probed install and what every step of one command shares."""

    install: vivado.Install
    licence: dict[str, str]
    expected: str = ""  # what the plan expected of the design (shown when the tool goes silent)


@dataclass(frozen=True)
class VivadoOutcome:
    """A Vivado step on the host: its result, the layers of the project it built on, and its report.json."""

    result: VivadoResult
    layers: tuple[LayerRow, ...]  # the upstream convert's
    report: report.SynthReport


def run_chain(console: Console, request: RunRequest, tool: Tool) -> tuple[VivadoOutcome, Path]:
    """The request's step after the steps before it (run when missing or stale), with one probed install."""
    step = step_table.step(request.step)
    upstream = request.replace(step=step.upstream, force=False)  # --force redoes this step, not the ones before
    layers, upstream_dir = _upstream(console, upstream, tool)
    upstream_key = runner.cache_key_of(upstream_dir)
    params = VivadoParams.of(request.options)
    options = build_options(request.step, params.with_csim)
    fake_date = vivado.Y2K22_FAKE_DATE if "export" in step.build_options and _needs_faketime(tool, params) else None
    extras = StepExtras(
        spec=StepInputs(
            vivado=VivadoRun(
                tool=tool.install.tool,
                options=options,
                command=tool_command(tool.install, options, fake_date),
                fake_date=fake_date,
                stop_on=tuple(stop.pattern for stop in vivado_log.STOP_ON),
            )
        ),
        mounts=(Mount(tool.install.root, tool.install.root),),
        env=tool.licence,
        prepare=_copy_project(upstream_dir),
        cache_inputs={"upstream": upstream_key, "vivado": str(tool.install), "csim": params.with_csim},
        log_reader=vivado_log.LogState,
        diagnose=_diagnose,
        stall_note=tool.expected,
    )
    limits = replace(request.limits, network=params.network)
    result, run_dir = runner.run_step(console, request.replace(extras=extras, limits=limits), VivadoResult)
    device = resolve_device(request.flow.part)
    full = report.build_report(result, request.flow.part, run_dir / "hls4ml_prj", layers, device)
    full.write(run_dir / "report.json")
    return VivadoOutcome(result, layers, full), run_dir


def _upstream(console: Console, upstream: RunRequest, tool: Tool) -> tuple[tuple[LayerRow, ...], Path]:
    """The upstream step run (convert, or a Vivado step and the ones before it): its project's layers and run dir."""
    if upstream.step == "convert":
        converted, run_dir = runner.run_step(console, upstream.replace(options=None), ConvertResult)
        return converted.layers, run_dir
    outcome, run_dir = run_chain(console, upstream, tool)
    return outcome.layers, run_dir


def _needs_faketime(tool: Tool, params: VivadoParams) -> bool:
    return tool.install.y2k22_affected and params.y2k22_workaround
