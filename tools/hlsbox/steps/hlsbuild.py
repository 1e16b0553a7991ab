"""Steps `csynth`, `cosim`, `export`, `vsynth`: run the host's Vivado HLS / Vitis HLS (mounted) as the
host built the command, on the project convert wrote, and keep the tool's real exit status.

hls4ml's own `build()` ignores the exit status and parses whatever reports exist; here the status
counts, an ERROR line counts, and a report the step should have made and did not is an error.
"""

from __future__ import annotations

import contextlib
import io
import os
import re
import signal
import subprocess
import sys
from pathlib import Path

from hlsbox.core.contract import StepSpec, VivadoResult
from hlsbox.steps.protocol import phase

# The hls4ml report section each step must produce.
EXPECTED_REPORT = {"csynth": "CSynthesisReport", "cosim": "CosimReport", "vsynth": "VivadoSynthReport"}


def build_opt_tcl(options: dict[str, int]) -> str:
    """hls4ml's Vitis template sources build_opt.tcl (the Vivado one ignores it)."""
    return "array set opt {\n" + "".join(f"    {k:<10} {v}\n" for k, v in options.items()) + "}\n"


def run_tool(command: list[str], cwd: Path, stop_on: list[str] = ()) -> tuple[int, list[str], str | None]:
    """Run the tool, passing its output through line by line; its exit status, ERROR lines, and the line it
    was stopped at (a `stop_on` pattern: the tool and all its children are killed at once)."""
    errors: list[str] = []
    stopped = None
    stops = [re.compile(pattern, re.I) for pattern in stop_on]
    with subprocess.Popen(
        command,
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        errors="replace",
        bufsize=1,
        start_new_session=True,  # its own process group: stopping it stops its children too
    ) as proc:
        assert proc.stdout is not None
        for line in proc.stdout:
            sys.stdout.write(line)
            sys.stdout.flush()
            if re.match(r"\s*(ERROR:|@E )", line):
                errors.append(line.strip())
            if any(stop.search(line) for stop in stops):
                stopped = line.strip()
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                print(f"ERROR: hlsbox stopped the tool at once at: {stopped[:200]}", flush=True)
                break
    code = proc.returncode
    return (128 - code if code < 0 else code), errors, stopped  # killed by signal N -> 128 + N, as a shell does


def parse_reports(project_dir: Path) -> dict:
    """hls4ml's own parser (its 'not found' prints go to the log, not the screen)."""
    import hls4ml

    with contextlib.redirect_stdout(io.StringIO()) as out:
        try:
            report = hls4ml.report.parse_vivado_report(str(project_dir)) or {}
        except Exception as exc:  # an old or odd project layout: say so, the host reports it as missing
            report = {"parse_error": f"{type(exc).__name__}: {exc}"}
    report["parser_messages"] = [line for line in out.getvalue().splitlines() if line.strip()]
    return report


def resource_chart(report: dict, png: Path, part: str) -> str | None:
    """A PNG of each resource's use against the part's capacity (from the csynth report)."""
    synth = report.get("CSynthesisReport") or {}
    names = [n for n in ("LUT", "FF", "BRAM_18K", "DSP", "URAM") if float(synth.get(f"Available{n}") or 0) > 0]
    if not names:
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    used = [100 * float(synth[n]) / float(synth[f"Available{n}"]) for n in names]
    fig, ax = plt.subplots(figsize=(6, 3.2))
    bars = ax.bar(names, used, color=["#c0392b" if u > 100 else "#e67e22" if u > 80 else "#27ae60" for u in used])
    ax.axhline(100, color="black", linewidth=1, linestyle="--")
    ax.set_ylabel("% of the part")
    ax.set_title(f"C synthesis estimate on {part}")
    for bar, n, u in zip(bars, names, used, strict=True):
        ax.annotate(
            f"{synth[n]}\n{u:.0f}%",
            (bar.get_x() + bar.get_width() / 2, bar.get_height()),
            ha="center",
            va="bottom",
            fontsize=8,
        )
    ax.set_ylim(0, max(110, max(used) * 1.25))
    fig.tight_layout()
    fig.savefig(png, dpi=110)
    plt.close(fig)
    return str(png)


REPORT_FILES = {
    "CSynthesisReport": "{p}_prj/solution1/syn/report/{p}_csynth.xml",
    "CosimReport": "{p}_prj/solution1/sim/report/{p}_cosim.rpt",
    "VivadoSynthReport": "vivado_synth.rpt",
}


def missing_report(step: str, report: dict, ip_archives: list[str], project: str) -> str | None:
    """What the step should have produced and did not, in words."""
    if step == "export":
        return None if ip_archives else f"export produced no IP archive ({project}_prj/solution1/impl/ip/*.zip)"
    expected = EXPECTED_REPORT[step]
    if report.get(expected):
        return None
    return f"{step} produced no report: {REPORT_FILES[expected].format(p=project)} is missing"


def exit_code_of(result: VivadoResult) -> int:
    """The step's own status: the tool's, else 1 for an ERROR in its log or a missing report."""
    if result.stopped_at:
        return 1
    if result.tool_exit_code:
        return result.tool_exit_code
    return 1 if result.errors or result.missing_report else 0


def run(spec: StepSpec) -> VivadoResult:
    vivado, step, run_dir = spec.vivado, spec.step, spec.run_path
    project_dir = Path(vivado.project_dir)
    (project_dir / "build_opt.tcl").write_text(build_opt_tcl(vivado.options))
    command = vivado.command  # built on the host (hlsbox.vivado.chain.tool_command)
    if vivado.fake_date:
        print(
            f"hlsbox: {vivado.tool} runs with the clock at {vivado.fake_date} (libfaketime): this release has "
            "the Y2K22 export_design bug (Xilinx AR 76960) and the install is not patched.",
            flush=True,
        )
    phase(f"running {vivado.tool} ({step})")
    exit_code, errors, stopped = run_tool(command, project_dir, list(vivado.stop_on))
    phase("reading reports")
    report = parse_reports(project_dir)
    chart = resource_chart(report, run_dir / "resources.png", spec.flow.part)
    ip = sorted(str(p) for p in project_dir.glob("*_prj/solution1/impl/ip/*.zip"))
    return VivadoResult(
        step=step,
        tool=vivado.tool,
        command=tuple(command),
        tool_exit_code=exit_code,
        report=report,
        # a tool stopped at a fatal message was never going to write its report: that is not news
        missing_report=None if stopped else missing_report(step, report, ip, spec.flow.project_name),
        stopped_at=stopped,
        errors=tuple(errors[:50]),
        expected_report=EXPECTED_REPORT.get(step),
        ip_archives=tuple(ip),
        chart=chart,
        fake_date=vivado.fake_date,
        manifest={"faketime": vivado.fake_date} if vivado.fake_date else {},
    )
