"""The `hlsbox` command line: thin wiring from options to library code.

Every HlsboxError becomes a short red message and its exit code; tracebacks only with --debug.
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import shutil
import signal
import sys
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, TypeVar

import typer
from docker import errors as docker_errors
from rich.console import Console
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from hlsbox import engine, image, plans, runner, synthesis, views
from hlsbox import sweep as sweeps
from hlsbox.container import Limits
from hlsbox.errors import EXIT_INTERRUPTED, BadInput, HlsboxError
from hlsbox.flow import inside_workspace, load_flow
from hlsbox.units import parse_duration, parse_size

# Tables need room: 120 columns where the output is not a terminal (CI logs, pipes), unless COLUMNS says.
console = Console(highlight=False, width=None if sys.stdout.isatty() or os.environ.get("COLUMNS") else 120)
err_console = Console(stderr=True, highlight=False)
app = typer.Typer(
    help="Keras -> hls4ml -> FPGA firmware in a pinned container, under memory and time limits.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode="rich",
)
image_app = typer.Typer(help="Build and inspect the pinned hlsbox image.", no_args_is_help=True)
app.add_typer(image_app, name="image")
_state = {"debug": False}
F = TypeVar("F", bound=Callable[..., None])


def guarded(command: F) -> F:
    """Turn the project's errors into a red message and their exit code, Ctrl-C into exit 130."""

    @functools.wraps(command)
    def wrapper(*args: object, **kwargs: object) -> None:
        try:
            command(*args, **kwargs)
        except HlsboxError as exc:
            if _state["debug"] or os.environ.get("HLSBOX_DEBUG"):
                raise
            err_console.print(f"[bold red]error:[/] {exc.message}")
            if exc.hint:
                err_console.print(f"[dim]{exc.hint}[/]")
            raise typer.Exit(exc.exit_code) from None
        except KeyboardInterrupt:
            err_console.print(
                "[bold red]interrupted[/]: the container is stopped and removed; nothing is left running."
            )
            raise typer.Exit(EXIT_INTERRUPTED) from None

    return wrapper  # type: ignore[return-value]


DEFAULT_FLOW = Path("flows/digits.toml")
FlowOpt = Annotated[Path, typer.Option("--flow", "-f", help="Flow file (TOML), see flows/.", envvar="FLOW")]
PartOpt = Annotated[
    str | None, typer.Option("--part", "-p", help="FPGA part; overrides the flow's (e.g. xc7z010clg400-1).")
]
TimeoutOpt = Annotated[
    str | None, typer.Option(help="Wall-clock limit: 90s, 30m, 2h. Past it the container is killed, exit 124.")
]
MemOpt = Annotated[
    str, typer.Option("--mem", help="Memory limit (swap included): 512m, 8g. Past it: OOM kill, exit 137.")
]
CpusOpt = Annotated[float, typer.Option(help="CPU limit (cores).")]
PidsOpt = Annotated[int, typer.Option(help="Process limit inside the container.")]
BuildOpt = Annotated[Path, typer.Option("--build-dir", help="Where run directories go.")]
VerboseOpt = Annotated[bool, typer.Option("--verbose", "-v", help="Print the step's whole output.")]
ForceOpt = Annotated[bool, typer.Option("--force", help="Run even if the last good run had the same inputs.")]
StrictOpt = Annotated[bool, typer.Option("--strict", help="Fail (exit 1) when the plan says the design does not fit.")]
StallOpt = Annotated[str, typer.Option("--stall", help="Warn after this long without output (e.g. 10m).")]
StopStallOpt = Annotated[bool, typer.Option("--stop-on-stall", help="Stop the step when it stalls (exit 124).")]
VivadoOpt = Annotated[
    str | None,
    typer.Option(
        "--vivado", help="Vivado / Vitis HLS install (version dir, e.g. /opt/Xilinx/Vivado/2019.2).", envvar="VIVADO"
    ),
]
NetworkOpt = Annotated[bool, typer.Option("--network", help="Give the container a network (licence server).")]
CsimFirstOpt = Annotated[bool, typer.Option("--with-csim", help="Let Vivado HLS run its C simulation first.")]


@app.callback()
def _root(debug: Annotated[bool, typer.Option(help="Show Python tracebacks on errors.")] = False) -> None:
    _state["debug"] = debug


