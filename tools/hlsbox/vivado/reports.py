"""Synthesis reports -> report.json and tables.

The summary comes from hls4ml's own parser (run in the image: `parse_vivado_report`); this module
adds what it lacks: numbers as numbers, the per-instance (per-layer) breakdown from the csynth .rpt,
and the percentages of the part.
"""

from __future__ import annotations

import re
from pathlib import Path

from rich.console import Console
from rich.table import Table

from hlsbox.core.contract import layer_rows
from hlsbox.core.parts import Device
from hlsbox.runtime.tables import cell_limit, print_table

RESOURCES = ("BRAM_18K", "DSP", "FF", "LUT", "URAM")
_CONFIG = re.compile(r"config(\d+)")


def _number(value: object) -> float | int | None:
    try:
        number = float(str(value).strip())
    except (TypeError, ValueError):
        return None
    return int(number) if number.is_integer() else number


def csynth_summary(section: dict) -> dict:
    """hls4ml's CSynthesisReport (strings) -> numbers."""
    summary = {
        key: _number(section.get(key))
        for key in (
            "TargetClockPeriod",
            "EstimatedClockPeriod",
            "BestLatency",
            "WorstLatency",
            "IntervalMin",
            "IntervalMax",
        )
    }
    summary["resources"] = {r: _number(section.get(r)) for r in RESOURCES}
    summary["available"] = {r: _number(section.get(f"Available{r}")) for r in RESOURCES}
    return summary


def _table_rows(lines: list[str], start: int) -> tuple[list[str], list[list[str]]]:
    """The header and body rows of the +---+ table that begins at or after `start`."""
    header: list[str] = []
    rows: list[list[str]] = []
    for line in lines[start:]:
        text = line.strip()
        if text.startswith("|"):
            cells = [c.strip() for c in text.strip("|").split("|")]
            if not header:
                header = cells
            elif cells and cells[0] and not cells[0].startswith("Total"):
                rows.append(cells)
            elif cells and cells[0].startswith("Total"):
                break
        elif header and not text.startswith("+"):
            break
    return header, rows


def _section(lines: list[str], title: str, after: str) -> int | None:
    """The index of the line `* <title>:` found after the line containing `after`."""
    begin = next((i for i, line in enumerate(lines) if after in line), None)
    if begin is None:
        return None
    return next((i for i in range(begin, len(lines)) if lines[i].strip().startswith(f"* {title}:")), None)


def instances(rpt: Path) -> list[dict]:
    """Per instance (one per layer function in hls4ml designs): resources and latency from the csynth .rpt."""
    lines = rpt.read_text(errors="replace").splitlines()
    found: dict[str, dict] = {}
    usage_at = _section(lines, "Instance", "== Utilization Estimates")
    if usage_at is not None:
        header, rows = _table_rows(lines, usage_at)
        names = ["DSP" if h.startswith("DSP") else h for h in header]
        for cells in rows:
            row = dict(zip(names, cells, strict=False))
            found[row["Instance"]] = {
                "instance": row["Instance"],
                "module": row.get("Module", ""),
                **{r: _number(row.get(r)) or 0 for r in RESOURCES if r in row},
            }
    latency_at = _section(lines, "Instance", "== Performance Estimates")
    if latency_at is not None:
        _, rows = _table_rows(lines, latency_at)
        for cells in rows:
            if len(cells) >= 4 and cells[0] in found:
                found[cells[0]]["latency_min"], found[cells[0]]["latency_max"] = _number(cells[2]), _number(cells[3])
    return list(found.values())


def attach_layers(rows: list[dict], layers: list[dict]) -> None:
    """hls4ml names a layer's function after its config (`..._config<index>_...`): name each instance's layer."""
    by_index = {row.index: row.name for row in layer_rows(layers) if row.index is not None}
    for row in rows:
        match = _CONFIG.search(row["module"] or row["instance"])
        row["layer"] = by_index.get(int(match.group(1))) if match else None


