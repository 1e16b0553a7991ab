"""The Vivado steps on the host: csynth, cosim, export, vsynth.

Each runs the host's Vivado HLS (mounted read-only at its own path) in the image on a copy of the
project its upstream step made: convert -> csynth -> cosim / export / vsynth. Upstream steps run
first when their result is missing or stale (the cache makes an up-to-date one free), so a part
given on the command line regenerates the project.
"""

from __future__ import annotations

import json
import shlex
import shutil
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from rich.console import Console

from hlsbox import engine, image, plans, report, runner, vivado, vivado_log
from hlsbox.container import Limits, Mount, StepContainer, container_options
from hlsbox.errors import BadInput, HlsboxError
from hlsbox.flow import Flow
from hlsbox.parts import resolve_device

VIVADO_STEPS = ("csynth", "cosim", "export", "vsynth")
UPSTREAM = {"csynth": "convert", "cosim": "csynth", "export": "csynth", "vsynth": "csynth"}
BUILD_OPTIONS = ("reset", "csim", "synth", "cosim", "validation", "export", "vsynth", "fifo_opt")
# What each step switches on in hls4ml's build_prj.tcl; later steps reuse the synthesised solution.
STEP_OPTIONS = {"csynth": {"synth"}, "cosim": {"cosim"}, "export": {"export"}, "vsynth": {"vsynth"}}


def build_options(step: str, csim: bool = False) -> dict[str, int]:
    on = STEP_OPTIONS[step] | ({"csim"} if csim else set())
    return {name: int(name in on) for name in BUILD_OPTIONS}


def tool_command(install: vivado.Install, options: dict[str, int]) -> list[str]:
    """The command run in the project dir: settings64.sh sourced by bash (it uses `source`), then the
    tool; vivado_hls / vitis_hls take the options as arguments, vitis-run reads build_opt.tcl."""
    if install.tool == "vitis-run":
        tool = [str(install.tool_path), "--tcl", "build_prj.tcl", "--mode", "hls"]
    else:
        tool = [str(install.tool_path), "-f", "build_prj.tcl", " ".join(f"{k}={v}" for k, v in options.items())]
    return sourced(install, tool)


def sourced(install: vivado.Install, command: list[str]) -> list[str]:
    return ["bash", "-c", f'source {shlex.quote(str(install.settings))} >/dev/null 2>&1; exec "$@"', "hlsbox", *command]


def probe(install: vivado.Install) -> vivado.Install:
    """`<tool> -version` in the image with the install mounted: proves the mount, the runtime libraries
    and the version before an hours-long step starts."""
    client = engine.connect()
    img = image.find_image(client)
    lines: list[str] = []
    options = container_options(
        img.id,
        sourced(install, [str(install.tool_path), "-version"]),
        [Mount(install.root, install.root)],
        Limits(memory=2 << 30, cpus=1, pids=512, timeout=120),
        labels={"org.hlsbox.step": "vivado-version"},
    )
    with StepContainer(client, options) as box:
        outcome = box.follow(lines.append, 120)
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
        missing = json.loads(result_file.read_text()).get("missing_report")
        if missing:
            known.append(f"The step's report is missing: {missing}.")
    return "\n".join(known) or None


def _copy_project(source: Path) -> Callable[[Path], dict]:
    def prepare(run_dir: Path) -> dict:
        shutil.copytree(source / "hls4ml_prj", run_dir / "hls4ml_prj", symlinks=True)
        return {"project_dir": str(run_dir / "hls4ml_prj")}

    return prepare


def run_vivado_step(
    console: Console,
    step: str,
    flow: Flow,
    flow_file: Path,
    workspace: runner.Workspace,
    options: runner.RunOptions,
    vivado_path: str | None,
    network: bool = False,
    strict: bool = False,
    csim: bool = False,
) -> tuple[dict, Path]:
    install = probe(vivado.discover(vivado_path, flow.backend))
    vivado.check_backend(install, flow.backend)
    licence = vivado.licence_environment()
    if vivado.licence_needs_network(licence) and not network:
        console.print(
            "[yellow]The licence setting names a server (port@host), but the container has no network; "
            "give --network if the tool needs it.[/]"
        )
    console.print(f"Using {install}")
    return _run_chain(console, step, flow, flow_file, workspace, options, install, licence, network, strict, csim)


def _run_chain(
    console: Console,
    step: str,
    flow: Flow,
    flow_file: Path,
    workspace: runner.Workspace,
    options: runner.RunOptions,
    install: vivado.Install,
    licence: dict[str, str],
    network: bool,
    strict: bool,
    csim: bool,
) -> tuple[dict, Path]:
    """`step` after the steps before it (run when missing or stale), with one probed install for all."""
    upstream = UPSTREAM[step]
    upstream_options = replace(options, force=False)  # --force redoes this step, not the ones before it
    if upstream == "convert":
        plan = plans.plan_flow(console, flow, flow_file, workspace, upstream_options, show=False)
        if plan.verdict == plans.NO_FIT:
            worst = max(plan.utilisation, key=plan.utilisation.get)
            message = (
                f"The plan says this design does not fit {flow.part} ({worst} at "
                f"{plan.utilisation[worst]:.0%}); synthesis may run for hours to confirm it."
            )
            if strict:
                raise HlsboxError(message + " (--strict)", "See `hlsbox plan` for the ways out.")
            console.print(f"[bold yellow]Warning:[/] {message} `hlsbox plan` shows ways out; --strict refuses.")
        upstream_result, upstream_dir = runner.run_step(
            console, "convert", flow, flow_file, workspace, upstream_options
        )
        layers = upstream_result["layers"]
    else:
        upstream_result, upstream_dir = _run_chain(
            console, upstream, flow, flow_file, workspace, upstream_options, install, licence, network, strict, csim
        )
        layers = upstream_result.get("layers", [])
    upstream_key = json.loads((upstream_dir / "manifest.json").read_text())["cache_key"]
    build = build_options(step, csim)
    extras = runner.StepExtras(
        spec={"tool": install.tool, "options": build, "command": tool_command(install, build)},
        mounts=[Mount(install.root, install.root)],
        env=licence,
        prepare=_copy_project(upstream_dir),
        cache_inputs={"upstream": upstream_key, "vivado": str(install), "csim": csim},
        log_reader=vivado_log.LogState,
        diagnose=_diagnose,
    )
    result, run_dir = runner.run_step(
        console, step, flow, flow_file, workspace, runner.with_network(options, network), extras=extras
    )
    result["layers"] = layers
    full = report.build_report({**result, "part": flow.part}, run_dir / "hls4ml_prj", layers, resolve_device(flow.part))
    (run_dir / "report.json").write_text(json.dumps(full, indent=2) + "\n")
    result["full_report"] = full
    return result, run_dir


def show(console: Console, step: str, result: dict, run_dir: Path) -> None:
    report.show(console, result["full_report"], f"{step}: {run_dir}")
    if result.get("chart"):
        console.print(f"[green]Report:[/] {run_dir}/report.json   chart: {run_dir}/resources.png")
    else:
        console.print(f"[green]Report:[/] {run_dir}/report.json")
