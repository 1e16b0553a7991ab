"""The hang watchdog's bookkeeping, the stack dump a hung step leaves, the tool stopped at a fatal message,
and the refusal of a hopeless synthesis: real processes and signals, no engine (the engine side is in
tests/integration/test_hangs.py)."""

from __future__ import annotations

import io
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from types import SimpleNamespace

import pytest
from rich.console import Console

from hlsbox.commands.vivado import hopeless
from hlsbox.core.errors import EXIT_HUNG
from hlsbox.core.units import parse_duration_or_off
from hlsbox.runtime.engines import Limits, Outcome
from hlsbox.runtime.engines.watchdog import CPU_IDLE, STALE_SAMPLES, HangDetector, cpu_total, format_processes
from hlsbox.runtime.progress import StepDisplay
from hlsbox.runtime.runner import explain_failure
from hlsbox.steps.hlsbuild import run_tool

CORE = 1_000_000_000  # one core-second in nanoseconds


def feed(detector: HangDetector, start: float, seconds: int, share: float, cpu: int = 0) -> int:
    """One sample a second for `seconds`, using `share` of a core; the cumulative CPU at the end."""
    for t in range(1, seconds + 1):
        cpu += int(share * CORE)
        detector.cpu(start + t, cpu)
    return cpu


def test_silent_and_idle_for_hang_after_is_hung():
    detector = HangDetector(hang_after=30, start=0.0)
    detector.cpu(0.0, 0)
    feed(detector, 0.0, 29, share=0.0)
    assert detector.hung(29.0) == 0.0
    feed(detector, 29.0, 2, share=0.0)
    assert detector.hung(31.0) == pytest.approx(31.0)


def test_a_silent_step_that_computes_is_not_hung():
    """Vivado HLS's 7 h 45 min of "Checking synthesizability" printed nothing at full CPU."""
    detector = HangDetector(hang_after=30, start=0.0)
    detector.cpu(0.0, 0)
    feed(detector, 0.0, 120, share=1.0)
    assert detector.hung(120.0) == 0.0
    assert detector.quiet_for(120.0) == 0.0


def test_output_or_cpu_use_restarts_the_count():
    detector = HangDetector(hang_after=30, start=0.0)
    detector.cpu(0.0, 0)
    cpu = feed(detector, 0.0, 20, share=0.0)
    detector.output(20.0)
    cpu = feed(detector, 20.0, 20, share=0.0, cpu=cpu)
    assert detector.hung(40.0) == 0.0  # 20 s since the line
    cpu = feed(detector, 40.0, 1, share=0.5, cpu=cpu)  # a burst of work
    feed(detector, 41.0, 29, share=CPU_IDLE / 2, cpu=cpu)  # below the idle share: idle
    assert detector.hung(70.0) == 0.0 and detector.quiet_for(70.0) == pytest.approx(29.0)
    assert detector.hung(71.5) == pytest.approx(30.5)  # the last sample (70) is fresh: it vouches for 71.5


def test_without_cpu_samples_nothing_is_ever_hung():
    """A step the engine's stats cannot see (no samples, or samples that stopped) is never called hung."""
    blind = HangDetector(hang_after=5, start=0.0)
    assert blind.hung(3600.0) == 0.0
    stale = HangDetector(hang_after=5, start=0.0)
    feed(stale, 0.0, 10, share=0.0)
    assert stale.hung(10.0) > 0
    assert stale.hung(10.0 + STALE_SAMPLES + 1) == 0.0


def test_cpu_total_reads_docker_and_podman_stats_records():
    assert cpu_total({"cpu_stats": {"cpu_usage": {"total_usage": 123456789}}}) == 123456789
    assert cpu_total({"cpu_stats": {}}) is None
    assert cpu_total({"read": "0001-01-01T00:00:00Z"}) is None  # the first record of a stream may be empty


def test_processes_are_a_table():
    top = {"Titles": ["UID", "PID", "CMD"], "Processes": [["1000", "7", "python -m hlsbox.steps csynth"]]}
    assert format_processes(top) == "UID  PID  CMD\n1000  7  python -m hlsbox.steps csynth\n"


def test_hang_after_off_and_durations():
    assert parse_duration_or_off("off") == 0.0 and parse_duration_or_off("90s") == 90.0


