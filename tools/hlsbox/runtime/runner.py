"""One step, end to end on the host: checks, cache, run dir, the engine run, outcome, atomic result.

A run writes into a hidden temporary dir beside its final place; on success it replaces the last good
result in one rename, on failure it is kept as `<step>.failed` and the good one stays. When the engine
refuses to start the container, or the step refuses its input (bad input, exit 2: the message says all), nothing
is kept and the temporary dir goes. A run whose inputs (flow, model,
image, step code, upstream run) are those of the last good run is skipped unless forced.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import time
import uuid
import zipfile
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from functools import partial
from pathlib import Path
from typing import TypeVar, cast

import filelock
from rich.console import Console

import hlsbox
from hlsbox.config.flow import image_flow
from hlsbox.core.contract import ErrorReport, JsonRecord, RunEnd, RunManifest, StepSpec
from hlsbox.core.errors import EXIT_HUNG, EXIT_INTERRUPTED, EXIT_OOM, EXIT_TIMEOUT, BadInput, HlsboxError, StepFailed
from hlsbox.core.units import human_duration, human_size, parse_duration_or_off
from hlsbox.runtime import engines, image, step_table, toolchains
from hlsbox.runtime.engines import ContainerSpec, EngineRefused, Limits, Mount, Outcome, Watch
from hlsbox.runtime.engines.watchdog import CPU_IDLE, DEFAULT_HANG_AFTER
from hlsbox.runtime.progress import StepDisplay
from hlsbox.runtime.request import RunRequest, Workspace

PACKAGE_DIR = Path(hlsbox.__file__).resolve().parent
PACKAGE_MOUNT = Path("/opt/hlsbox/hlsbox")


class Interrupted(StepFailed):
    def __init__(self, what: str, kept: Path) -> None:
        self.kept = kept
        super().__init__(
            f"{what} was interrupted; the container is stopped and removed.",
            f"Partial output: {kept}",
            EXIT_INTERRUPTED,
        )


def check_model_file(path: Path, weights: Path | None = None) -> None:
    """Catch missing, truncated or foreign model files before any container starts."""
    if not path.is_file():
        raise BadInput(
            f"Model file '{path}' does not exist.",
            "Make it with its script in models/ (`make models`), or fix `model` in the flow.",
        )
    if path.suffix.lower() == ".json":
        _check_json_model(path, weights)
        return
    if path.suffix.lower() == ".onnx":  # its protobuf is read by toolchains.origin
        return
    with path.open("rb") as f:
        head = f.read(8)
    if head.startswith(b"\x89HDF\r\n\x1a\n"):
        return
    if not zipfile.is_zipfile(path):
        raise BadInput(
            f"Model file '{path}' is not a Keras model (.keras zip or .h5); it may be truncated or corrupt.",
            "Re-make it with its script in models/, or point the flow at the right file.",
        )
    try:
        with zipfile.ZipFile(path) as archive:
            names = archive.namelist()
            bad = archive.testzip()
    except (zipfile.BadZipFile, OSError) as exc:
        raise BadInput(f"Model file '{path}' is corrupt ({exc}).", "Re-make it with its script in models/.") from exc
    if bad or "config.json" not in names:
        raise BadInput(
            f"Model file '{path}' is a damaged .keras archive ({bad or 'no config.json'}).",
            "Re-make it with its script in models/.",
        )


def _check_json_model(path: Path, weights: Path | None) -> None:
    """A Keras architecture as JSON (hls4ml's KerasJson) with its weights as .h5 (KerasH5)."""
    try:
        architecture = json.loads(path.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as exc:
        raise BadInput(f"Model file '{path}' is not valid JSON ({exc}).", "Give the model's to_json() output.") from exc
    if not isinstance(architecture, dict) or "class_name" not in architecture:
        raise BadInput(f"'{path}' is JSON but not a Keras model architecture.", "Give the model's to_json() output.")
    if weights is None or not weights.is_file():
        raise BadInput(
            f"The model '{path}' is an architecture without weights.",
            "Give its weights (.h5) as `weights` in the flow (KerasH5 in an hls4ml config).",
        )
    with weights.open("rb") as f:
        if not f.read(8).startswith(b"\x89HDF"):
            raise BadInput(f"Weights file '{weights}' is not an HDF5 (.h5) file.", "Give the model's .h5 weights.")


# A run writes a few MB (the seed model's project: 18 MB) and a synthesis far more: refuse to start on a
# nearly full disk rather than fail half-way.
MIN_FREE_BYTES = 200 * 1024**2
NO_SPACE = "No space left on device"


def prepare_dir(path: Path) -> None:
    try:
        path.mkdir(parents=True, exist_ok=True)
        probe = path / f".write-probe-{os.getpid()}"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        raise BadInput(
            f"Cannot write to the output directory {path} ({exc.strerror}).",
            "Give a writable --build-dir, or fix its permissions or free space.",
        ) from exc
    free = shutil.disk_usage(path).free
    if free < MIN_FREE_BYTES:
        raise BadInput(
            f"The disk of the output directory {path} is nearly full ({human_size(free)} free; a run needs at least "
            f"{human_size(MIN_FREE_BYTES)}).",
            "Free some space (`hlsbox clean --build`, old images: `hlsbox clean --images`) or give --build-dir on "
            "a larger disk.",
        )


def sha256_file(path: Path) -> str:
    with path.open("rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


# What the image runs of this package: the steps and the pure core they build on (the contract, parts, kernels,
# estimator, planner); tests/unit/test_runner.py checks that the steps' imports stay inside these folders.
IMAGE_PACKAGES = ("steps", "core")


def image_files() -> list[Path]:
    """Every file of the package the image runs (code and data): the package's __init__ and IMAGE_PACKAGES."""
    files = [PACKAGE_DIR / "__init__.py"]
    for folder in IMAGE_PACKAGES:
        files += (p for p in (PACKAGE_DIR / folder).rglob("*") if p.is_file() and "__pycache__" not in p.parts)
    return sorted(files)


def steps_code_hash() -> str:
    """The code and data the container runs: a change to any of it invalidates cached results."""
    digest = hashlib.sha256()
    for path in image_files():
        digest.update(str(path.relative_to(PACKAGE_DIR)).encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


def data_fingerprint(folder: Path | None) -> str | None:
    """The contents of the flow's data folder (every file's path and bytes): new images mean a new result."""
    if folder is None or not folder.exists():
        return None
    digest = hashlib.sha256()
    for path in sorted(p for p in ([folder] if folder.is_file() else folder.rglob("*")) if p.is_file()):
        digest.update(str(path.relative_to(folder) if path != folder else path.name).encode() + b"\0")
        digest.update(sha256_file(path).encode())
    return digest.hexdigest()


def cache_key(request: RunRequest, model_sha256: str, image_tag: str) -> str:
    inputs = {
        "step": request.step,
        "flow": request.flow.model_dump(exclude={"hang_after"}),  # a watchdog setting changes no result
        "model": model_sha256,
        "image": image_tag,
        "code": steps_code_hash(),
        "data": data_fingerprint(request.flow.csim.data_path(request.workspace.root)),
        **request.extras.cache_inputs,
    }
    return hashlib.sha256(json.dumps(inputs, sort_keys=True, default=str).encode()).hexdigest()


def cache_key_of(run_dir: Path) -> str:
    """The inputs' key a finished run recorded (its manifest): what a step built on it adds to its own."""
    return RunManifest.read(run_dir).cache_key


def last_good(final: Path, key: str) -> dict | None:
    """The result of the last good run when it had these very inputs."""
    try:
        manifest = RunManifest.read(final)
        if manifest.status == "ok" and manifest.cache_key == key:
            return json.loads((final / "result.json").read_text())
    except (OSError, ValueError, TypeError):
        return None
    return None


@dataclass(frozen=True)
class Task:
    """One container run in the image with the workspace read-only and `run_dir` writable."""

    title: str
    command: list[str]
    run_dir: Path
    workspace: Workspace
    limits: Limits
    labels: dict[str, str]
    verbose: bool = False
    stall_warn: float | None = None
    stall_kill: bool = False
    hang_after: float | None = None
    mounts: tuple[Mount, ...] = ()
    env: dict[str, str] = field(default_factory=dict)
    log_reader: Callable[[], object] | None = None
    stall_note: str = ""


def execute(console: Console, task: Task, image_id: str | None = None) -> tuple[Outcome, StepDisplay]:
    """Run a task through the engine with a live view; the outcome and the display (log lines, phase times)."""
    engine = engines.select()
    image_id = image_id or image.find_image(engine).id
    mounts = (
        Mount(task.workspace.root, task.workspace.root),
        Mount(task.run_dir, task.run_dir, read_only=False),
        Mount(PACKAGE_DIR, PACKAGE_MOUNT),
        *task.mounts,
    )
    env = {"PYTHONPATH": str(PACKAGE_MOUNT.parent), **task.env}
    spec = ContainerSpec(image_id, tuple(task.command), task.limits, mounts, env, task.run_dir, task.labels)
    reader = task.log_reader() if task.log_reader else None
    log = task.run_dir / "step.log"
    with StepDisplay(console, task.title, log, task.verbose, reader, task.stall_note) as display:
        watch = Watch(
            display.line,
            display.tick,
            task.stall_warn,
            display.stalled,
            task.stall_kill,
            task.hang_after,
            ("sh", "-c", f"kill -USR1 $(cat {task.run_dir}/step.pid)"),  # hlsbox.steps dumps its stacks
        )
        outcome = engine.run(spec, watch)
    return outcome, display


SMALLER_HLS4ML = "io_stream for conv nets, a larger ReuseFactor"
SMALLER = {"da4ml": "fewer units or bits: da4ml unrolls every multiplication"}  # by the flow's backend


def explain_failure(
    what: str,
    outcome: Outcome,
    display: StepDisplay,
    run_dir: Path,
    limits: Limits,
    diagnose: Callable[[Path], str | None] | None = None,
    log: Path | None = None,
    smaller: str = SMALLER_HLS4ML,
) -> StepFailed:
    """The failure said: what stopped the step, and what would help (`smaller`: how its design gets smaller)."""
    log = log or run_dir / "step.log"
    if outcome.hung:
        return hung_failure(what, outcome, display, run_dir, log)
    if outcome.stalled:
        return StepFailed(
            f"{what} printed nothing for {human_duration(outcome.stalled)} and was stopped (--stop-on-stall); "
            "the container and all its processes are gone.",
            f"Raise the stall limit with --stall, or drop --stop-on-stall. Log: {log}",
            EXIT_TIMEOUT,
        )
    if outcome.timed_out:
        return StepFailed(
            f"{what} did not finish within its time limit of {human_duration(limits.timeout)}; "
            "the container and all its processes were stopped.",
            f"Raise it with --timeout / TIMEOUT= if the step is just long. Log: {log}",
            EXIT_TIMEOUT,
        )
    if outcome.oom_killed or outcome.exit_code == EXIT_OOM:
        return StepFailed(
            f"{what} ran out of memory at {human_size(limits.memory)} "
            f"(peak seen {human_size(outcome.peak_memory)}) and was killed.",
            f"Give it more with --mem / MEM=, or lower the design's size ({smaller}). Log: {log}",
            EXIT_OOM,
        )
    log_text = log.read_text(errors="replace") if log.is_file() else ""
    if NO_SPACE in log_text:
        return BadInput(
            f"{what} filled the disk of its output directory ({NO_SPACE}); the last good result is untouched.",
            "Free some space or give --build-dir on a larger disk (the failed run's files are removed).",
        )
    error = ErrorReport.read(run_dir / "error.json")
    if error is not None:  # the step refused its input, or explained its own failure (e.g. a csim abort)
        return (
            StepFailed(error.message, error.hint)
            if error.kind == StepFailed.kind
            else BadInput(error.message, error.hint)
        )
    explanation = diagnose(run_dir) if diagnose else None
    # a traceback's header says nothing (the whole of it is in the log); the exception is its last line
    lines = [line for line in display.errors[-5:] if "Traceback (most recent call last)" not in line]
    if display.last_line and display.last_line not in lines:
        lines.append(display.last_line)
    tail = "\n  ".join(lines)
    return StepFailed(
        f"{what} failed with exit code {outcome.exit_code}:\n  {tail}",
        (f"{explanation}\n" if explanation else "") + f"Full log: {log}",
    )


def hung_failure(what: str, outcome: Outcome, display: StepDisplay, run_dir: Path, log: Path) -> StepFailed:
    """The watchdog stopped the step: what it was doing, and where its stacks and processes are."""
    kept = [name for name in ("stacks.txt", "processes.txt") if (run_dir / name).is_file()]
    where = ", ".join(str(run_dir / name) for name in kept) or "no stacks could be taken"
    return StepFailed(
        f"{what} hung: no output and under {CPU_IDLE:.0%} of a core for {human_duration(outcome.hung)} "
        f"(last phase: {display.detail or display.phase}; last line: {display.last_line[:160] or 'none'}); "
        "it was stopped with all its processes. A step in that state does not finish by itself.",
        f"Its Python stacks and processes: {where}. If it was only waiting on something slow, raise --hang-after "
        f"(HLSBOX_HANG_AFTER, hang_after in the flow). Log: {log}",
        EXIT_HUNG,
    )


def hang_after_of(request: RunRequest) -> float | None:
    """The option, else the flow's hang_after, else the default; 'off' (0) turns the watchdog off."""
    if request.hang_after is not None:
        return request.hang_after or None
    if request.flow.hang_after is not None:
        return parse_duration_or_off(request.flow.hang_after)
    return DEFAULT_HANG_AFTER


def finish(tmp: Path, final: Path, ok: bool) -> Path:
    """Put a finished run in place: success replaces the last good run; failure goes to .failed."""
    target = final if ok else final.with_name(final.name + ".failed")
    if target.exists():
        old = target.with_name(f".{target.name}.old-{uuid.uuid4().hex[:8]}")
        target.rename(old)
        tmp.rename(target)
        shutil.rmtree(old, ignore_errors=True)
    else:
        tmp.rename(target)
    return target


R = TypeVar("R", bound=JsonRecord)


def run_step(console: Console, request: RunRequest, result_type: type[R]) -> tuple[R, Path]:
    """Run the request's step in the image as its definition says (runtime/step_table.py: `hlsbox.steps.<module>`);
    its result.json read as the step's result type (which is `result_type` or derives from it) and its final run
    dir, build/<flow>/<part>/<run name>. Skipped when its last good run had the same inputs."""
    step = step_table.step(request.step)
    if not issubclass(step.result, result_type):
        raise TypeError(f"the {step.name} step reads back a {step.result.__name__}, not a {result_type.__name__}")
    flow = request.flow
    if request.step in step_table.STEPS:
        step_table.step(request.step).check_backend(flow.backend)
    model = flow.model_path(request.workspace.root)
    weights = flow.weights_path(request.workspace.root)
    check_model_file(model, weights)
    toolchain = toolchains.for_model(model, flow.toolchain, image.docker_dir())
    request = with_toolchain(request, toolchain)
    flow.csim.data_path(request.workspace.root)  # a data folder outside the workspace is bad input
    flow.csim.check_images(request.workspace.root)  # a folder of images of several sizes is bad input
    final = request.final_dir
    prepare_dir(final.parent)
    engine = engines.select()
    img = image.find_image(engine, toolchain)
    model_sha = sha256_file(model) + (f"+{sha256_file(weights)}" if weights else "")
    key = cache_key(request, model_sha, img.tag)
    lock = filelock.FileLock(final.parent / f".{request.name}.lock")
    try:
        lock.acquire(timeout=0)
    except filelock.Timeout:
        raise StepFailed(
            f"Another `{request.step}` of flow '{flow.name}' for {flow.part} is running (lock {lock.lock_file}).",
            "Wait for it to finish; two runs of the same step never write the same directory.",
        ) from None
    try:
        if not request.force and (cached := last_good(final, key)) is not None:
            console.print(
                f"[bold]{request.step} {flow.name}[/]: up to date (same inputs as the last good run in {final}; "
                "--force to run again)"
            )
            return cast(R, step.read(cached)), final
        result, run_dir = _run_fresh(console, request, step.module or request.step, img, key, model_sha)
        return cast(R, step.read(result)), run_dir
    finally:
        lock.release()


def run_defined(console: Console, request: RunRequest) -> tuple[JsonRecord, Path]:
    """A step's default host hook: the step as its definition says, its result read as the step's own type."""
    return run_step(console, request, JsonRecord)


def with_toolchain(request: RunRequest, toolchain: toolchains.Toolchain) -> RunRequest:
    """The request with its toolchain's container environment (none for keras2, the default)."""
    if not toolchain.env:
        return request
    extras = replace(request.extras, env={**dict(toolchain.env), **request.extras.env})
    return request.replace(extras=extras)


def step_spec(request: RunRequest, module: str, run_dir: Path) -> StepSpec:
    """spec.json of the request's run in `run_dir`: what every step is given, and the step's own inputs."""
    flow, own = request.flow, request.extras.spec
    weights = flow.weights_path(request.workspace.root)
    return StepSpec(
        step=request.step,
        module=module,
        flow=image_flow(flow),
        model_path=str(flow.model_path(request.workspace.root)),
        weights_path=str(weights) if weights else None,
        flow_file=str(request.flow_file),
        run_dir=str(run_dir),
        workspace=str(request.workspace.root),
        csim_cache=own.csim_cache,
        fit=own.fit,
        vivado=own.vivado,
    )


def _run_fresh(
    console: Console, request: RunRequest, module: str, img: image.ImageRef, key: str, model_sha: str
) -> tuple[dict, Path]:
    flow, extras, final = request.flow, request.extras, request.final_dir
    tmp = final.with_name(f".{request.name}.tmp-{uuid.uuid4().hex[:8]}")
    tmp.mkdir()
    spec = step_spec(request, module, tmp)
    if extras.prepare:
        spec = extras.prepare(spec)
    spec.write(tmp / "spec.json")
    started = time.time()
    command = ["python", "-m", "hlsbox.steps", request.step, "--spec", str(tmp / "spec.json")]
    manifest = partial(
        RunManifest,
        hlsbox=hlsbox.__version__,
        engine=engines.select().name,
        step=request.step,
        cache_key=key,
        flow=flow.model_dump(),
        flow_file=str(request.flow_file),
        image=img.tag,
        image_id=img.id,
        inputs={"model_sha256": model_sha, "flow_sha256": sha256_file(request.flow_file), **extras.cache_inputs},
        command=tuple(command),
        limits=asdict(request.limits),
        started=started,
    )
    task = Task(
        f"{request.step} {flow.name}",
        command,
        tmp,
        request.workspace,
        request.limits,
        {"org.hlsbox.step": request.step, "org.hlsbox.flow": flow.name},
        request.verbose,
        request.stall_warn,
        request.stall_kill,
        hang_after_of(request),
        extras.mounts,
        extras.env,
        extras.log_reader,
        extras.stall_note,
    )
    try:
        outcome, display = execute(console, task, img.id)
    except KeyboardInterrupt:
        manifest(status="interrupted", seconds=round(time.time() - started, 2)).write(tmp)
        kept = finish(tmp, final, ok=False)
        raise Interrupted(f"{request.step} of '{flow.name}'", kept) from None
    except EngineRefused:
        shutil.rmtree(tmp, ignore_errors=True)  # nothing ran: nothing to keep
        raise
    except HlsboxError as exc:  # the engine went away mid-run: keep what there is
        manifest(status="failed", error=exc.message).write(tmp)
        finish(tmp, final, ok=False)
        raise
    if outcome.processes:
        (tmp / "processes.txt").write_text(outcome.processes)
    ok = outcome.exit_code == 0 and not outcome.timed_out and (tmp / "result.json").is_file()
    result = json.loads((tmp / "result.json").read_text()) if (tmp / "result.json").is_file() else {}
    end = RunEnd(
        versions=result.get("versions", {}),
        seconds=round(outcome.duration, 2),
        phase_seconds=display.phase_times,
        tool_phase_seconds=getattr(display.reader, "completed", {}),
        warnings=len(display.warnings),
        errors=tuple(display.errors[-20:]),
        peak_memory=outcome.peak_memory,
        exit_code=outcome.exit_code,
        timed_out=outcome.timed_out,
        stalled=outcome.stalled,
        hung=outcome.hung,
        last_phase=display.detail or display.phase,
        oom_killed=outcome.oom_killed,
    )
    # with what the step itself wants on record (e.g. the faketime date)
    manifest(status="ok" if ok else "failed", end=end, record=result.get("manifest", {})).write(tmp)
    if not ok:
        what = f"{request.step} of flow '{flow.name}'"
        smaller = SMALLER.get(flow.backend, SMALLER_HLS4ML)
        failure = explain_failure(what, outcome, display, tmp, request.limits, extras.diagnose, smaller=smaller)
        if isinstance(failure, BadInput):  # refused its input: nothing to keep, nothing left behind
            shutil.rmtree(tmp, ignore_errors=True)
            raise failure
        kept = finish(tmp, final, ok=False)
        failure.hint = failure.hint.replace(str(tmp), str(kept))
        failure.message = failure.message.replace(str(tmp), str(kept))
        raise failure
    return result, finish(tmp, final, ok=True)