def _limits(timeout: str | None, default_timeout: str, mem: str, cpus: float, pids: int) -> Limits:
    if cpus <= 0 or pids < 16:
        raise BadInput(f"--cpus {cpus} / --pids {pids} are too small.", "Give --cpus > 0 and --pids >= 16.")
    return Limits(memory=parse_size(mem), cpus=cpus, pids=pids, timeout=parse_duration(timeout or default_timeout))


def _run_options(
    timeout: str | None,
    default_timeout: str,
    mem: str,
    cpus: float = 2.0,
    pids: int = 4096,
    verbose: bool = False,
    force: bool = False,
    stall: str = "10m",
    stop_on_stall: bool = False,
) -> runner.RunOptions:
    return runner.RunOptions(
        _limits(timeout, default_timeout, mem, cpus, pids), verbose, force, parse_duration(stall), stop_on_stall
    )


def _workspace(build_dir: Path) -> runner.Workspace:
    root = Path.cwd().resolve()
    return runner.Workspace(root=root, build=(root / build_dir).resolve())


def _container_command(step: str, default_timeout: str, summary: str) -> None:
    """convert and csim: the same options, one step each."""
    show = views.show_convert if step == "convert" else views.show_csim

    def command(
        flow: FlowOpt = DEFAULT_FLOW,
        part: PartOpt = None,
        timeout: TimeoutOpt = None,
        mem: MemOpt = "8g",
        cpus: CpusOpt = 2.0,
        pids: PidsOpt = 4096,
        build_dir: BuildOpt = Path("build"),
        force: ForceOpt = False,
        verbose: VerboseOpt = False,
    ) -> None:
        options = _run_options(timeout, default_timeout, mem, cpus, pids, verbose, force)
        loaded = load_flow(flow).with_part(part)
        result, run_dir = runner.run_step(console, step, loaded, flow.resolve(), _workspace(build_dir), options)
        show(console, result, str(run_dir))

    command.__doc__ = f"{summary} Default limit {default_timeout}."
    app.command(step)(guarded(command))


_container_command("convert", "30m", "Keras model -> hls4ml project: load, configure, convert, plot (PNG), write.")
_container_command(
    "csim",
    "1h",
    "C simulation: hls4ml compile (g++) + predict, compared with Keras (top-1 "
    "agreement, max |diff|, accuracy when the data has labels), every layer traced. No Vivado needed.",
)


@app.command()
@guarded
def plan(
    flow: FlowOpt = DEFAULT_FLOW,
    part: PartOpt = None,
    strict: StrictOpt = False,
    mem: MemOpt = "8g",
    build_dir: BuildOpt = Path("build"),
    force: ForceOpt = False,
    verbose: VerboseOpt = False,
) -> None:
    """Fit verdict in seconds: per-layer multipliers, DSP, BRAM, LUT, FF and latency estimates against the
    part, the ReuseFactor hls4ml will really use, and ways out when the design does not fit."""
    options = _run_options(None, "10m", mem, verbose=verbose, force=force)
    result = plans.plan_flow(console, load_flow(flow).with_part(part), flow.resolve(), _workspace(build_dir), options)
    if strict and result.verdict == plans.NO_FIT:
        raise HlsboxError(f"The design does not fit {result.part} (--strict).", "Take one of the ways out above.")


def _vivado_step(
    step: str,
    flow: Path,
    part: str | None,
    vivado: str | None,
    options: runner.RunOptions,
    build_dir: Path,
    network: bool,
    strict: bool,
    with_csim: bool,
) -> None:
    loaded = load_flow(flow).with_part(part)
    result, run_dir = synthesis.run_vivado_step(
        console, step, loaded, flow.resolve(), _workspace(build_dir), options, vivado, network, strict, with_csim
    )
    synthesis.show(console, step, result, run_dir)


def _vivado_command(step: str, summary: str) -> None:
    def command(
        flow: FlowOpt = DEFAULT_FLOW,
        part: PartOpt = None,
        vivado: VivadoOpt = None,
        timeout: TimeoutOpt = None,
        mem: MemOpt = "16g",
        cpus: CpusOpt = 2.0,
        pids: PidsOpt = 16384,
        stall: StallOpt = "10m",
        stop_on_stall: StopStallOpt = False,
        network: NetworkOpt = False,
        strict: StrictOpt = False,
        with_csim: CsimFirstOpt = False,
        build_dir: BuildOpt = Path("build"),
        force: ForceOpt = False,
        verbose: VerboseOpt = False,
    ) -> None:
        options = _run_options(timeout, "48h", mem, cpus, pids, verbose, force, stall, stop_on_stall)
        _vivado_step(step, flow, part, vivado, options, build_dir, network, strict, with_csim)

    command.__doc__ = summary + (
        " Runs the host's Vivado HLS / Vitis HLS, mounted read-only, in the container; "
        "the steps before it run first when missing or stale. Default limit 48h."
    )
    app.command(step)(guarded(command))


