"""The `hlsbox` command line: thin wiring from options to a RunRequest, the step registry and a view.

Every HlsboxError becomes a short red message and its exit code; tracebacks only with --debug.
"""

from __future__ import annotations

import functools
import os
import signal
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, TypeVar

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from hlsbox.cli import wiring
from hlsbox.cli.options import (
    DEFAULT_FLOW,
    BuildOpt,
    CpusOpt,
    FlowOpt,
    ForceOpt,
    HangOpt,
    MemOpt,
    PartOpt,
    RunOptions,
    TimeoutOpt,
    ToolchainOpt,
    VerboseOpt,
    VivadoOpt,
    hang_of,
    limits_of,
    with_run_options,
    workspace_of,
)
from hlsbox.commands import model as models
from hlsbox.commands import plan as plans
from hlsbox.commands import sweep as sweeps
from hlsbox.config.formats import load_flow
from hlsbox.core.errors import EXIT_INTERRUPTED, BadInput, HlsboxError
from hlsbox.core.units import parse_duration, parse_size
from hlsbox.runtime import engines, image, step_table, toolchains
from hlsbox.runtime.engines import Limits
from hlsbox.runtime.options import FitOptions, VivadoParams
from hlsbox.runtime.request import RunRequest
from hlsbox.runtime.tables import print_table

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
flow_app = typer.Typer(help="Flows as hls4ml's YAML configs and back.", no_args_is_help=True)
app.add_typer(flow_app, name="flow")
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
            err_console.print(f"[bold red]error:[/] {escape(exc.message)}")
            if exc.hint:
                err_console.print(f"[dim]{escape(exc.hint)}[/]")
            raise typer.Exit(exc.exit_code) from None
        except KeyboardInterrupt:
            err_console.print(
                "[bold red]interrupted[/]: the container is stopped and removed; nothing is left running."
            )
            raise typer.Exit(EXIT_INTERRUPTED) from None

    return wrapper  # type: ignore[return-value]


def _flag(names: str, help: str, **extra: object):
    """A command-line switch (a bool option)."""
    return Annotated[bool, typer.Option(names, help=help, **extra)]


StrictOpt = _flag("--strict", "Fail (exit 1) when the plan says the design does not fit.")
ExactBuildOpt = _flag(
    "--exact-build", "Compile exactly as hls4ml does (slow for io_parallel convolutions), not hlsbox's fast build."
)
StallOpt = Annotated[str, typer.Option("--stall", help="Warn after this long without output (e.g. 10m).")]
IgnorePlanOpt = _flag(
    "--ignore-plan",
    "Run a design the plan says cannot fit even at the low end of its band (refused by default, exit 2).",
    envvar="HLSBOX_IGNORE_PLAN",
)
StopStallOpt = _flag("--stop-on-stall", "Stop the step when it stalls (exit 124).")
NetworkOpt = _flag("--network", "Give the container a network (licence server).")
CsimFirstOpt = _flag("--with-csim", "Let Vivado HLS run its C simulation first.")
Y2k22Opt = _flag(
    "--y2k22-workaround/--no-y2k22-workaround",
    "On an unpatched Vivado/Vitis HLS <= 2021.2, run export with the clock at 2021-12-31 (libfaketime).",
)


@app.callback()
def _root(
    debug: Annotated[bool, typer.Option(help="Show Python tracebacks on errors.")] = False,
    engine: Annotated[
        str | None,
        typer.Option("--engine", help="Container engine: docker, podman or auto (default).", envvar="HLSBOX_ENGINE"),
    ] = None,
) -> None:
    _state["debug"] = debug
    if engine:
        os.environ["HLSBOX_ENGINE"] = engine  # read by engines.select(), also in sweep variants' processes


