"""hlsbox benchmarks (`make bench`): timings, not tests. Results go to bench/results/ with the machine.

0. `hlsbox plan` of the seed flow, end to end (goal < 10 s).
1. The container's cost: convert (seed flow) and csim (seed model, io_stream) natively vs in the
   container, as a ratio (goal <= 1.15). "Natively" is the same step code (python -m hlsbox.steps)
   in a host venv installed from the same lock file.
4. A sweep of 8 csim variants locally with 1 and 2 workers and through Slurm: throughput, and the Slurm
   path's overhead per task.
3. The Vivado wrapper's overhead (probe, container start, mount, log streaming, report parsing): a 30 s
   csynth of the vivado_hls test double natively vs through `hlsbox csynth` (goal <= 1.15).
7. Issue 32: the C-simulation library of the digits CNN, a small Conv1D+BatchNorm model (models/conv1d_bn.py) and,
   with --with-seed, the seed_fit flow, built every way side by side (hls4ml's own, fast unsplit, fast split cold and
   cached) and the build fastcsim's rule picks, as a ratio to hls4ml's own.
2. C simulation of the seed's io_parallel design: hlsbox's fast build (cold, then with ccache) against hls4ml's own
   compile() under a 20 min cap (the cap is reported when hit).
6. No run hangs (issue 18): csynth of the seed flow refused by its plan before any Vivado process; the seed's
   real Vivado HLS 2018.2 log (shared/seed/author) replayed by the double at 1000x to SYNCHK 200-77; a hung
   double (no output, no CPU) stopped by the watchdog at --hang-after 30s (exit 123).
5. `hlsbox fit` of the digits flow (xc7z020) and of the seed flow (xc7z010, then the part fit names): wall time,
   C simulations, held-out agreement, resources against the starting flow's, the median probe and where its time
   goes (convert, compile, predict).
6. fit's speed (issue 20): the seed flow on the xc7z010 ended by the lower bound, cold and cached, and fit of the
   seed's real model (--real-seed-flow, a flow on ../shared/seed/author/model_2_15.keras with real images): probe
   median and wall time; each beside the figure recorded before the change (the fit part of BEFORE).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

import docker
import psutil

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tools"))
sys.path.insert(0, str(REPO))
from hlsbox.config.formats import load_flow  # noqa: E402
from hlsbox.core.contract import FitResult  # noqa: E402
from hlsbox.core.planner import Plan  # noqa: E402

NATIVE_VENV = REPO / "build" / "bench" / "native-venv"
BEFORE = REPO / "tests" / "bench" / "results" / "bench-20261125-1820.json"  # fit before the lower bound
# Issue 20, measured before the change on the seed's real model: 16-46 s a probe, 32 probes in 16 min.
REAL_SEED_BEFORE = {"probe_s": [16, 46], "probes": 32, "wall_s": 960}
# Before the split C build (one unit a layer, precompiled header, objects cached by content), the same fit on the
# xc7k325t, --agreement 0.95, ccache cold, by hand (2026-12-02): 40 probes, budget on the point estimate.
REAL_SEED_BEFORE_SPLIT = {
    "wall_s": 570,
    "probes": 40,
    "probe_median_s": 13.1,
    "probe_phases_s": {"convert": 0.35, "compile": 9.4, "predict": 3.2},
    "held_out_agreement": 0.96,
}


def machine() -> dict:
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor(),
    )
    return {
        "cpu": cpu,
        "cores": psutil.cpu_count(),
        "memory_gib": round(psutil.virtual_memory().total / 2**30, 1),
        "kernel": platform.release(),
        "python": platform.python_version(),
        "docker": docker.from_env().version().get("Version"),
    }


def native_venv() -> Path:
    python = NATIVE_VENV / "bin" / "python"
    if not python.exists():
        print("bench: making the native venv from docker/requirements.lock (once, ~1 min)", flush=True)
        subprocess.run([sys.executable, "-m", "venv", str(NATIVE_VENV)], check=True)
        env = {**os.environ}
        if os.environ.get("CA_BUNDLE"):
            env["PIP_CERT"] = os.environ["CA_BUNDLE"]
        subprocess.run(
            [
                str(NATIVE_VENV / "bin" / "pip"),
                "install",
                "-q",
                "--no-deps",
                "--require-hashes",
                "-r",
                str(REPO / "docker" / "requirements.lock"),
            ],
            check=True,
            env=env,
        )
    return python


def run_native(step: str, flow_file: str) -> float:
    flow = load_flow(REPO / flow_file)
    run_dir = REPO / "build" / "bench" / f"native-{flow.name}-{step}"
    subprocess.run(["rm", "-rf", str(run_dir)], check=True)
    run_dir.mkdir(parents=True)
    spec = {
        "step": step,
        "flow": flow.model_dump(),
        "model_path": str(flow.model_path(REPO)),
        "run_dir": str(run_dir),
        "workspace": str(REPO),
    }
    (run_dir / "spec.json").write_text(json.dumps(spec))
    env = {**os.environ, "PYTHONPATH": str(REPO / "tools"), "TF_CPP_MIN_LOG_LEVEL": "2"}
    start = time.monotonic()
    subprocess.run(
        [str(native_venv()), "-m", "hlsbox.steps", step, "--spec", str(run_dir / "spec.json")],
        check=True,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    return time.monotonic() - start


def run_container(step: str, flow_file: str, timeout: str = "1h") -> tuple[float, int]:
    start = time.monotonic()
    proc = subprocess.run(
        [str(REPO / ".venv" / "bin" / "hlsbox"), step, "--flow", flow_file, "--timeout", timeout, "--force"],
        cwd=REPO,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    return time.monotonic() - start, proc.returncode


def container_vs_native(repeats: int) -> list[dict]:
    rows = []
    for step, flow in (("convert", "flows/seed.toml"), ("csim", "flows/seed_stream.toml")):
        run_native(step, flow)  # warm the page cache for both sides
        native = [run_native(step, flow) for _ in range(repeats)]
        contained = [run_container(step, flow)[0] for _ in range(repeats)]
        row = {
            "step": step,
            "flow": flow,
            "repeats": repeats,
            "native_s": round(statistics.median(native), 2),
            "container_s": round(statistics.median(contained), 2),
        }
        row["ratio"] = round(row["container_s"] / row["native_s"], 3)
        print(
            f"bench: {step:8s} {flow:24s} native {row['native_s']:7.2f} s  container {row['container_s']:7.2f} s"
            f"  ratio {row['ratio']:.3f}",
            flush=True,
        )
        rows.append(row)
    return rows


def hlsbox_run(*args: str, timeout: float | None = None) -> tuple[float, int, str]:
    """Wall time, exit code and what it said on stderr (the error paragraph of a failed run)."""
    start = time.monotonic()
    proc = subprocess.run(
        [str(REPO / ".venv" / "bin" / "hlsbox"), *args],
        cwd=REPO,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "COLUMNS": "200"},
        timeout=timeout,
    )
    return time.monotonic() - start, proc.returncode, proc.stderr.strip()


def fast_csim(cap: int) -> dict:
    """The seed's io_parallel design (conv2d_2 at the ReuseFactor its kernel allows) in C simulation: hlsbox's
    fast build cold and with ccache, and hls4ml's own compile() (--exact-build) under a time cap."""
    flow = REPO / "build" / "bench" / "seed_parallel.toml"
    flow.parent.mkdir(parents=True, exist_ok=True)
    text = (REPO / "flows" / "seed.toml").read_text().replace('name = "seed"', 'name = "seed_parallel"')
    flow.write_text(text + "\n[layers.conv2d_2]\nreuse_factor = 3\n")
    subprocess.run(["rm", "-rf", str(REPO / "build" / ".ccache")], check=True)
    run_dir = REPO / "build" / "seed_parallel" / "xc7z010clg400-1"
    row: dict = {"flow": "flows/seed.toml with conv2d_2 at ReuseFactor 3", "cap_s": cap}
    for label, extra in (("fast_cold", ()), ("fast_ccache", ()), ("hls4ml_compile", ("--exact-build",))):
        seconds, code, _ = hlsbox_run("csim", "--flow", str(flow), "--force", "--timeout", f"{cap}s", *extra)
        run = run_dir / ("csim" if code == 0 else "csim.failed")
        manifest = json.loads((run / "manifest.json").read_text())
        result = json.loads((run / "result.json").read_text()) if code == 0 else {}
        row[label] = {
            "exit_code": code,
            "capped": code == 124,
            "step_s": round(seconds, 1),
            "compile_s": result.get("compile_seconds"),
            "peak_memory_gib": round(manifest["peak_memory"] / 2**30, 2),
            "top1_agreement": result.get("top1_agreement"),
        }
        what = f"compile {result.get('compile_seconds')} s" if code == 0 else f"exit {code} (cap {cap} s)"
        print(f"bench: csim of the seed, io_parallel, {label}: {what}, peak {row[label]['peak_memory_gib']} GiB")
    exact = row["hls4ml_compile"]["compile_s"] or cap
    row["speedup"] = round(exact / row["fast_cold"]["compile_s"], 1)
    print(
        f"bench: fast build {row['speedup']}x faster than hls4ml's compile"
        + (" (or more: capped)" if row["hls4ml_compile"]["capped"] else "")
    )
    return row


