"""Sweeps: the variants of a flow over a grid, each a normal run (own run dir, manifest, cache), run in
parallel on this machine or as a Slurm job array, then gathered into one table, JSON, CSV and a plot.

Variants are written as flow files under build/sweeps/<flow>/flows/ and their run requests as JSON under
requests/, so every executor runs the same `hlsbox run-request <variant>.json` and a sweep resumes for free:
finished variants are up to date.
"""

from __future__ import annotations

import contextlib
import csv
import dataclasses
import itertools
import json
import math
import re
import shlex
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import psutil
from rich.console import Console
from rich.live import Live
from rich.table import Table

from hlsbox.config.flow import Flow
from hlsbox.config.formats import to_toml
from hlsbox.core.contract import CsimResult, ParetoPlot, ParetoPoint
from hlsbox.core.errors import EXIT_INTERRUPTED, EXIT_TIMEOUT, BadInput, HlsboxError, StepFailed
from hlsbox.core.estimator import RESOURCES  # the sweep's resource columns, and what its plot weighs
from hlsbox.core.parts import resolve_device
from hlsbox.core.planner import NO_FIT, Plan
from hlsbox.core.units import human_duration, human_size, parse_duration, parse_size
from hlsbox.runtime import step_table
from hlsbox.runtime.engines import Limits
from hlsbox.runtime.request import RunRequest
from hlsbox.runtime.runner import Task, execute, prepare_dir
from hlsbox.runtime.tables import print_table
from hlsbox.vivado.reports import CsynthSummary, SynthReport

# What a grid may vary, and the short tag each value gets in a variant's name.
GRID_KEYS = {"reuse_factor": "rf", "precision": "p", "strategy": "", "io_type": "", "part": "", "clock_period": "clk"}
STEPS = ("plan", "convert", "csim", "csynth")
T = TypeVar("T")


@dataclass(frozen=True)
class Variant:
    name: str
    values: dict[str, object]
    flow: Flow


def split_values(text: str) -> list[str]:
    """'16,32' -> ['16', '32']; commas inside <> belong to a precision: 'ap_fixed<16,6>,ap_fixed<8,3>'."""
    values, depth, current = [], 0, ""
    for char in text:
        depth += {"<": 1, ">": -1}.get(char, 0)
        if char == "," and depth == 0:
            values.append(current.strip())
            current = ""
        else:
            current += char
    values.append(current.strip())
    return [v for v in values if v]


def parse_grid(items: list[str]) -> dict[str, list[str]]:
    grid: dict[str, list[str]] = {}
    for item in items:
        key, sep, values = item.partition("=")
        key = key.strip()
        if not sep or key not in GRID_KEYS or not split_values(values):
            raise BadInput(
                f"'{item}' is not a grid axis.",
                f"Write KEY=V1,V2,… with KEY one of {', '.join(GRID_KEYS)}, e.g. reuse_factor=16,32,64.",
            )
        grid[key] = split_values(values)
    if not grid:
        raise BadInput("The sweep has no grid.", "Give --grid KEY=V1,V2 (or a [sweep] table in the flow).")
    return grid


def _tag(key: str, value: str) -> str:
    short = value.replace("ap_ufixed", "ufx").replace("ap_fixed", "fx").replace("<", "").replace(">", "")
    slug = re.sub(r"[^A-Za-z0-9.]+", "_", short).strip("_")
    return f"{GRID_KEYS[key]}{slug}"


def expand(flow: Flow, grid: dict[str, list[str]]) -> list[Variant]:
    """Every combination of the grid's values, as validated flows (a bad value names its variant)."""
    keys = list(grid)
    variants = []
    for combination in itertools.product(*(grid[k] for k in keys)):
        values = dict(zip(keys, combination, strict=True))
        data = flow.model_dump()
        for key, value in values.items():
            data[key] = {"weight": value, "bias": value, "result": value} if key == "precision" else value
        data["name"] = "-".join([flow.name, *(_tag(k, v) for k, v in values.items())])
        data["sweep"] = {}
        try:
            variants.append(Variant(data["name"], values, Flow.model_validate(data)))
        except ValueError as exc:
            raise BadInput(
                f"Variant {values} of the sweep is not a valid flow: {exc}", "Fix the grid's values."
            ) from exc
    return variants


