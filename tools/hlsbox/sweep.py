"""Sweeps: the variants of a flow over a grid, each a normal run (own run dir, manifest, cache), run in
parallel on this machine or as a Slurm job array, then gathered into one table, JSON, CSV and a plot.

Variants are written as flow files under build/sweeps/<flow>/flows/, so every executor runs the same
`hlsbox <step> --flow <variant>` and a sweep resumes for free: finished variants are up to date.
"""

from __future__ import annotations

import csv
import itertools
import json
import math
import re
import shlex
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import psutil
from rich.console import Console
from rich.live import Live
from rich.table import Table

from hlsbox.errors import BadInput, StepFailed
from hlsbox.flow import Flow
from hlsbox.parts import resolve_device
from hlsbox.units import human_size

# What a grid may vary, and the short tag each value gets in a variant's name.
GRID_KEYS = {"reuse_factor": "rf", "precision": "p", "strategy": "", "io_type": "", "part": "", "clock_period": "clk"}
STEPS = ("plan", "convert", "csim", "csynth")


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


def to_toml(flow: Flow) -> str:
    """A flow as TOML that load_flow reads back (scalars first, then the tables)."""
    lines, tables = [], []
    for key, value in flow.model_dump(exclude_none=True).items():
        if isinstance(value, dict):
            tables.append(
                f"\n[{key}]\n" + "".join(f"{k} = {_toml_value(v)}\n" for k, v in value.items() if v is not None)
            )
        else:
            lines.append(f"{key} = {_toml_value(value)}\n")
    return "# written by hlsbox sweep\n" + "".join(lines) + "".join(tables)