_vivado_command("csynth", "C synthesis of the flow's project (the plan runs first and warns when it does not fit).")
_vivado_command("cosim", "C/RTL co-simulation of the synthesised design.")
_vivado_command("export", "Export the synthesised design as IP (Vivado IP catalog).")
_vivado_command("vsynth", "Vivado logic synthesis of the exported RTL (the real resource numbers).")


@app.command()
@guarded
def sweep(
    flow: FlowOpt = DEFAULT_FLOW,
    grid: Annotated[
        list[str] | None,
        typer.Option(
            "--grid",
            "-g",
            help="An axis: KEY=V1,V2 (reuse_factor, "
            "precision, strategy, io_type, part, clock_period); repeat for "
            "more. Default: the flow's [sweep] table.",
        ),
    ] = None,
    step: Annotated[str, typer.Option(help="The step every variant runs: plan, convert, csim or csynth.")] = "csim",
    executor: Annotated[str, typer.Option(help="local (this machine) or slurm (a job array).")] = "local",
    workers: Annotated[int, typer.Option(help="Local: variants at once (within cores and free memory).")] = 2,
    skip_infeasible: Annotated[bool, typer.Option(help="Drop variants the plan says cannot fit.")] = False,
    retries: Annotated[int, typer.Option(help="Slurm: resubmit failed tasks this many times.")] = 0,
    vivado: VivadoOpt = None,
    timeout: TimeoutOpt = None,
    mem: MemOpt = "4g",
    cpus: CpusOpt = 1.0,
    build_dir: BuildOpt = Path("build"),
    force: ForceOpt = False,
) -> None:
    """Run every variant of a flow over a grid, locally in parallel or on Slurm; each variant is a normal run
    (unchanged ones are skipped, so a sweep resumes), then one table, sweep.json, sweep.csv and pareto.png."""
    if step not in sweeps.STEPS or executor not in ("local", "slurm"):
        raise BadInput(
            f"--step {step} / --executor {executor} is not known.",
            f"Steps: {', '.join(sweeps.STEPS)}; executors: local, slurm.",
        )
    base = load_flow(flow)
    axes = grid or [f"{key}={','.join(map(str, values))}" for key, values in base.sweep.items()]
    variants = sweeps.expand(base, sweeps.parse_grid(axes))
    workspace = _workspace(build_dir)
    directory = workspace.build / "sweeps" / base.name
    runner.prepare_dir(directory)
    paths = sweeps.write_variants(variants, directory / "flows")
    memory = parse_size(mem)
    run_args = ["--mem", mem, "--build-dir", str(workspace.build), *(["--timeout", timeout] if timeout else [])]
    step_args = [*run_args, "--cpus", str(cpus), *(["--force"] if force else [])]
    step_args += ["--vivado", vivado] if vivado and step == "csynth" else []
    local = sweeps.local_workers(workers, memory)
    if note := sweeps.memory_note(local, workers, memory):
        console.print(f"[yellow]sweep: {note}[/]")
    console.print(f"sweep: {len(variants)} variants of {base.name}; the plan first (cheap, cached)")
    sweeps.run_local(console, "plan", paths, run_args, local, directory / "logs" / "plan")
    if skip_infeasible:
        keep = [
            p
            for p in paths
            if (plan := sweeps.read_json(workspace.build / p.stem / load_flow(p).part / "plan" / "plan.json"))
            and plan["verdict"] != "does not fit"
        ]
        console.print(f"sweep: --skip-infeasible drops {len(paths) - len(keep)} variant(s) that cannot fit")
        paths = keep
    codes: dict[str, int] = {}
    if step != "plan" and paths:
        if executor == "local":
            codes = sweeps.run_local(console, step, paths, step_args, local, directory / "logs" / step)
        else:
            job = sweeps.SlurmJob(
                step, workspace.root, step_args, memory, cpus, parse_duration(timeout or "48h"), directory / "slurm"
            )
            codes = sweeps.run_slurm(console, job, paths, retries)
    elif step == "plan":
        codes = {p.stem: 0 for p in paths}
    rows = sweeps.gather([v for v in variants if v.name in codes], step, workspace.build, codes)
    sweeps.write_results(rows, directory)
    points = sweeps.plot_points(rows)
    if points:
        spec = {
            "run_dir": str(directory),
            "points": points,
            "flow_name": base.name,
            "title": f"{base.name}: {len(points)} variants ({step})",
        }
        (directory / "pareto-spec.json").write_text(json.dumps(spec))
        outcome, _, _ = runner.execute(
            console,
            "pareto plot",
            ["python", "-m", "hlsbox.steps", "pareto", "--spec", str(directory / "pareto-spec.json")],
            directory,
            workspace,
            _run_options(None, "5m", "2g"),
            {"org.hlsbox.step": "pareto"},
        )
        if outcome.exit_code != 0:
            console.print("[yellow]sweep: the plot could not be drawn (see the log); the results are complete[/]")
    sweeps.show(console, rows)
    console.print(f"[green]Sweep:[/] {directory}/sweep.json, sweep.csv, pareto.png")
    failed = [name for name, code in codes.items() if code != 0]
    if failed:
        raise HlsboxError(
            f"{len(failed)} of {len(codes)} variants failed: {', '.join(failed)}.",
            f"Logs: {directory}/logs/ (local) or {directory}/slurm/logs/; run the sweep again to retry "
            "them (finished variants are skipped).",
        )