def write_variants(variants: list[Variant], directory: Path) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    paths = []
    for variant in variants:
        path = directory / f"{variant.name}.toml"
        text = to_toml(variant.flow, "# written by hlsbox sweep")
        if not path.is_file() or path.read_text() != text:  # unchanged files keep their hash: cache hits
            path.write_text(text)
        paths.append(path)
    return paths


def request_command(request_file: Path) -> list[str]:
    return [sys.executable, "-m", "hlsbox", "run-request", str(request_file)]


def write_requests(requests: list[RunRequest], directory: Path) -> list[tuple[str, Path]]:
    """Each variant's request as JSON, named after its variant: what the executors run."""
    directory.mkdir(parents=True, exist_ok=True)
    jobs = []
    for request in requests:
        path = directory / f"{request.flow.name}.json"
        path.write_text(request.to_json())
        jobs.append((request.flow.name, path))
    return jobs


# ---------- local executor ----------


def local_workers(asked: int, memory_per_variant: int) -> int:
    """As many as asked, within the cores and the memory free now (each variant's limit counts)."""
    by_memory = int(psutil.virtual_memory().available // max(memory_per_variant, 1))
    return max(1, min(asked, psutil.cpu_count() or 1, by_memory))


STOP_GRACE = 4.0  # seconds a running variant has to stop its container after SIGTERM


def variant_limit(limits: Limits) -> float:
    """The longest a variant's process can take: its step and at most three before it (convert, csynth, ...),
    each within the time limit, plus 10 minutes for hlsbox itself."""
    return 4 * limits.timeout + 600


class SweepInterrupted(StepFailed):
    def __init__(self, interrupted: list[str], not_started: list[str]) -> None:
        super().__init__(
            f"The sweep was interrupted: {len(interrupted)} running variant(s) stopped and kept as interrupted "
            f"({', '.join(interrupted) or 'none'}), {len(not_started)} not started.",
            "Run the same sweep again to resume: finished variants are up to date and skipped.",
            EXIT_INTERRUPTED,
        )


class LocalExecutor:
    """Each variant's request as a subprocess, `workers` at a time, one live table for all. On Ctrl-C or
    SIGTERM no new variant starts, and the running ones get SIGTERM (each stops its container)."""

    def __init__(self, console: Console, step: str, workers: int, logs: Path, limit: float) -> None:
        self.console, self.step, self.workers, self.logs = console, step, workers, logs
        self.limit = limit  # seconds a variant's process may take at most (variant_limit)
        self.state: dict[str, str] = {}
        self.running: dict[str, subprocess.Popen] = {}
        self.stopping = threading.Event()
        self.lock = threading.Lock()

    def run(self, jobs: list[tuple[str, Path]]) -> dict[str, int]:
        self.logs.mkdir(parents=True, exist_ok=True)
        self.state = {name: "queued" for name, _ in jobs}
        pool = ThreadPoolExecutor(max_workers=self.workers)
        futures = {name: pool.submit(self._one, name, path) for name, path in jobs}
        try:
            with Live(self._view(), console=self.console, refresh_per_second=2, transient=True) as live:
                while not all(f.done() for f in futures.values()):
                    time.sleep(0.25)
                    live.update(self._view())
        except KeyboardInterrupt:
            self._stop(pool)
            self.console.print(self._view())
            interrupted = [n for n, s in self.state.items() if s == "interrupted"]
            raise SweepInterrupted(interrupted, [n for n, s in self.state.items() if s == "queued"]) from None
        pool.shutdown()
        self.console.print(self._view())
        return {name: future.result() for name, future in futures.items()}

    def _one(self, name: str, request_file: Path) -> int:
        with self.lock:
            if self.stopping.is_set():
                return -1
            log = (self.logs / f"{name}.log").open("w")
            # Its own session: a Ctrl-C reaches the sweep alone, which stops the variants in order.
            proc = subprocess.Popen(
                request_command(request_file), stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )
            self.running[name], self.state[name] = proc, "running"
        code = self._wait(proc, log)
        log.close()
        with self.lock:
            self.running.pop(name, None)
            if self.stopping.is_set():
                self.state[name] = "interrupted"
            else:
                text = (self.logs / f"{name}.log").read_text(errors="replace")
                done = "up to date" if code == 0 and "up to date" in text else "ok"
                self.state[name] = done if code == 0 else f"exit {code}"
        return code

    def _wait(self, proc: subprocess.Popen, log) -> int:
        """The variant's exit code; past `limit` (its own limits failed to end it) it is stopped, exit 124."""
        try:
            return proc.wait(timeout=self.limit)
        except subprocess.TimeoutExpired:
            proc.terminate()  # hlsbox stops its container on SIGTERM
            try:
                proc.wait(timeout=STOP_GRACE)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=STOP_GRACE)
            log.write(f"\nhlsbox sweep: the variant ran past {human_duration(self.limit)} and was stopped.\n")
            return EXIT_TIMEOUT

    def _stop(self, pool: ThreadPoolExecutor) -> None:
        with self.lock:
            self.stopping.set()
            procs = list(self.running.items())
        pool.shutdown(wait=False, cancel_futures=True)
        for _, proc in procs:
            proc.terminate()  # hlsbox stops its container on SIGTERM and keeps the run as interrupted
        deadline = time.monotonic() + STOP_GRACE
        for name, proc in procs:
            try:
                proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                proc.kill()
            self.state[name] = "interrupted"

    def _view(self) -> Table:
        table = Table(
            title=f"sweep: {self.step} of {len(self.state)} variants, {self.workers} at a time", title_justify="left"
        )
        table.add_column("variant")
        table.add_column("state")
        colours = {"running": "cyan", "ok": "green", "up to date": "green", "queued": "dim", "interrupted": "yellow"}
        for name, what in self.state.items():
            table.add_row(name, f"[{colours.get(what, 'red')}]{what}[/]")
        return table