def csim_builds(with_seed: bool) -> dict:
    """Issue 32: each design's C-simulation library built every way, cold, in the image (tests/in_image/csim_builds.py):
    hls4ml's own build_lib.sh, the fast tree as build_lib.sh's two units, the fast tree split (empty cache, then full);
    the build fastcsim's rule picks, and its time as a ratio to hls4ml's own (goal <= 1.0), all in one run."""
    from tests.conftest import run_in_image

    from hlsbox.config.flow import image_flow
    from hlsbox.runtime import engines

    bench = REPO / "build" / "bench"
    bench.mkdir(parents=True, exist_ok=True)
    conv1d = bench / "conv1d_bn.toml"
    digits = (REPO / "flows" / "digits.toml").read_text()
    conv1d.write_text(
        digits.replace('name = "digits"', 'name = "conv1d_bn"').replace("digits_cnn.keras", "conv1d_bn.keras")
    )
    flows = {"digits": REPO / "flows" / "digits.toml", "conv1d_bn": conv1d}
    if with_seed:
        flows["seed_fit"] = REPO / "flows" / "seed_fit.toml"
    spec = {
        "out": str(bench / "csim_builds"),
        "designs": {name: image_flow(load_flow(path)).to_dict() for name, path in flows.items()},
    }
    (bench / "csim_builds.json").write_text(json.dumps(spec))
    script = (REPO / "tests" / "in_image" / "csim_builds.py").read_text()
    lines = run_in_image(engines.select(), REPO, script, timeout=3600, args=(str(bench / "csim_builds.json"),))
    rows = [json.loads(line[7:]) for line in lines if line.startswith("BUILDS ")]
    for row in rows:
        print(
            f"bench: csim build of {row['design']} ({row['layers']} layers, {row['im2col_copies']:,} im2col copies): "
            f"hls4ml's own {row['hls4ml_own_s']} s, fast unsplit {row['fast_unsplit_s']} s, split cold "
            f"{row['fast_split_cold_s']} s (cached {row['fast_split_cached_s']} s); built once it gets "
            f"{row['chosen']}: {row['chosen_over_hls4ml_own']}x hls4ml's own, {row['chosen_over_best']}x the faster"
        )
    return {"designs": rows}