def flow_toolchain(flow: Path) -> toolchains.Toolchain:
    """The toolchain a flow's model needs (the flow's pin, else the model file's origin)."""
    from hlsbox.runtime.runner import check_model_file

    loaded = load_flow(flow)
    model = loaded.model_path(Path.cwd())
    check_model_file(model, loaded.weights_path(Path.cwd()))
    return toolchains.for_model(model, loaded.toolchain, image.docker_dir())


def run_and_show(request: RunRequest) -> None:
    wiring.wired(request.step).run_and_show(console, request)


def _register(step: step_table.Step, command: Callable[..., None], doc: str) -> None:
    """A step's command: its own options beside the shared ones (cli/options.py)."""
    command.__doc__ = doc
    app.command(step.name)(guarded(with_run_options(command)))


def _container_command(step: step_table.Step) -> None:
    """convert: a flow, limits, one step."""

    def command(run: RunOptions) -> None:
        run_and_show(run.request(step.name))

    _register(step, command, f"{step.summary} Default limits {step.timeout}, {step.memory}.")


def _csim_command(step: step_table.Step) -> None:
    """csim: convert's options, and the build hls4ml itself would make."""

    def command(run: RunOptions, exact_build: ExactBuildOpt = False) -> None:
        loaded = run.loaded_flow()
        if exact_build:
            loaded = loaded.model_copy(update={"csim": loaded.csim.model_copy(update={"exact_build": True})})
        run_and_show(run.request(step.name, loaded))

    _register(step, command, f"{step.summary} Default limits {step.timeout}, {step.memory}.")


def _vivado_command(step: step_table.Step) -> None:
    def command(
        run: RunOptions,
        vivado: VivadoOpt = None,
        stall: StallOpt = "10m",
        stop_on_stall: StopStallOpt = False,
        network: NetworkOpt = False,
        ignore_plan: IgnorePlanOpt = False,
        with_csim: CsimFirstOpt = False,
        y2k22_workaround: Y2k22Opt = True,
    ) -> None:
        options = VivadoParams(vivado, network, ignore_plan, with_csim, y2k22_workaround)
        run_and_show(
            run.request(step.name, stall_warn=parse_duration(stall), stall_kill=stop_on_stall, options=options)
        )

    _register(
        step,
        command,
        step.summary
        + (
            " Runs the host's Vivado HLS / Vitis HLS, mounted read-only, in the container; "
            f"the steps before it run first when missing or stale. Default limits {step.timeout}, {step.memory}."
        ),
    )


for _step in step_table.commands("container"):
    _container_command(_step)
for _step in step_table.commands("csim"):
    _csim_command(_step)
for _step in step_table.commands("vivado"):
    _vivado_command(_step)


@app.command()
@guarded
def plan(
    flow: FlowOpt = DEFAULT_FLOW,
    part: PartOpt = None,
    strict: StrictOpt = False,
    mem: MemOpt = None,
    build_dir: BuildOpt = Path("build"),
    force: ForceOpt = False,
    verbose: VerboseOpt = False,
    write_flow: Annotated[
        Path | None, typer.Option("--write-flow", help="Write a way out as a new flow file (TOML) at this path.")
    ] = None,
    way: Annotated[
        int | None,
        typer.Option("--way", help="Which way out --write-flow writes (1, 2, ...; default: the first that fits)."),
    ] = None,
) -> None:
    """Fit verdict in seconds: per-layer resources, latency and interval estimates against the part, the
    ReuseFactor hls4ml will really use, kernel checks, and ways out when the design does not fit."""
    limits = limits_of(step_table.step("plan"), None, mem, 2.0, None)
    loaded = load_flow(flow).with_part(part)
    request = RunRequest("plan", loaded, flow.resolve(), workspace_of(build_dir), limits, verbose, force)
    result = wiring.wired("plan").run_and_show(console, request)
    if write_flow is not None:
        plans.write_way(console, result, loaded, write_flow, way)
    if strict and result.verdict == plans.NO_FIT:
        raise HlsboxError(f"The design does not fit {result.part} (--strict).", "Take one of the ways out above.")