# ---------- Slurm executor ----------


@dataclass(frozen=True)
class SlurmJob:
    """One sweep's job array: our limits to map to Slurm's, and where its files go."""

    step: str
    workspace: Path
    limits: Limits
    directory: Path  # the sweep's slurm/ dir: script, requests list, logs, status


def slurm_script(job: SlurmJob, requests_file: Path, count: int) -> str:
    """A job array: task i runs request i (line i+1 of requests_file), with our limits mapped to Slurm's:
    --mem is the container's memory plus 1 GiB for hlsbox itself, --time our timeout plus 10 minutes."""
    minutes = math.ceil(job.limits.timeout / 60) + 10
    command = " ".join(shlex.quote(a) for a in request_command(Path("REQUEST"))[:-1])
    return f"""#!/bin/bash
#SBATCH --job-name=hlsbox-{job.step}
#SBATCH --array=0-{count - 1}
#SBATCH --cpus-per-task={max(1, math.ceil(job.limits.cpus))}
#SBATCH --mem={job.limits.memory // 2**20 + 1024}M
#SBATCH --time={minutes // 60}:{minutes % 60:02d}:00
#SBATCH --output={job.directory}/logs/task-%a.log
set -u
cd {shlex.quote(str(job.workspace))}
request=$(sed -n "$((SLURM_ARRAY_TASK_ID + 1))p" {shlex.quote(str(requests_file))})
{command} "$request"
code=$?
echo "$code" > {shlex.quote(str(job.directory))}/status/$SLURM_ARRAY_TASK_ID
exit "$code"
"""


def _slurm(*command: str) -> str:
    try:
        proc = subprocess.run(command, capture_output=True, text=True, timeout=SLURM_CALL)
    except FileNotFoundError:
        raise BadInput(
            f"`{command[0]}` is not installed: no Slurm here.", "Run on a Slurm login node, or use --executor local."
        ) from None
    except subprocess.TimeoutExpired:
        raise StepFailed(
            f"`{' '.join(command[:2])}` did not answer within {SLURM_CALL:.0f} s: Slurm's controller is down or "
            "overloaded.",
            "Check the cluster (`sinfo`, `scontrol ping`); the sweep resumes where it stopped when run again.",
        ) from None
    if proc.returncode != 0:
        raise StepFailed(
            f"`{' '.join(command[:2])}` failed: {proc.stderr.strip()[:300]}",
            "Check that the cluster is up (`sinfo`) and accepts jobs.",
        )
    return proc.stdout