@app.command()
@guarded
def model(
    script: Annotated[Path, typer.Argument(help="A model script in models/, e.g. models/digits_cnn.py.")],
    out: Annotated[Path, typer.Option(help="Where the .keras file goes (inside the workspace).")],
    args: Annotated[list[str] | None, typer.Argument(help="Extra arguments for the script, after --.")] = None,
    timeout: TimeoutOpt = None,
    mem: MemOpt = "8g",
    cpus: CpusOpt = 2.0,
    build_dir: BuildOpt = Path("build"),
    verbose: VerboseOpt = False,
) -> None:
    """Make a model by running its script in the image (TF 2.15); the file appears only when complete."""
    workspace = _workspace(build_dir)
    script_path = inside_workspace(workspace.root, str(script), "script")
    out_path = inside_workspace(workspace.root, str(out), "output")
    if not script_path.is_file():
        raise BadInput(f"Model script '{script}' does not exist.", "Give a script from models/.")
    runner.prepare_dir(workspace.build)
    runner.prepare_dir(out_path.parent)
    tmp = workspace.build / f".model.tmp-{uuid.uuid4().hex[:8]}"
    tmp.mkdir()
    try:
        command = ["python", str(script_path), "--out", str(tmp / out_path.name), *(args or [])]
        options = _run_options(timeout, "1h", mem, cpus, verbose=verbose)
        outcome, display, _ = runner.execute(
            console, f"model {script.name}", command, tmp, workspace, options, {"org.hlsbox.step": "model"}
        )
        if outcome.exit_code != 0 or not (tmp / out_path.name).is_file():
            raise runner.explain_failure(f"model script {script}", outcome, display, tmp, options.limits)
        (tmp / out_path.name).replace(out_path)
        console.print(display.last_line)
        console.print(f"[green]Model written:[/] {out_path}")
    finally:
        # The script's log is kept beside the other runs; the scratch dir goes.
        log = workspace.build / "models" / f"{out_path.stem}.log"
        log.parent.mkdir(parents=True, exist_ok=True)
        if (tmp / "step.log").is_file():
            (tmp / "step.log").replace(log)
        shutil.rmtree(tmp, ignore_errors=True)


@image_app.command("base")
@guarded
def image_base(
    mirror: Annotated[str, typer.Option(help="Debian mirror for debootstrap.")] = image.DEBIAN_MIRROR,
    pull: Annotated[bool, typer.Option(help="Try the registry (debian:bookworm-slim) before debootstrap.")] = True,
) -> None:
    """Make the base image: pull debian:bookworm-slim, or debootstrap bookworm and import it (no registry)."""
    client = engine.connect()
    with console.status("base image") as status:
        ref = image.ensure_base(client, lambda line: status.update(f"base image: {line[:100]}"), pull, mirror)
    console.print(f"[green]Base image:[/] {ref}")