BLOCKED_STEP = textwrap.dedent(
    """
    import os, sys, threading
    from pathlib import Path
    from hlsbox.steps.protocol import dump_stacks_on_sigusr1
    dump_stacks_on_sigusr1(Path(sys.argv[1]))
    read, write = os.pipe()
    def feed_a_worker_that_is_gone():
        while True:
            os.write(write, b"x" * 65536)  # blocks once the pipe is full: nobody reads it
    threading.Thread(target=feed_a_worker_that_is_gone, name="task-handler", daemon=True).start()
    print("ready", flush=True)
    threading.Event().wait()
    """
)


WHOLE_DUMP = ("feed_a_worker_that_is_gone", "Current thread", "in <module>")  # the blocked thread and the main one


def test_sigusr1_dumps_every_threads_stack_of_a_blocked_step(tmp_path: Path):
    """The dump the watchdog asks for before it stops a hung step: written even with a thread blocked in a
    pipe write (the fit deadlock of issue 18)."""
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2] / "tools")}
    with subprocess.Popen(
        [sys.executable, "-c", BLOCKED_STEP, str(tmp_path)], stdout=subprocess.PIPE, text=True, env=env
    ) as proc:
        try:
            assert proc.stdout.readline().strip() == "ready"
            pid = int((tmp_path / "step.pid").read_text())
            assert pid == proc.pid
            os.kill(pid, signal.SIGUSR1)
            deadline = time.monotonic() + 10
            # faulthandler writes thread by thread, the current (main) thread last: wait for the whole dump,
            # not only its first thread, before the step is killed
            while not all(mark in (stacks := (tmp_path / "stacks.txt").read_text()) for mark in WHOLE_DUMP):
                assert time.monotonic() < deadline, stacks
                time.sleep(0.05)
        finally:
            proc.kill()
    assert all(mark in (tmp_path / "stacks.txt").read_text() for mark in WHOLE_DUMP)


def test_a_step_that_ends_by_itself_leaves_no_dump_files(tmp_path: Path):
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2] / "tools")}
    code = "import sys; from pathlib import Path; from hlsbox.steps.protocol import dump_stacks_on_sigusr1; "
    code += "dump_stacks_on_sigusr1(Path(sys.argv[1]))"
    subprocess.run([sys.executable, "-c", code, str(tmp_path)], env=env, check=True, timeout=60)
    assert list(tmp_path.iterdir()) == []


def test_the_tool_is_stopped_at_once_at_a_fatal_message(tmp_path: Path):
    """A tool (and its child) that would go on for minutes after SYNCHK 200-77 is killed when the line comes."""
    tool = tmp_path / "tool.sh"
    tool.write_text(
        "#!/bin/sh\nsleep 300 &\necho $! > child.pid\necho 'INFO: [HLS 200-10] Checking synthesizability ...'\n"
        "echo \"WARNING: [SYNCHK 200-77] The top function 'myproject' has no outputs.\"\nsleep 300\necho never\n"
    )
    tool.chmod(0o755)
    start = time.monotonic()
    code, errors, stopped = run_tool([str(tool)], tmp_path, [r"\[SYNCHK 200-77\]"])
    assert time.monotonic() - start < 10
    assert stopped is not None and "has no outputs" in stopped
    assert code == 128 + signal.SIGKILL and errors == []
    child = int((tmp_path / "child.pid").read_text())
    deadline = time.monotonic() + 5
    while _alive(child):  # killed with the tool's process group (a zombie until its new parent reaps it)
        assert time.monotonic() < deadline, f"the tool's child {child} survived"
        time.sleep(0.05)


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def test_a_hung_step_is_reported_as_hung_not_as_a_timeout(tmp_path: Path):
    (tmp_path / "stacks.txt").write_text("Thread 0x1 (most recent call first):\n")
    (tmp_path / "processes.txt").write_text("UID PID CMD\n")
    console = Console(file=io.StringIO())
    with StepDisplay(console, "csynth seed", tmp_path / "step.log") as display:
        display.line("INFO: [HLS 200-10] Starting code transformations ...")
    outcome = Outcome(EXIT_HUNG, 40.0, hung=31.0)
    failure = explain_failure("csynth of flow 'seed'", outcome, display, tmp_path, Limits())
    assert failure.exit_code == EXIT_HUNG == 123
    assert "hung" in failure.message and "timeout" not in failure.message and "time limit" not in failure.message
    assert "Starting code transformations" in failure.message and "31s" in failure.message
    assert str(tmp_path / "stacks.txt") in failure.hint and str(tmp_path / "processes.txt") in failure.hint