CANCEL_WAIT = 4.0  # seconds to wait for a cancelled array to leave the queue
SLURM_CALL = 60.0  # seconds for one sbatch / squeue / scancel
SLURM_QUEUE = 24 * 3600.0  # seconds an array may wait in the queue, over its tasks' own limits


def run_slurm(console: Console, job: SlurmJob, jobs: list[tuple[str, Path]], retries: int = 0) -> dict[str, int]:
    """Submit the requests as one array (sbatch), follow it with squeue, resubmit failed tasks `retries` times.
    On Ctrl-C / SIGTERM the array is cancelled (scancel); its tasks stop their containers."""
    directory = job.directory
    (directory / "logs").mkdir(parents=True, exist_ok=True)
    (directory / "status").mkdir(parents=True, exist_ok=True)
    requests_file = directory / "requests.txt"
    requests_file.write_text("".join(f"{path}\n" for _, path in jobs))
    script = directory / "sweep.sbatch"
    script.write_text(slurm_script(job, requests_file, len(jobs)))
    todo = list(range(len(jobs)))
    codes: dict[int, int] = {}
    for attempt in range(retries + 1):
        for index in todo:
            (directory / "status" / str(index)).unlink(missing_ok=True)
        array = ",".join(map(str, todo))
        job_id = _slurm("sbatch", "--parsable", f"--array={array}", str(script)).strip().split(";")[0]
        console.print(f"sweep: submitted Slurm job {job_id} ({len(todo)} tasks{', retry' if attempt else ''})")
        try:
            _follow(console, job_id, len(todo), variant_limit(job.limits) * len(todo) + SLURM_QUEUE)
        except KeyboardInterrupt:
            _cancel(job_id)
            stopped = [jobs[i][0] for i in todo if not (directory / "status" / str(i)).is_file()]
            raise SweepInterrupted(stopped, []) from None
        for index in todo:
            status = directory / "status" / str(index)
            codes[index] = int(status.read_text()) if status.is_file() else -1  # -1: Slurm stopped the task
        todo = [i for i in todo if codes[i] != 0]
        if not todo:
            break
    return {jobs[i][0]: code for i, code in codes.items()}


def _cancel(job_id: str) -> None:
    """scancel the array and wait a little for it to leave the queue (every call bounded)."""
    with contextlib.suppress(subprocess.TimeoutExpired, OSError):
        subprocess.run(["scancel", job_id], check=False, capture_output=True, timeout=30)
    deadline = time.monotonic() + CANCEL_WAIT
    while time.monotonic() < deadline:
        try:
            queued = subprocess.run(["squeue", "-h", "-j", job_id], capture_output=True, text=True, timeout=30)
        except (subprocess.TimeoutExpired, OSError):
            return
        if not queued.stdout.strip():
            return
        time.sleep(0.25)


def _follow(console: Console, job: str, count: int, bound: float) -> None:
    """Until the job leaves the queue (no slurmdbd needed: squeue, not sacct), `bound` seconds at most: past it
    (the tasks one after another, each at its limit, and SLURM_QUEUE in the queue) it is cancelled."""
    deadline = time.monotonic() + bound
    with console.status(f"Slurm job {job}") as status:
        while True:
            states = _slurm("squeue", "-h", "-r", "-j", job, "-o", "%T").split()
            if not states:
                return
            if time.monotonic() > deadline:
                _cancel(job)
                raise StepFailed(
                    f"Slurm job {job} was still queued or running after {human_duration(bound)} (its tasks one "
                    "after another at their limits, and a day in the queue); it was cancelled.",
                    "Check the queue and the nodes (`squeue`, `sinfo`): tasks that cannot be scheduled wait forever. "
                    "The sweep resumes where it stopped when run again.",
                )
            counts = {s: states.count(s) for s in sorted(set(states))}
            done = count - len(states)
            status.update(
                f"Slurm job {job}: {done}/{count} done, " + ", ".join(f"{n} {s.lower()}" for s, n in counts.items())
            )
            time.sleep(2)


# ---------- results ----------


def pareto_front(points: list[tuple[float, float]]) -> list[int]:
    """Indices of the points no other point beats on both (lower is better for both)."""
    return [
        i
        for i, (x, y) in enumerate(points)
        if not any((a <= x and b <= y) and (a < x or b < y) for j, (a, b) in enumerate(points) if j != i)
    ]


