"""`hlsbox fit` on the host: the fit step in the image (its probe cache and the compiler cache mounted), then the
new flow written; when the step is stopped (Ctrl-C, its time limit, hung, a failure), the best design found so far
written instead."""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path

from rich.console import Console

from hlsbox.commands.csim import with_ccache
from hlsbox.config.flow import Flow, validate_flow
from hlsbox.config.formats import write_toml
from hlsbox.core.contract import BestDesign, FitParams, FitResult, FitRun
from hlsbox.core.errors import EXIT_BAD_INPUT, BadInput, StepFailed
from hlsbox.runtime import runner
from hlsbox.runtime.engines import Mount
from hlsbox.runtime.options import FitOptions
from hlsbox.runtime.request import RunRequest

MADE_BY = "# Made by hlsbox fit"


def check_params(params: FitParams) -> None:
    """The command line's fit options, each refused with what to give instead."""
    if not 0 < params.agreement <= 1:
        raise BadInput(f"--agreement {params.agreement} is not a share in (0, 1].", "E.g. --agreement 0.99.")
    if not 0 < params.budget <= 1:
        raise BadInput(f"--budget {params.budget:.0%} is not a share of the part in (0%, 100%].", "E.g. --budget 80.")
    if params.io_type not in ("auto", "io_parallel", "io_stream"):
        raise BadInput(f"--io-type {params.io_type} is not auto, io_parallel or io_stream.", "E.g. --io-type auto.")
    if params.max_probes < 1 or params.calibration_samples < 10:
        raise BadInput("--max-probes must be at least 1 and --samples at least 10.", "E.g. --max-probes 40.")


def output_path(flow_file: Path, out: Path | None) -> Path:
    """Where the new flow goes (default <flow>_fit.toml beside the flow); never over a flow fit did not write."""
    path = out or flow_file.with_name(f"{flow_file.stem}_fit.toml")
    if path.resolve() == flow_file.resolve():
        raise BadInput(f"--out {path} is the flow being fitted.", "Give another path; the input flow stays as it is.")
    if path.exists() and not path.read_text(errors="replace").startswith(MADE_BY):
        raise BadInput(
            f"{path} exists and was not written by hlsbox fit; it is left as it is.",
            "Give another --out, or move that file away.",
        )
    return path


def with_fit_cache(request: RunRequest) -> RunRequest:
    """The fit request with its probe cache and the compiler cache mounted, and its parameters in the spec."""
    options = request.options
    if not isinstance(options, FitOptions):
        raise TypeError("a fit request carries FitOptions")
    params = options.params
    cache = request.workspace.build / request.flow.name / "fit-cache"  # what a probe computes is the same on any part
    cache.mkdir(parents=True, exist_ok=True)
    request = with_ccache(request)
    extras = request.extras
    return request.replace(
        extras=dataclasses.replace(
            extras,
            spec=dataclasses.replace(extras.spec, fit=FitRun(params, str(cache))),
            mounts=(*extras.mounts, Mount(cache, cache, read_only=False)),
            cache_inputs={**extras.cache_inputs, "fit": params.to_dict()},
        )
    )


def run_fit(console: Console, request: RunRequest) -> tuple[FitResult, Path]:
    """The fit step's host hook: the step with its caches, then the new flow written; after any stop, the best
    design found so far."""
    request = with_fit_cache(request)
    out = Path(request.options.out)
    started = time.time()
    try:
        fitted, run_dir = runner.run_step(console, request, FitResult)
    except runner.Interrupted as stopped:
        keep_best(console, request, stopped.kept, out, "interrupted", started)
        raise
    except StepFailed as stopped:  # time limit, hung, out of memory, a failure: what the search had is kept
        if stopped.exit_code != EXIT_BAD_INPUT:
            kept = request.final_dir.with_name(request.final_dir.name + ".failed")
            keep_best(
                console, request, kept, out, f"stopped ({' '.join(stopped.message.split('. ')[0].split())})", started
            )
        raise
    return dataclasses.replace(fitted, written=str(write_flow(fitted, out, request.flow_file))), run_dir


def write_flow(result: FitResult, out: Path, source: Path) -> Path:
    """The fitted flow, validated as any flow, with what fit found in its header."""
    flow = validate_flow(result.flow.file_form(), out)
    held = result.held_out
    lines = [
        f"{MADE_BY} from {source.name}: {flow.io_type}, {flow.strategy}, on {flow.part}.",
        f"# Held-out top-1 agreement with {result.reference} {held.top1_agreement:.1%} on {held.samples} inputs"
        f" never used in the search; plan verdict: {result.design.verdict}.",
    ]
    write_toml(flow, out, "\n".join(lines))
    return out


def keep_best(console: Console, request: RunRequest, kept: Path, out: Path, why: str, since: float = 0.0) -> None:
    """After any stop (callable for every one: Ctrl-C, time limit, hung, failure): the best design so far."""
    if write_best(request.flow, request.flow_file, kept, out, why, since):
        console.print(f"[yellow]Best design so far written:[/] {out}")


def write_best(flow: Flow, flow_file: Path, kept: Path, out: Path, why: str, since: float = 0.0) -> bool:
    """The best precision found so far (best.json of the stopped run in `kept`, if written since `since`) as a flow
    with the input flow's architecture; False when the run had none."""
    path = kept / "best.json"
    best = BestDesign.read(path) if path.is_file() and path.stat().st_mtime >= since - 1 else None
    if best is None:
        return False
    layers = {name: table.to_dict() for name, table in best.layers.items()}
    data = {**flow.model_dump(), "name": f"{flow.name}_fit", "precision": {}, "layers": layers}
    data.update(fuse_batchnorm=True, granularity="name")
    written: Flow = validate_flow(data, out)
    write_toml(
        written,
        out,
        f"{MADE_BY} from {flow_file.name}, {why}: the types of the best design found so far, the "
        "input flow's io_type and ReuseFactors.\n# Run `hlsbox fit` again to resume from its cache.",
    )
    return True