def fit(cap: int) -> dict:
    """`hlsbox fit` from empty caches (probes and ccache): the digits flow on its xc7z020, the seed flow on the
    xc7z010 (and, when that cannot be reached, on the smallest part fit names)."""
    rows: dict = {}
    for name, flow, extra in (
        ("digits", "flows/digits.toml", ()),
        ("seed_z010", "flows/seed.toml", ("--samples", "100")),
        ("seed_a200t", "flows/seed.toml", ("--samples", "100", "--part", "xc7a200tfbg676-2")),
    ):
        loaded = load_flow(REPO / flow)
        stem = loaded.name
        if not name.endswith("a200t"):  # cold: no probe cache, no compiler cache
            subprocess.run(
                ["rm", "-rf", str(REPO / "build" / stem / "fit-cache"), str(REPO / "build" / ".ccache")], check=True
            )
        seconds, code, said = hlsbox_run("fit", "--flow", flow, "--force", *extra)
        row: dict = {"flow": flow, "args": list(extra), "exit_code": code, "wall_s": round(seconds, 1)}
        if code != 0:
            row["message"] = said
        part = extra[-1] if "--part" in extra else loaded.part
        fit_json = REPO / "build" / stem / part / "fit" / "fit.json"
        if code == 0:
            row.update(fit_summary(FitResult.from_dict(json.loads(fit_json.read_text()))))
            original = hlsbox_run("plan", "--flow", flow, "--force", *(("--part", part) if "--part" in extra else ()))
            plan = Plan.from_dict(json.loads((REPO / "build" / stem / part / "plan" / "plan.json").read_text()))
            row["original"] = {"totals": plan.totals, "verdict": str(plan.verdict), "plan_exit": original[1]}
        rows[name] = row
        print(f"bench: fit {name}: exit {code} in {seconds / 60:.1f} min", flush=True)
    return rows