@dataclass(frozen=True)
class SweepRow:
    """One variant in the sweep's results: the grid's values, its step's exit code, the plan's estimate and what
    csim or csynth measured (None: not run, or no result)."""

    variant: str
    values: dict[str, str]  # the grid's values for it
    part: str
    exit_code: int | None
    plan: Plan | None = None
    csim: CsimResult | None = None
    csynth: CsynthSummary | None = None

    def columns(self) -> dict[str, object]:
        """Its row in sweep.json, sweep.csv and the table: the plan's numbers as est_*, csynth's as they are."""
        row: dict[str, object] = {
            "variant": self.variant,
            **self.values,
            "part": self.part,
            "exit_code": self.exit_code,
        }
        if self.plan:
            estimates = {f"est_{k}": v for k, v in self.plan.totals.items()}
            row.update(fits=self.plan.verdict, est_latency_cycles=self.plan.latency_cycles, **estimates)
        if self.csim:
            row.update(
                top1_agreement=self.csim.top1_agreement,
                max_abs_diff=self.csim.max_abs_diff,
                hls_accuracy=self.csim.hls_accuracy,
            )
        if self.csynth:
            resources = {k: self.csynth.resources.get(k) for k in RESOURCES}
            row.update(latency_cycles=self.csynth.worst_latency, interval=self.csynth.interval_max, **resources)
        return row


def gather(variants: list[Variant], step: str, build: Path, codes: dict[str, int]) -> list[SweepRow]:
    rows = []
    for variant in variants:
        base = build / variant.name / variant.flow.part
        report = read_as(SynthReport, base / "csynth" / "report.json") if step == "csynth" else None
        rows.append(
            SweepRow(
                variant.name,
                {k: str(v) for k, v in variant.values.items()},
                variant.flow.part,
                codes.get(variant.name),
                read_as(Plan, base / "plan" / "plan.json"),
                read_as(CsimResult, base / "csim" / "result.json") if step == "csim" else None,
                report.csynth if report else None,
            )
        )
    return rows


def read_as(kind: type[T], path: Path) -> T | None:
    """The JSON file at `path` as `kind` (a type with from_dict), or None when there is none or it is not one."""
    try:
        return kind.from_dict(json.loads(path.read_text()))
    except (OSError, ValueError, TypeError):
        return None


def write_results(rows: list[SweepRow], directory: Path) -> None:
    table = [row.columns() for row in rows]
    (directory / "sweep.json").write_text(json.dumps(table, indent=2) + "\n")
    columns = list(dict.fromkeys(k for row in table for k in row))
    with (directory / "sweep.csv").open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=columns)
        writer.writeheader()
        writer.writerows(table)


def plot_points(rows: list[SweepRow]) -> list[ParetoPoint]:
    """Latency against resources (the largest share of its part any resource takes), front marked: csynth's
    where it ran, else the plan's estimate."""
    points = []
    for row in rows:
        if row.csynth:
            latency, used_by = row.csynth.worst_latency, row.csynth.resources
        elif row.plan:
            latency, used_by = row.plan.latency_cycles, row.plan.totals
        else:
            continue
        capacity = resolve_device(row.part).capacity()
        used = [(used_by.get(k) or 0) / capacity[k] for k in RESOURCES if capacity.get(k)]
        if latency is not None and used:
            points.append(ParetoPoint(row.variant, latency, max(used), row.csynth is None))
    front = pareto_front([(p.resources, p.latency) for p in points])
    points = [dataclasses.replace(point, pareto=i in front) for i, point in enumerate(points)]
    return points


def show(console: Console, rows: list[SweepRow]) -> None:
    cells = [row.columns() for row in rows]
    columns = [c for c in dict.fromkeys(k for row in cells for k in row) if c not in ("exit_code",)]
    table = Table(title="Sweep results", title_justify="left")
    for column in columns:
        table.add_column(column.replace("est_", "est. "), justify="left" if column == "variant" else "right")
    for row in cells:
        ok = row.get("exit_code") == 0
        table.add_row(*(_cell(row.get(c)) for c in columns), style=None if ok else "red")
    print_table(console, table)


