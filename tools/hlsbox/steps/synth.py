"""Step `synth` (backend = "da4ml"): yosys' synth_xilinx of rtl's Verilog for the part's family, its cells counted.

Debian's yosys (0.23 in bookworm): `read_verilog -defer` of the project's sources, `synth_xilinx -family <f> -top
model -flatten`, `stat`. Its numbers are core.contract.RTL_LEVEL: post-synthesis cells, no place-and-route, no
timing. yosys' whole log goes to yosys.log; its numbered passes are printed as they start (the live view's lines).
"""

from __future__ import annotations

import re
import subprocess
import time
from pathlib import Path

from hlsbox.core.contract import RTL_LEVEL, ResultTable, StepSpec, SynthResult
from hlsbox.core.parts import Device, resolve_device
from hlsbox.steps import rtl
from hlsbox.steps.protocol import StepFailure, phase

YOSYS_LOG = "yosys.log"
# yosys' numbered passes, e.g. "4.12. Executing ABC pass": printed live (the second level of the numbering)
_PASS = re.compile(r"^\d+\.\d+\. Executing (.+)")
_STAT_CELL = re.compile(r"^\s+(\S+)\s+(\d+)\s*$")


def family(device: Device) -> str:
    """yosys' synth_xilinx -family of a device: 7-series, UltraScale, UltraScale+ (the Alveo cards' devices too)."""
    if device.family.endswith("-7") or device.family == "Zynq-7000":
        return "xc7"
    return "xcu" if device.family == "Kintex UltraScale" else "xcup"


def sources(project: Path) -> list[Path]:
    """The design's Verilog: da4ml's modules and its static library (not the IO wrapper, which only packs bits)."""
    found = sorted((project / "src" / "static").glob("*.v")) + sorted((project / "src").glob("*.v"))
    return [path for path in found if not path.stem.endswith("_wrapper")]


def script(files: list[Path], top: str, yosys_family: str) -> str:
    read = " ".join(str(path) for path in files)
    return f"read_verilog -defer {read}; synth_xilinx -family {yosys_family} -top {top} -flatten; stat"


def run_yosys(command: list[str], log: Path) -> list[str]:
    """yosys, its log kept whole in `log`, its passes printed as they start; its output's lines."""
    lines: list[str] = []
    with (
        log.open("w") as out,
        subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True) as proc,
    ):
        for line in proc.stdout:
            out.write(line)
            lines.append(line.rstrip("\n"))
            if match := _PASS.match(line):
                print(f"yosys: {match.group(1).strip()}", flush=True)
    if proc.returncode != 0:
        errors = [line for line in lines if "ERROR" in line] or lines[-3:]
        raise StepFailure(
            f"yosys stopped (exit {proc.returncode}): {' / '.join(errors[-3:])}",
            f"Its whole log is {log.name} in the failed run's directory (synth.failed/).",
        )
    return lines


def cells(lines: list[str]) -> dict[str, int]:
    """The cell counts of the last `stat` (the flattened top): 'Number of cells:' then one line per cell type."""
    start = max((i for i, line in enumerate(lines) if "Number of cells:" in line), default=None)
    if start is None:
        raise StepFailure("yosys printed no statistics (no 'Number of cells:').", f"Look at {YOSYS_LOG}.")
    counts: dict[str, int] = {}
    for line in lines[start + 1 :]:
        if not (match := _STAT_CELL.match(line)):
            break
        counts[match.group(1)] = int(match.group(2))
    return counts


def resources(counts: dict[str, int]) -> dict[str, int]:
    """The part's resources the cells use, in the units Vivado reports (BRAM in 18 Kb halves); an INV is a LUT1."""

    def total(pattern: str) -> int:
        return sum(n for name, n in counts.items() if re.fullmatch(pattern, name))

    return {
        "LUT": total(r"LUT[1-6]|INV"),
        "FF": total(r"FD[RSCP]E(_1)?|FD[RSCP]"),
        "CARRY": total(r"CARRY[48]"),
        "DSP": total(r"DSP48E[12]|DSP48E"),
        "BRAM_18K": total(r"RAMB18E[12]") + 2 * total(r"RAMB36E[12]"),
        "LUTRAM": total(r"RAM(32|64|128|256)[XM]\w*|RAM\d+X1[SD]"),
    }


PART_RESOURCES = ("LUT", "FF", "DSP", "BRAM_18K")


def carry_cell(counts: dict[str, int]) -> str:
    """The carry chain cell the netlist has: yosys 0.23 maps UltraScale+ carries to CARRY4 too, unless CARRY8."""
    return "CARRY8" if "CARRY8" in counts else "CARRY4"


def resource_rows(used: dict[str, int], capacity: dict[str, int], carry: str) -> tuple[tuple[str, ...], ...]:
    """The table: each of the part's resources used, of the part; then the carry chains (not counted by the part)."""
    rows = [
        (name, f"{used[name]:,}", f"{capacity[name]:,}", f"{used[name] / capacity[name]:.0%}")
        for name in PART_RESOURCES
        if capacity.get(name)
    ]
    rows.append((carry, f"{used['CARRY']:,}", "", ""))
    return tuple(rows)


def yosys_version() -> str:
    out = subprocess.run(["yosys", "-V"], capture_output=True, text=True, check=False).stdout
    return out.split()[1] if len(out.split()) > 1 else out.strip()


def run(spec: StepSpec) -> SynthResult:
    start = time.monotonic()
    project = spec.run_path / rtl.PROJECT
    device = resolve_device(spec.flow.part)
    yosys_family = family(device)
    files = sources(project)
    phase("yosys synth_xilinx")
    began = time.monotonic()
    lines = run_yosys(["yosys", "-p", script(files, rtl.TOP, yosys_family)], spec.run_path / YOSYS_LOG)
    yosys_seconds = round(time.monotonic() - began, 1)
    counts = cells(lines)
    used = resources(counts)
    capacity = device.capacity()
    rows = resource_rows(used, capacity, carry_cell(counts))
    over = [name for name in PART_RESOURCES if capacity.get(name) and used[name] > capacity[name]]
    notes = (
        RTL_LEVEL + f"; yosys {yosys_version()} synth_xilinx -family {yosys_family}, {yosys_seconds:.0f} s.",
        "cells: " + ", ".join(f"{name} {n:,}" for name, n in sorted(counts.items())),
        f"Does not fit {device.name}: {', '.join(over)} over." if over else f"Fits {device.name} by these counts.",
    )
    table = ResultTable(
        f"yosys cells of da4ml's {rtl.TOP} for {spec.flow.part}",
        ("resource", "used", "part has", "of the part"),
        rows,
        notes,
    )
    return SynthResult(
        "synth",
        table,
        yosys_family,
        rtl.TOP,
        counts,
        used,
        yosys_seconds,
        round(time.monotonic() - start, 2),
        {"yosys": yosys_version()},
    )