def _toml_value(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return json.dumps(value) if isinstance(value, str) else str(value)


def write_variants(variants: list[Variant], directory: Path) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    paths = []
    for variant in variants:
        path = directory / f"{variant.name}.toml"
        text = to_toml(variant.flow)
        if not path.is_file() or path.read_text() != text:  # unchanged files keep their hash: cache hits
            path.write_text(text)
        paths.append(path)
    return paths


def step_command(step: str, flow_file: Path, run_args: list[str]) -> list[str]:
    return [sys.executable, "-m", "hlsbox", step, "--flow", str(flow_file), *run_args]


# ---------- local executor ----------


def local_workers(asked: int, memory_per_variant: int) -> int:
    """As many as asked, within the cores and the memory free now (each variant's limit counts)."""
    by_memory = int(psutil.virtual_memory().available // max(memory_per_variant, 1))
    return max(1, min(asked, psutil.cpu_count() or 1, by_memory))


def run_local(
    console: Console, step: str, paths: list[Path], run_args: list[str], workers: int, logs: Path
) -> dict[str, int]:
    """Each variant's `hlsbox <step>` as a subprocess, `workers` at a time, one live table for all."""
    logs.mkdir(parents=True, exist_ok=True)
    state = {p.stem: "queued" for p in paths}
    running: dict[str, subprocess.Popen] = {}

    def one(path: Path) -> int:
        state[path.stem] = "running"
        with (logs / f"{path.stem}.log").open("w") as log:
            proc = subprocess.Popen(step_command(step, path, run_args), stdout=log, stderr=subprocess.STDOUT)
            running[path.stem] = proc
            code = proc.wait()
        running.pop(path.stem, None)
        text = (logs / f"{path.stem}.log").read_text(errors="replace")
        state[path.stem] = "up to date" if code == 0 and "up to date" in text else "ok" if code == 0 else f"exit {code}"
        return code

    def view() -> Table:
        table = Table(title=f"sweep: {step} of {len(paths)} variants, {workers} at a time", title_justify="left")
        table.add_column("variant")
        table.add_column("state")
        for name, what in state.items():
            colour = {"running": "cyan", "ok": "green", "up to date": "green", "queued": "dim"}.get(what, "red")
            table.add_row(name, f"[{colour}]{what}[/]")
        return table

    try:
        with (
            ThreadPoolExecutor(max_workers=workers) as pool,
            Live(view(), console=console, refresh_per_second=2, transient=not console.is_terminal) as live,
        ):
            futures = {p.stem: pool.submit(one, p) for p in paths}
            while not all(f.done() for f in futures.values()):
                time.sleep(0.5)
                live.update(view())
            live.update(view())
        if not console.is_terminal:
            console.print(view())
        return {name: future.result() for name, future in futures.items()}
    except KeyboardInterrupt:
        for proc in list(running.values()):  # each hlsbox stops its container on SIGTERM
            proc.terminate()
        for proc in list(running.values()):
            proc.wait(timeout=60)
        raise


# ---------- Slurm executor ----------


@dataclass(frozen=True)
class SlurmJob:
    """One sweep's job array: what each task runs, where, and our limits to map to Slurm's."""

    step: str
    workspace: Path
    run_args: list[str]
    memory: int  # bytes, the container's limit
    cpus: float
    timeout: float  # seconds
    directory: Path  # the sweep's slurm/ dir: script, variants, logs, status


def slurm_script(job: SlurmJob, variants_file: Path, count: int) -> str:
    """A job array: task i runs variant i (line i+1 of variants_file), with our limits mapped to Slurm's:
    --mem is the container's memory plus 1 GiB for hlsbox itself, --time our timeout plus 10 minutes."""
    minutes = math.ceil(job.timeout / 60) + 10
    command = " ".join(shlex.quote(a) for a in [sys.executable, "-m", "hlsbox", job.step, "--flow"])
    args = " ".join(shlex.quote(a) for a in job.run_args)
    return f"""#!/bin/bash
#SBATCH --job-name=hlsbox-{job.step}
#SBATCH --array=0-{count - 1}
#SBATCH --cpus-per-task={max(1, math.ceil(job.cpus))}
#SBATCH --mem={job.memory // 2**20 + 1024}M
#SBATCH --time={minutes // 60}:{minutes % 60:02d}:00
#SBATCH --output={job.directory}/logs/task-%a.log
set -u
cd {shlex.quote(str(job.workspace))}
flow=$(sed -n "$((SLURM_ARRAY_TASK_ID + 1))p" {shlex.quote(str(variants_file))})
{command} "$flow" {args}
code=$?
echo "$code" > {shlex.quote(str(job.directory))}/status/$SLURM_ARRAY_TASK_ID
exit "$code"
"""


def _slurm(*command: str) -> str:
    try:
        proc = subprocess.run(command, capture_output=True, text=True, timeout=60)
    except FileNotFoundError:
        raise BadInput(
            f"`{command[0]}` is not installed: no Slurm here.", "Run on a Slurm login node, or use --executor local."
        ) from None
    if proc.returncode != 0:
        raise StepFailed(
            f"`{' '.join(command[:2])}` failed: {proc.stderr.strip()[:300]}",
            "Check that the cluster is up (`sinfo`) and accepts jobs.",
        )
    return proc.stdout


def run_slurm(console: Console, job: SlurmJob, paths: list[Path], retries: int = 0) -> dict[str, int]:
    """Submit the variants as one array (sbatch), follow it with squeue, resubmit failed tasks `retries` times."""
    directory = job.directory
    (directory / "logs").mkdir(parents=True, exist_ok=True)
    (directory / "status").mkdir(parents=True, exist_ok=True)
    variants_file = directory / "variants.txt"
    variants_file.write_text("".join(f"{p}\n" for p in paths))
    script = directory / "sweep.sbatch"
    script.write_text(slurm_script(job, variants_file, len(paths)))
    todo = list(range(len(paths)))
    codes: dict[int, int] = {}
    for attempt in range(retries + 1):
        for index in todo:
            (directory / "status" / str(index)).unlink(missing_ok=True)
        array = ",".join(map(str, todo))
        job = _slurm("sbatch", "--parsable", f"--array={array}", str(script)).strip().split(";")[0]
        console.print(f"sweep: submitted Slurm job {job} ({len(todo)} tasks{', retry' if attempt else ''})")
        try:
            _follow(console, job, len(todo))
        except KeyboardInterrupt:
            subprocess.run(["scancel", job], check=False)
            raise
        for index in todo:
            status = directory / "status" / str(index)
            codes[index] = int(status.read_text()) if status.is_file() else -1  # -1: Slurm stopped the task
        todo = [i for i in todo if codes[i] != 0]
        if not todo:
            break
    return {paths[i].stem: code for i, code in codes.items()}


def _follow(console: Console, job: str, count: int) -> None:
    """Until the job leaves the queue (no slurmdbd needed: squeue, not sacct)."""
    with console.status(f"Slurm job {job}") as status:
        while True:
            states = _slurm("squeue", "-h", "-r", "-j", job, "-o", "%T").split()
            if not states:
                return
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


def gather(variants: list[Variant], step: str, build: Path, codes: dict[str, int]) -> list[dict]:
    rows = []
    for variant in variants:
        base = build / variant.name / variant.flow.part
        row: dict = {
            "variant": variant.name,
            **{k: str(v) for k, v in variant.values.items()},
            "part": variant.flow.part,
            "exit_code": codes.get(variant.name),
        }
        plan = read_json(base / "plan" / "plan.json")
        if plan:
            row.update(
                fits=plan["verdict"],
                est_latency_cycles=plan["latency_cycles"],
                **{f"est_{k}": v for k, v in plan["totals"].items()},
            )
        if step == "csim" and (result := read_json(base / "csim" / "result.json")):
            row.update(
                top1_agreement=result["top1_agreement"],
                max_abs_diff=result["max_abs_diff"],
                hls_accuracy=result.get("hls_accuracy"),
            )
        if step == "csynth" and (report := read_json(base / "csynth" / "report.json")) and "csynth" in report:
            synth = report["csynth"]
            row.update(
                latency_cycles=synth["WorstLatency"],
                interval=synth["IntervalMax"],
                **{k: synth["resources"].get(k) for k in ("LUT", "FF", "BRAM_18K", "DSP")},
            )
        rows.append(row)
    return rows


def read_json(path: Path) -> dict | None:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def write_results(rows: list[dict], directory: Path) -> None:
    (directory / "sweep.json").write_text(json.dumps(rows, indent=2) + "\n")
    columns = list(dict.fromkeys(k for row in rows for k in row))
    with (directory / "sweep.csv").open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=columns)
        writer.writeheader()
        writer.writerows(rows)


def plot_points(rows: list[dict]) -> list[dict]:
    """Latency against resources (the largest share of its part any resource takes), front marked."""
    points = []
    for row in rows:
        capacity = resolve_device(row["part"]).capacity()
        latency = row.get("latency_cycles", row.get("est_latency_cycles"))
        used = [
            (row.get(k, row.get(f"est_{k}")) or 0) / capacity[k]
            for k in ("LUT", "FF", "BRAM_18K", "DSP")
            if capacity.get(k)
        ]
        if latency is not None and used:
            points.append(
                {
                    "variant": row["variant"],
                    "latency": latency,
                    "resources": max(used),
                    "estimated": "latency_cycles" not in row,
                }
            )
    front = pareto_front([(p["resources"], p["latency"]) for p in points])
    for i, point in enumerate(points):
        point["pareto"] = i in front
    return points


def show(console: Console, rows: list[dict]) -> None:
    columns = [c for c in dict.fromkeys(k for row in rows for k in row) if c not in ("exit_code",)]
    table = Table(title="Sweep results", title_justify="left")
    for column in columns:
        table.add_column(column.replace("est_", "est. "), justify="left" if column == "variant" else "right")
    for row in rows:
        ok = row.get("exit_code") == 0
        table.add_row(*(_cell(row.get(c)) for c in columns), style=None if ok else "red")
    console.print(table)


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