def _cell(value: object) -> str:
    if isinstance(value, float):
        return f"{value:.3g}"
    if isinstance(value, int):
        return f"{value:,}"
    return "" if value is None else str(value)


def memory_note(workers: int, asked: int, memory: int) -> str | None:
    if workers < asked:
        return (
            f"running {workers} at a time, not {asked}: each variant may use {human_size(memory)} and "
            f"{human_size(psutil.virtual_memory().available)} is free"
        )
    return None


# ---------- the whole sweep ----------

EXECUTORS = ("local", "slurm")


def run_sweep(
    console: Console,
    template: RunRequest,
    grid: dict[str, list[str]],
    executor: str,
    workers: int,
    skip_infeasible: bool,
    retries: int,
) -> None:
    """The plan of every variant first (cheap, cached), then the step on the executor, then the results."""
    variants = expand(template.flow, grid)
    template.flow.csim.check_images(template.workspace.root)  # before any variant: one message, not one each
    directory = template.workspace.build / "sweeps" / template.flow.name
    prepare_dir(directory)
    paths = write_variants(variants, directory / "flows")
    requests = [template.replace(flow=v.flow, flow_file=path) for v, path in zip(variants, paths, strict=True)]
    local = local_workers(workers, template.limits.memory)
    if note := memory_note(local, workers, template.limits.memory):
        console.print(f"[yellow]sweep: {note}[/]")
    console.print(f"sweep: {len(variants)} variants of {template.flow.name}; the plan first (cheap, cached)")
    plan_jobs = write_requests([r.replace(step="plan", force=False) for r in requests], directory / "requests" / "plan")
    limit = variant_limit(template.limits)
    LocalExecutor(console, "plan", local, directory / "logs" / "plan", limit).run(plan_jobs)
    if skip_infeasible:
        keep = [
            r
            for r in requests
            if (plan := read_as(Plan, r.final_dir.with_name("plan") / "plan.json")) and plan.verdict != NO_FIT
        ]
        console.print(f"sweep: --skip-infeasible drops {len(requests) - len(keep)} variant(s) that cannot fit")
        requests = keep
    step = template.step
    codes: dict[str, int] = {}
    if step == "plan":
        codes = {r.flow.name: 0 for r in requests}
    elif requests:
        jobs = write_requests(requests, directory / "requests" / step)
        if executor == "local":
            codes = LocalExecutor(console, step, local, directory / "logs" / step, limit).run(jobs)
        else:
            job = SlurmJob(step, template.workspace.root, template.limits, directory / "slurm")
            codes = run_slurm(console, job, jobs, retries)
    rows = gather([v for v in variants if v.name in codes], step, template.workspace.build, codes)
    write_results(rows, directory)
    plot(console, rows, directory, template)
    show(console, rows)
    console.print(f"[green]Sweep:[/] {directory}/sweep.json, sweep.csv, pareto.png")
    failed = [name for name, code in codes.items() if code != 0]
    if failed:
        raise HlsboxError(
            f"{len(failed)} of {len(codes)} variants failed: {', '.join(failed)}.",
            f"Logs: {directory}/logs/ (local) or {directory}/slurm/logs/; run the sweep again to retry "
            "them (finished variants are skipped).",
        )


def plot(console: Console, rows: list[SweepRow], directory: Path, template: RunRequest) -> None:
    points = plot_points(rows)
    if not points:
        return
    name = template.flow.name
    spec = ParetoPlot(str(directory), f"{name}: {len(points)} variants ({template.step})", name, tuple(points))
    (directory / "pareto-spec.json").write_text(json.dumps(spec.to_dict()))
    pareto = step_table.step("pareto")
    command = ["python", "-m", "hlsbox.steps", pareto.name, "--spec", str(directory / "pareto-spec.json")]
    limits = Limits(parse_size(pareto.memory), cpus=1, pids=pareto.pids, timeout=parse_duration(pareto.timeout))
    task = Task("pareto plot", command, directory, template.workspace, limits, {"org.hlsbox.step": pareto.name})
    outcome, _ = execute(console, task)
    if outcome.exit_code != 0:
        console.print("[yellow]sweep: the plot could not be drawn (see the log); the results are complete[/]")