def fit(
    run: RunOptions,
    agreement: Annotated[
        float, typer.Option(help="Top-1 agreement with Keras to keep (calibration and held-out inputs), e.g. 0.99.")
    ] = 0.99,
    budget: Annotated[float, typer.Option(help="Percent of every resource of the part the design may use.")] = 80.0,
    io_type: Annotated[
        str,
        typer.Option("--io-type", help="auto (io_stream where io_parallel cannot fit), io_parallel, io_stream."),
    ] = "auto",
    out: Annotated[
        Path | None, typer.Option("--out", "-o", help="The new flow file (default: <flow>_fit.toml beside the flow).")
    ] = None,
    max_probes: Annotated[
        int, typer.Option(help="C simulations the search may use, cached ones included (a re-run replays them).")
    ] = 40,
    samples: Annotated[int, typer.Option(help="Calibration inputs each C simulation is judged on.")] = 200,
) -> None:
    """From a design that does not fit or does not agree with Keras to one that does: the fewest bits per layer
    that keep the agreement target (C simulation on calibration inputs from the flow's data), then io_type,
    strategy and ReuseFactors within the budget (the plan's estimator), checked on held-out inputs. When even the
    cheapest design the search can reach cannot fit, it says so first, before any C simulation. Writes a new
    flow, fit.json and fit.png; a stop (Ctrl-C, time limit) keeps the best design so far, a re-run resumes from
    the cache."""
    from hlsbox.commands import fit as fits

    params = fits.FitParams(agreement, budget / 100, io_type, max_probes, samples)
    fits.check_params(params)
    target = fits.output_path(run.flow, out)
    run_and_show(run.request("fit", options=FitOptions(params, str(target))))


app.command("fit")(guarded(with_run_options(fit)))


@flow_app.command("export")
@guarded
def flow_export(
    flow: FlowOpt = DEFAULT_FLOW,
    out: Annotated[Path | None, typer.Option("--out", "-o", help="The YAML file (default: <flow name>.yml).")] = None,
    part: PartOpt = None,
    build_dir: BuildOpt = Path("build"),
) -> None:
    """Write a flow as hls4ml's YAML config (what `hls4ml convert -c` reads): the exact config hlsbox gives
    hls4ml, plus the flow itself for `hlsbox flow import`."""
    from hlsbox.config.formats import to_hls4ml_yaml

    loaded = load_flow(flow).with_part(part)
    limits = limits_of(step_table.step("describe"), None, None, 2.0, None)
    request = RunRequest("plan", loaded, flow.resolve(), workspace_of(build_dir), limits)
    described, _ = plans.describe(console, request)
    path = out or Path(f"{loaded.name}.yml")
    path.write_text(to_hls4ml_yaml(loaded, described.hls_config, f"{loaded.name}_hls4ml_prj"))
    console.print(f"[green]hls4ml config written:[/] {path}")


@flow_app.command("import")
@guarded
def flow_import(
    config: Annotated[Path, typer.Argument(help="An hls4ml YAML config (the format `hls4ml convert -c` reads).")],
    out: Annotated[Path | None, typer.Option("--out", "-o", help="The flow file (default: flows/<name>.toml).")] = None,
) -> None:
    """Turn an hls4ml YAML config into a TOML flow (validated; unknown keys and layers are refused)."""
    from hlsbox.config.formats import write_toml

    loaded = load_flow(config)
    path = out or Path("flows") / f"{loaded.name}.toml"
    write_toml(loaded, path, f"# imported from {config} by hlsbox flow import")
    console.print(f"[green]Flow written:[/] {path}")