def fit_summary(result: FitResult) -> dict:
    """What the bench records of a fit: its probes, the held-out check, the design, and the probe times."""
    return {
        "probes": len(result.probes),
        "probes_run": result.probes_run,
        "held_out": result.held_out.to_dict(),
        "design": result.design.to_dict(),
        **probe_times(result),
    }


def probe_times(result: FitResult) -> dict:
    """The median probe built in this run (cached ones left out) and the median of each of its phases."""
    built = [p for p in result.probes if not p.cached]
    if not built:
        return {}
    phases = {k: round(statistics.median(p.phases[k] for p in built), 2) for k in built[0].phases}
    return {"probe_median_s": round(statistics.median(p.seconds for p in built), 2), "probe_phases_s": phases}


def fit_speed(real_seed_flow: str | None, part: str | None, agreement: float = 0.99) -> dict:
    """The lower bound's time on the seed flow (xc7z010), cold and with the probe cache; fit of the real seed."""
    before = json.loads(BEFORE.read_text())["fit"] if BEFORE.is_file() else {}
    stem = load_flow(REPO / "flows" / "seed.toml").name
    rows: dict = {}
    for name in ("cold", "cached"):
        if name == "cold":
            subprocess.run(["rm", "-rf", str(REPO / "build" / stem / "fit-cache")], check=True)
        seconds, code, said = hlsbox_run("fit", "--flow", "flows/seed.toml", "--force", "--samples", "100")
        rows[f"seed_z010_{name}"] = {"exit_code": code, "wall_s": round(seconds, 1), "message": said}
        print(f"bench: fit seed on the xc7z010 ({name}): exit {code} in {seconds:.1f} s", flush=True)
    rows["seed_z010_before"] = {k: before.get("seed_z010", {}).get(k) for k in ("exit_code", "wall_s")}
    if real_seed_flow:
        loaded = load_flow(REPO / real_seed_flow)
        extra = (*(("--part", part) if part else ()), "--agreement", str(agreement), "--samples", "100")
        cold = [str(REPO / "build" / loaded.name / "fit-cache"), str(REPO / "build" / ".ccache")]
        subprocess.run(["rm", "-rf", *cold], check=True)  # no probe cache, no compiler cache
        seconds, code, said = hlsbox_run("fit", "--flow", real_seed_flow, "--force", *extra)
        row: dict = {
            "flow": real_seed_flow,
            "part": part or loaded.part,
            "exit_code": code,
            "wall_s": round(seconds, 1),
        }
        fit_json = REPO / "build" / loaded.name / (part or loaded.part) / "fit" / "fit.json"
        if code == 0 and fit_json.is_file():
            row.update(fit_summary(FitResult.from_dict(json.loads(fit_json.read_text()))))
        else:
            row["message"] = said
        rows["real_seed"], rows["real_seed_before"] = row, REAL_SEED_BEFORE
        rows["real_seed_before_split"] = REAL_SEED_BEFORE_SPLIT
        if "probe_median_s" in row:
            print(
                f"bench: probe median {row['probe_median_s']} s {row['probe_phases_s']} (before the split build "
                f"{REAL_SEED_BEFORE_SPLIT['probe_median_s']} s {REAL_SEED_BEFORE_SPLIT['probe_phases_s']}); wall "
                f"{seconds / 60:.1f} min (before {REAL_SEED_BEFORE_SPLIT['wall_s'] / 60:.1f} min)",
                flush=True,
            )
        print(f"bench: fit of the real seed: exit {code} in {seconds / 60:.1f} min", flush=True)
    return rows