@image_app.command("build")
@guarded
def image_build(
    ca_bundle: Annotated[
        Path | None,
        typer.Option(
            help="Extra CA bundle (PEM) for pip, e.g. behind a TLS-intercepting "
            "proxy. Used only in the build stage, never in the image.",
            envvar="HLSBOX_CA_BUNDLE",
        ),
    ] = None,
    index_url: Annotated[
        str | None,
        typer.Option(help="Python package index URL (mirror, proxy, air-gapped index).", envvar="HLSBOX_INDEX_URL"),
    ] = None,
    pull: Annotated[
        bool, typer.Option(help="When no base image is present, try the registry before debootstrap.")
    ] = True,
) -> None:
    """Build the pinned image from docker/ (skipped when the image of these inputs exists)."""
    client = engine.connect()
    tag = image.image_tag()
    if any(tag in i.tags for i in client.images.list(name=image.REPO)):
        console.print(f"[green]Image up to date:[/] {tag}")
        return
    with console.status("base image") as status:
        base = image.ensure_base(client, lambda line: status.update(f"base image: {line[:100]}"), pull)
    log_path = Path("build") / "image-build.log"
    log_path.parent.mkdir(parents=True, exist_ok=True)
    console.print(f"Building {tag} from {base}" + (f" with CA bundle {ca_bundle}" if ca_bundle else ""))
    with (
        log_path.open("w") as log,
        Progress(
            SpinnerColumn(),
            TextColumn("{task.description}"),
            BarColumn(),
            TextColumn("{task.completed}/{task.total}"),
            TimeElapsedColumn(),
            console=console,
        ) as progress,
    ):
        task = progress.add_task("image build", total=None)

        def on_step(n: int, total: int, text: str) -> None:
            progress.update(task, completed=n - 1, total=total, description=text[:60])

        def on_line(line: str) -> None:
            log.write(line + "\n")

        image.build_image(client, image.BuildOptions(ca_bundle, index_url, base), on_step, on_line)
        progress.update(task, completed=progress.tasks[0].total or 1)
    size = client.images.get(tag).attrs["Size"]
    console.print(f"[green]Built[/] {tag} ({size / 1e9:.2f} GB); log: {log_path}")


@image_app.command("tag")
@guarded
def image_tag_cmd() -> None:
    """Print the tag the current docker/ inputs build to."""
    print(image.image_tag())


@app.command()
@guarded
def doctor() -> None:
    """Check what hlsbox needs: Docker daemon, base image, image, Vivado, disk and memory."""
    from hlsbox.doctor import run_checks

    table = Table(show_header=False, box=None)
    checks = run_checks(Path.cwd())
    for check in checks:
        mark = "[green]✔[/]" if check.ok else ("[red]✘[/]" if check.required else "[yellow]–[/]")
        table.add_row(mark, check.name, check.detail, "" if check.ok else f"[dim]{check.fix}[/]")
    console.print(table)
    if not all(c.ok for c in checks if c.required):
        raise typer.Exit(1)


@app.command()
@guarded
def clean(
    images: Annotated[bool, typer.Option(help="Also remove hlsbox images other than the current one.")] = False,
    build: Annotated[bool, typer.Option(help="Also delete the build directory.")] = False,
    build_dir: BuildOpt = Path("build"),
) -> None:
    """Remove stray hlsbox containers (found by label), and optionally old images and build outputs."""
    client = engine.connect()
    strays = client.containers.list(all=True, sparse=True, filters={"label": engine.LABEL})
    for container in strays:
        with contextlib.suppress(docker_errors.NotFound):  # gone meanwhile: fine
            container.remove(force=True)
    console.print(f"Removed {len(strays)} hlsbox container(s).")
    if images:
        removed = image.remove_images(client, keep=image.image_tag())
        console.print(f"Removed {len(removed)} old image(s).")
    if build and build_dir.exists():
        shutil.rmtree(build_dir)
        console.print(f"Deleted {build_dir}/.")


def _on_sigterm(signum: int, frame: object) -> None:
    raise KeyboardInterrupt  # the same clean-up path as Ctrl-C


def main() -> None:
    signal.signal(signal.SIGTERM, _on_sigterm)
    app()