def plan_of(totals: dict[str, int], bands: dict[str, tuple[int, int]], capacity: dict[str, int]) -> SimpleNamespace:
    """A plan.json from before the synthesis level (its csynth figures decide), or, as `synthesis`, that level."""
    return SimpleNamespace(totals=totals, bands=bands, capacity=capacity, synthesis=None)


def test_hopeless_names_what_exceeds_the_part_even_at_the_bands_low_end():
    """The seed's plan numbers (docs/vivado.md): LUT 4,692,388 (3.55M-6.52M) on the xc7z010's 17,600."""
    seed = plan_of(
        {"LUT": 4_692_388, "DSP": 4_396, "FF": 100},
        {"LUT": (3_550_000, 6_520_000), "DSP": (3_300, 4_800), "FF": (80, 120)},
        {"LUT": 17_600, "DSP": 80, "FF": 35_200},
    )
    over = hopeless(seed)
    assert [text.split()[0] for text in over] == ["LUT", "DSP"]
    assert "4,692,388 (band 3,550,000-6,520,000) against 17,600: 26661%" in over[0]
    tight = plan_of({"LUT": 19_000}, {"LUT": (14_000, 26_000)}, {"LUT": 17_600})  # over at the estimate only
    assert hopeless(tight) == []
    # a plan with a synthesis level: that level's figures decide (csynth's 26,661% alone does not refuse)
    seed.synthesis = plan_of(
        {"LUT": 15_000, "DSP": 70, "FF": 80}, {"LUT": (9_000, 24_000), "DSP": (60, 80), "FF": (40, 90)}, {}
    )
    assert hopeless(seed) == []
    seed.synthesis.totals["LUT"], seed.synthesis.bands["LUT"] = 2_205_423, (1_280_000, 3_500_000)
    assert [text.split()[0] for text in hopeless(seed)] == ["LUT"]


# ---------- every other wait on a child is bounded ----------


def test_a_silent_subprocess_of_the_image_build_is_stopped(tmp_path: Path):
    """debootstrap against a mirror that stopped answering: stopped after its silence, its children too."""
    from hlsbox.core.errors import StepFailed
    from hlsbox.runtime.image import _run_streaming

    script = f"sleep 300 & echo $! > {tmp_path}/child.pid; echo fetching; sleep 300"
    seen: list[str] = []
    start = time.monotonic()
    with pytest.raises(StepFailed, match="printed nothing for"):
        _run_streaming(["sh", "-c", script], seen.append, "debootstrap", silence=1.0, total=60)
    assert time.monotonic() - start < 10 and seen == ["fetching"]
    child = int((tmp_path / "child.pid").read_text())
    deadline = time.monotonic() + 5
    while _alive(child):
        assert time.monotonic() < deadline, "the child of the stopped command survived"
        time.sleep(0.05)


def test_a_sweep_variant_past_its_bound_is_stopped(tmp_path: Path):
    from hlsbox.commands.sweep import LocalExecutor
    from hlsbox.core.errors import EXIT_TIMEOUT

    executor = LocalExecutor(Console(file=io.StringIO()), "csim", 1, tmp_path, limit=1.0)
    log = (tmp_path / "v.log").open("w")
    with subprocess.Popen(["sleep", "300"], stdout=log) as proc:
        start = time.monotonic()
        assert executor._wait(proc, log) == EXIT_TIMEOUT
        assert time.monotonic() - start < 10 and proc.poll() is not None
    log.close()
    assert "ran past 1s and was stopped" in (tmp_path / "v.log").read_text()


def test_a_slurm_command_that_does_not_answer_is_an_error(monkeypatch):
    from hlsbox.commands import sweep
    from hlsbox.core.errors import StepFailed

    monkeypatch.setattr(sweep, "SLURM_CALL", 0.5)
    with pytest.raises(StepFailed, match="did not answer within"):
        sweep._slurm("sleep", "30")