def plan_time(repeats: int) -> dict:
    times = []
    for _ in range(repeats):
        start = time.monotonic()
        subprocess.run(
            [str(REPO / ".venv" / "bin" / "hlsbox"), "plan", "--flow", "flows/seed.toml", "--force"],
            cwd=REPO,
            check=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        times.append(time.monotonic() - start)
    row = {"flow": "flows/seed.toml", "repeats": repeats, "median_s": round(statistics.median(times), 2), "goal_s": 10}
    print(f"bench: plan of the seed flow end to end {row['median_s']} s (goal < 10 s)", flush=True)
    return row


def vivado_overhead(repeats: int, seconds: float = 30.0) -> dict:
    import shutil
    import tempfile

    from tests.vivado_double import make_install

    hlsbox = str(REPO / ".venv" / "bin" / "hlsbox")
    with tempfile.TemporaryDirectory(prefix="hlsbox-bench-") as tmp:
        root = make_install(Path(tmp), pause=seconds)
        subprocess.run(
            [hlsbox, "convert", "--flow", "flows/digits.toml"], cwd=REPO, check=True, stdout=subprocess.DEVNULL
        )
        project = Path(tmp) / "native" / "hls4ml_prj"
        native, contained = [], []
        for _ in range(repeats):
            shutil.rmtree(project.parent, ignore_errors=True)
            shutil.copytree(REPO / "build" / "digits" / "xc7z020clg400-1" / "convert" / "hls4ml_prj", project)
            start = time.monotonic()
            subprocess.run(
                [
                    "bash",
                    "-c",
                    f"source {root}/settings64.sh; exec vivado_hls -f build_prj.tcl "
                    "'reset=0 csim=0 synth=1 cosim=0 validation=0 export=0 vsynth=0 fifo_opt=0'",
                ],
                cwd=project,
                check=True,
                stdout=subprocess.DEVNULL,
            )
            native.append(time.monotonic() - start)
            start = time.monotonic()
            subprocess.run(
                [hlsbox, "csynth", "--flow", "flows/digits.toml", "--vivado", str(root), "--force", "--ignore-plan"],
                cwd=REPO,
                check=True,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            contained.append(time.monotonic() - start)
    row = {
        "step_s": seconds,
        "repeats": repeats,
        "native_s": round(statistics.median(native), 2),
        "hlsbox_s": round(statistics.median(contained), 2),
    }
    row["ratio"] = round(row["hlsbox_s"] / row["native_s"], 3)
    print(
        f"bench: csynth of the double ({seconds:.0f} s step): native {row['native_s']} s, hlsbox {row['hlsbox_s']} s,"
        f" ratio {row['ratio']}",
        flush=True,
    )
    return row


def hangs() -> dict:
    import tempfile

    from tests.shared import seed_author
    from tests.vivado_double import make_install, set_knobs

    hlsbox = str(REPO / ".venv" / "bin" / "hlsbox")

    def csynth(root: Path, flow: str, *args: str) -> tuple[float, int]:
        start = time.monotonic()
        command = [hlsbox, "csynth", "--flow", flow, "--vivado", str(root), "--force", *args]
        code = subprocess.run(command, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL).returncode
        return round(time.monotonic() - start, 2), code

    with tempfile.TemporaryDirectory(prefix="hlsbox-bench-") as tmp:
        root = make_install(Path(tmp) / "seed", version="2018.2")
        (root / "replay.log").write_bytes(seed_author("vivado_hls_2018_2_build.log").read_bytes())
        set_knobs(root, replay=str(root / "replay.log"), speed=1000)
        subprocess.run([hlsbox, "plan", "--flow", "flows/seed.toml"], cwd=REPO, check=True, stdout=subprocess.DEVNULL)
        subprocess.run(
            [hlsbox, "convert", "--flow", "flows/seed.toml"], cwd=REPO, check=True, stdout=subprocess.DEVNULL
        )
        refused = csynth(root, "flows/seed.toml")
        replayed = csynth(root, "flows/seed.toml", "--ignore-plan", "--stall", "10s")
        hung_root = make_install(Path(tmp) / "hung", mode="hang")
        hung = csynth(hung_root, "flows/digits.toml", "--ignore-plan", "--hang-after", "30s")
    row = {
        "seed_refused_s": refused[0],
        "seed_refused_exit": refused[1],
        "replay_2018_2_to_synchk_s": replayed[0],
        "replay_exit": replayed[1],
        "hung_at_30s_s": hung[0],
        "hung_exit": hung[1],
    }
    print(
        f"bench: seed csynth refused in {refused[0]} s (exit {refused[1]}); the 2018.2 log at 1000x stopped at SYNCHK "
        f"200-77 in {replayed[0]} s (exit {replayed[1]}); a hung tool at --hang-after 30s stopped in {hung[0]} s "
        f"(exit {hung[1]})",
        flush=True,
    )
    return row


def sweep_throughput(repeats: int) -> dict:
    """8 csim variants of the digits flow: locally with 1 and 2 workers, and through Slurm (tests/slurm/cluster.sh)."""
    hlsbox = str(REPO / ".venv" / "bin" / "hlsbox")
    grid = ["--grid", "reuse_factor=1,2,3,4,5,6,7,8"]
    subprocess.run(["bash", str(REPO / "tests" / "slurm" / "cluster.sh"), "start"], check=True)
    # Untimed: the plans every sweep runs first (cached afterwards), so each timing below is the csim work.
    subprocess.run(
        [hlsbox, "sweep", "--flow", "flows/digits.toml", *grid, "--step", "plan"],
        cwd=REPO,
        check=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    row: dict = {"variants": 8, "step": "csim"}
    for label, extra in (
        ("local_1_worker", ["--workers", "1"]),
        ("local_2_workers", ["--workers", "2"]),
        ("slurm", ["--executor", "slurm"]),
    ):
        start = time.monotonic()
        subprocess.run(
            [hlsbox, "sweep", "--flow", "flows/digits.toml", *grid, "--force", "--mem", "3g", *extra],
            cwd=REPO,
            check=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        seconds = time.monotonic() - start
        row[label] = {"seconds": round(seconds, 1), "variants_per_minute": round(8 * 60 / seconds, 2)}
        print(f"bench: sweep of 8 csim variants, {label}: {seconds:.1f} s ({8 * 60 / seconds:.2f}/min)", flush=True)
    # Slurm runs 2 tasks at once on this 2-core node, like the 2 local workers: the difference is its overhead.
    row["slurm_overhead_per_task_s"] = round((row["slurm"]["seconds"] - row["local_2_workers"]["seconds"]) / 8, 2)
    print(f"bench: Slurm overhead per task {row['slurm_overhead_per_task_s']} s", flush=True)
    return row


PARTS = {
    "plan": lambda args: plan_time(args.repeats),
    "container_vs_native": lambda args: container_vs_native(args.repeats),
    "fast_csim": lambda args: fast_csim(args.cap),
    "csim_builds": lambda args: csim_builds(args.with_seed),
    "fit": lambda args: fit(args.cap),
    "fit_speed": lambda args: fit_speed(args.real_seed_flow, args.real_seed_part, args.real_seed_agreement),
    "vivado_overhead": lambda args: vivado_overhead(args.repeats),
    "sweep": lambda args: sweep_throughput(args.repeats),
    "hangs": lambda args: hangs(),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--cap", type=int, default=1200, help="time cap (s) for hls4ml's own io_parallel compile")
    parser.add_argument("--real-seed-flow", help="fit_speed: a flow of the seed's real model with real images")
    parser.add_argument("--real-seed-part", help="fit_speed: the part to fit it on (default: the flow's)")
    parser.add_argument("--real-seed-agreement", type=float, default=0.99, help="fit_speed: --agreement for it")
    parser.add_argument("--with-seed", action="store_true", help="csim_builds: the seed_fit flow too (slow)")
    parser.add_argument("--only", choices=sorted(PARTS), action="append", help="run these parts only")
    args = parser.parse_args()
    results: dict = {"date": time.strftime("%Y-%m-%d %H:%M"), "machine": machine()}
    for name in args.only or PARTS:
        results[name] = PARTS[name](args)
    out = REPO / "tests" / "bench" / "results" / f"bench-{time.strftime('%Y%m%d-%H%M')}.json"
    out.write_text(json.dumps(results, indent=2) + "\n")
    print(f"bench: results in {out.relative_to(REPO)}")


if __name__ == "__main__":
    main()