def build_report(result: dict, project_dir: Path, layers: list[dict], device: Device) -> dict:
    """report.json: what each report says, as numbers, with the part's capacity and the breakdown."""
    raw = result.get("report") or {}
    report: dict = {"part": result.get("part"), "device": device.name, "capacity": device.capacity()}
    if raw.get("CSynthesisReport"):
        report["csynth"] = csynth_summary(raw["CSynthesisReport"])
        rpt = next(project_dir.glob("*_prj/solution1/syn/report/*_csynth.rpt"), None)
        top = next(project_dir.glob("*_prj/solution1/syn/report/*_csynth.xml"), None)
        rpt = top.with_suffix(".rpt") if top and top.with_suffix(".rpt").is_file() else rpt
        if rpt is not None:
            report["instances"] = instances(rpt)
            attach_layers(report["instances"], layers)
    if raw.get("CosimReport"):
        report["cosim"] = {k: _number(v) if _number(v) is not None else v for k, v in raw["CosimReport"].items()}
    if raw.get("VivadoSynthReport"):
        report["vsynth"] = {
            ("DSP" if k.startswith("DSP") else k): _number(v) for k, v in raw["VivadoSynthReport"].items()
        }
    if result.get("ip_archives"):
        report["ip_archives"] = result["ip_archives"]
    return report


def _cycles_and_time(cycles: float | None, period: float | None) -> str:
    if cycles is None:
        return "?"
    if not period:
        return f"{cycles:,} cycles"
    ns = cycles * period
    return f"{cycles:,} cycles ({ns / 1000:,.2f} µs)" if ns >= 1000 else f"{cycles:,} cycles ({ns:,.1f} ns)"


def _share(used: float | None, capacity: float | None) -> str:
    if used is None:
        return "?"
    if not capacity:
        return f"{used:,}"
    share = used / capacity
    colour = "red" if share > 1 else "yellow" if share > 0.8 else "green"
    return f"{used:,} / {capacity:,} [{colour}]({share:.0%})[/]"


def show(console: Console, report: dict, title: str) -> None:
    if "csynth" in report:
        synth = report["csynth"]
        period = synth["TargetClockPeriod"]
        table = Table(title=title, title_justify="left", show_header=False, min_width=60)
        table.add_column("what")
        table.add_column("value", justify="right")
        table.add_row(
            "latency (best / worst)",
            f"{_cycles_and_time(synth['BestLatency'], period)} / {_cycles_and_time(synth['WorstLatency'], period)}",
        )
        table.add_row("interval (min / max)", f"{synth['IntervalMin']} / {synth['IntervalMax']} cycles")
        estimate = synth["EstimatedClockPeriod"]
        late = estimate is not None and period is not None and estimate > period
        table.add_row(
            "clock: target / estimate",
            f"{period} ns / "
            + (f"[red]{estimate} ns[/]" if late else f"{estimate} ns")
            + (f" ({1000 / estimate:.0f} MHz)" if estimate else ""),
        )
        capacity = report["capacity"]
        for resource in RESOURCES:
            used = synth["resources"].get(resource)
            if used is None and not capacity.get(resource):
                continue
            table.add_row(resource, _share(used, capacity.get(resource)))
        print_table(console, table)
    if report.get("instances"):
        table = Table(title="Per layer (csynth instances)", title_justify="left")
        for column in ("layer", "instance", "DSP", "BRAM_18K", "LUT", "FF", "latency (cycles)"):
            table.add_column(
                column,
                justify="left" if column in ("layer", "instance") else "right",
                max_width=cell_limit(console, 40) if column == "instance" else None,
            )
        for row in report["instances"]:
            table.add_row(
                row.get("layer") or "",
                row["instance"],
                *(f"{row.get(r, 0):,}" for r in ("DSP", "BRAM_18K", "LUT", "FF")),
                str(row.get("latency_max", "")),
            )
        print_table(console, table)
    if "cosim" in report:
        cosim = report["cosim"]
        console.print(
            f"[bold]Co-simulation[/]: {cosim.get('RTL', '')} {cosim.get('Status', '')}, latency "
            f"{cosim.get('LatencyMin', '?')}-{cosim.get('LatencyMax', '?')} cycles, interval "
            f"{cosim.get('IntervalMin', '?')}-{cosim.get('IntervalMax', '?')}"
        )
    if "vsynth" in report:
        used = ", ".join(f"{k} {_share(v, report['capacity'].get(k))}" for k, v in report["vsynth"].items())
        console.print(f"[bold]Vivado synthesis[/]: {used}")
    if report.get("ip_archives"):
        console.print(f"[bold]IP[/]: {', '.join(report['ip_archives'])}")