@app.command("run-request", hidden=True)
@guarded
def run_request(path: Annotated[Path, typer.Argument(help="A run request as JSON (written by hlsbox sweep).")]) -> None:
    """Run one serialised request: what a sweep's executors (local, Slurm) start for each variant."""
    if not path.is_file():
        raise BadInput(f"Run request '{path}' does not exist.", "Requests are written by `hlsbox sweep`.")
    try:
        request = RunRequest.from_json(path.read_text())
    except (ValueError, KeyError, TypeError) as err:  # json's errors are ValueErrors
        raise BadInput(
            f"Run request '{path}' is not one this hlsbox reads ({type(err).__name__}: {err}).",
            "Requests are written by `hlsbox sweep` of the same hlsbox: run the sweep again to write them anew.",
        ) from None
    run_and_show(request)


@app.command()
@guarded
def sweep(
    flow: FlowOpt = DEFAULT_FLOW,
    grid: Annotated[
        list[str] | None,
        typer.Option(
            "--grid",
            "-g",
            help="An axis: KEY=V1,V2 (reuse_factor, precision, strategy, io_type, part, clock_period); repeat "
            "for more. Default: the flow's [sweep] table.",
        ),
    ] = None,
    step: Annotated[str, typer.Option(help="The step every variant runs: plan, convert, csim or csynth.")] = "csim",
    executor: Annotated[str, typer.Option(help="local (this machine) or slurm (a job array).")] = "local",
    workers: Annotated[int, typer.Option(help="Local: variants at once (within cores and free memory).")] = 2,
    skip_infeasible: Annotated[bool, typer.Option(help="Drop variants the plan says cannot fit.")] = False,
    retries: Annotated[int, typer.Option(help="Slurm: resubmit failed tasks this many times.")] = 0,
    vivado: VivadoOpt = None,
    timeout: TimeoutOpt = None,
    mem: Annotated[str, typer.Option("--mem", help="Memory limit of each variant (swap included).")] = "4g",
    cpus: CpusOpt = 1.0,
    hang_after: HangOpt = None,
    build_dir: BuildOpt = Path("build"),
    force: ForceOpt = False,
) -> None:
    """Run every variant of a flow over a grid, locally in parallel or on Slurm; each variant is a normal run
    (unchanged ones are skipped, so a sweep resumes), then one table, sweep.json, sweep.csv and pareto.png.
    Ctrl-C / SIGTERM: no new variant starts, running ones stop and are kept as interrupted (exit 130)."""
    if step not in sweeps.STEPS or executor not in sweeps.EXECUTORS:
        raise BadInput(
            f"--step {step} / --executor {executor} is not known.",
            f"Steps: {', '.join(sweeps.STEPS)}; executors: {', '.join(sweeps.EXECUTORS)}.",
        )
    base = load_flow(flow)
    axes = grid or [f"{key}={','.join(map(str, values))}" for key, values in base.sweep.items()]
    limits = limits_of(step_table.step(step), timeout, mem, cpus, None)
    options = VivadoParams(vivado) if step_table.step(step).option_set == "vivado" else None
    template = RunRequest(
        step,
        base,
        flow.resolve(),
        workspace_of(build_dir),
        limits,
        force=force,
        hang_after=hang_of(hang_after),
        options=options,
    )
    sweeps.run_sweep(console, template, sweeps.parse_grid(axes), executor, workers, skip_infeasible, retries)


@app.command()
@guarded
def model(
    script: Annotated[Path, typer.Argument(help="A model script in models/, e.g. models/digits_cnn.py.")],
    out: Annotated[Path, typer.Option(help="Where the .keras file goes (inside the workspace).")],
    args: Annotated[list[str] | None, typer.Argument(help="Extra arguments for the script, after --.")] = None,
    timeout: TimeoutOpt = None,
    mem: Annotated[str, typer.Option("--mem", help="Memory limit (swap included).")] = "8g",
    cpus: CpusOpt = 2.0,
    build_dir: BuildOpt = Path("build"),
    verbose: VerboseOpt = False,
    toolchain: ToolchainOpt = "keras2",
) -> None:
    """Make a model by running its script in a toolchain's image (default keras2: TF 2.15); the file appears only
    when complete."""
    limits = Limits(memory=parse_size(mem), cpus=cpus, timeout=parse_duration(timeout or "1h"))
    tool = toolchains.by_name(toolchain)
    models.make_model(console, workspace_of(build_dir), script, out, args or [], limits, verbose, tool)


@image_app.command("base")
@guarded
def image_base(
    mirror: Annotated[str, typer.Option(help="Debian mirror for debootstrap.")] = image.DEBIAN_MIRROR,
    pull: Annotated[bool, typer.Option(help="Try the registry (debian:bookworm-slim) before debootstrap.")] = True,
) -> None:
    """Make the base image: pull debian:bookworm-slim, or debootstrap bookworm and import it (no registry)."""
    engine = engines.select()
    with console.status("base image") as status:
        base = image.ensure_base(engine, lambda line: status.update(f"base image: {line[:100]}"), pull, mirror)
    console.print(f"[green]Base image:[/] {base.ref} ({base.id[:19]})")


@image_app.command("build")
@guarded
def image_build(
    ca_bundle: Annotated[
        Path | None,
        typer.Option(
            help="Extra CA bundle (PEM) for pip, e.g. behind a TLS-intercepting proxy. Used only in the build "
            "stage, never in the image.",
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
    toolchain: ToolchainOpt = "keras2",
    flow: Annotated[
        Path | None, typer.Option("--flow", help="Build the image of this flow's toolchain (its model picks it).")
    ] = None,
    every: Annotated[bool, typer.Option("--all", help="Build the image of every toolchain.")] = False,
) -> None:
    """Build the pinned image of a toolchain (skipped when the image of these inputs exists)."""
    from hlsbox.commands import image as imaging

    if every:
        tools = list(toolchains.TOOLCHAINS)
    else:
        tools = [toolchains.by_name(toolchain) if flow is None else flow_toolchain(flow)]
    engine = engines.select()
    for tool in tools:
        imaging.build(console, engine, image.BuildOptions(ca_bundle, index_url), pull, tool)


@image_app.command("tag")
@guarded
def image_tag_cmd(toolchain: ToolchainOpt = "keras2") -> None:
    """Print the tag the current docker/ inputs and base image build to."""
    print(image.image_tag(engines.select(), toolchains.by_name(toolchain)))


@image_app.command("describe")
@guarded
def image_describe(
    packages: Annotated[bool, typer.Option("--packages", help="List every package with its version.")] = False,
    toolchain: ToolchainOpt = "keras2",
) -> None:
    """What the image is: tag, id, base, size, and its Debian and Python packages with versions."""
    from hlsbox.commands import image as imaging

    imaging.describe(console, engines.select(), packages, toolchains.by_name(toolchain))


@app.command()
@guarded
def doctor() -> None:
    """Check what hlsbox needs: the container engine, base image, image, Vivado, disk and memory."""
    from hlsbox.commands.doctor import run_checks

    table = Table(show_header=False, box=None)
    checks = run_checks(Path.cwd())
    for check in checks:
        mark = "[green]✔[/]" if check.ok else ("[red]✘[/]" if check.required else "[yellow]–[/]")
        table.add_row(mark, check.name, check.detail, "" if check.ok else f"[dim]{check.fix}[/]")
    print_table(console, table)
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
    import shutil

    engine = engines.select()
    console.print(f"Removed {engine.remove_containers(engines.CONTAINERS)} hlsbox container(s).")
    if images:
        keep = {*(image.image_tag(engine, t) for t in toolchains.TOOLCHAINS), image.LOCAL_BASE, image.REGISTRY_BASE}
        console.print(f"Removed {len(engine.remove_images(engines.LABEL, keep))} old image(s).")
    if build and build_dir.exists():
        shutil.rmtree(build_dir)
        console.print(f"Deleted {build_dir}/.")


def _on_sigterm(signum: int, frame: object) -> None:
    raise KeyboardInterrupt  # the same clean-up path as Ctrl-C


def main() -> None:
    signal.signal(signal.SIGTERM, _on_sigterm)
    app()
