"""Synthesis reports -> report.json and tables.

The summary comes from hls4ml's own parser (run in the image: `parse_vivado_report`, VivadoResult.report); this
module adds what it lacks: numbers as numbers, the per-instance (per-layer) breakdown from the csynth .rpt,
and the percentages of the part.

report.json's types live here, not in core.contract: the host writes it and reads it (the view, the sweep's
table), it never crosses into the image. Their JSON keeps hls4ml's names (TargetClockPeriod, WorstLatency, the
cosim report's RTL, Status, ...) and the report's columns (DSP, LUT, ...).
"""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar

from rich.console import Console
from rich.table import Table

from hlsbox.core.contract import JsonRecord, LayerRow, VivadoResult
from hlsbox.core.jsonrecord import build_fields
from hlsbox.core.parts import Device
from hlsbox.runtime.tables import cell_limit, print_table

RESOURCES = ("BRAM_18K", "DSP", "FF", "LUT", "URAM")
_CONFIG = re.compile(r"config(\d+)")
Number = int | float


def _number(value: object) -> Number | None:
    try:
        number = float(str(value).strip())
    except (TypeError, ValueError):
        return None
    return int(number) if number.is_integer() else number


# CsynthSummary's fields and hls4ml's names of them (CSynthesisReport's keys, report.json's)
CSYNTH_KEYS = {
    "target_clock_period": "TargetClockPeriod",
    "estimated_clock_period": "EstimatedClockPeriod",
    "best_latency": "BestLatency",
    "worst_latency": "WorstLatency",
    "interval_min": "IntervalMin",
    "interval_max": "IntervalMax",
}


@dataclass(frozen=True)
class CsynthSummary(JsonRecord):
    """C synthesis as hls4ml's CSynthesisReport states it (from the csynth .xml), as numbers. None: the report
    states no such value."""

    target_clock_period: Number | None = None  # ns
    estimated_clock_period: Number | None = None  # ns
    best_latency: Number | None = None  # cycles
    worst_latency: Number | None = None
    interval_min: Number | None = None  # cycles
    interval_max: Number | None = None
    resources: dict[str, Number | None] = field(default_factory=dict)  # used, per resource (RESOURCES)
    available: dict[str, Number | None] = field(default_factory=dict)  # the part's, as the tool states it

    JSON_NAMES: ClassVar[dict[str, str]] = CSYNTH_KEYS


# CosimSummary's fields and hls4ml's names of them (CosimReport's keys, report.json's)
COSIM_KEYS = {
    "rtl": "RTL",
    "status": "Status",
    "latency_min": "LatencyMin",
    "latency_max": "LatencyMax",
    "latency_avg": "LatencyAvg",
    "interval_min": "IntervalMin",
    "interval_max": "IntervalMax",
    "interval_avg": "IntervalAvg",
}


@dataclass(frozen=True)
class CosimSummary(JsonRecord):
    """C/RTL co-simulation as hls4ml's CosimReport states it: the cosim .rpt's first RTL row that ran, its
    latency and interval replaced by the transactions' (with their averages) where the tool wrote them. None:
    not stated (NA); left out of the JSON, as hls4ml leaves it out."""

    rtl: str | None = None  # Verilog / VHDL
    status: str | None = None  # Pass / Fail
    latency_min: Number | None = None  # cycles
    latency_max: Number | None = None
    latency_avg: Number | None = None
    interval_min: Number | None = None  # cycles
    interval_max: Number | None = None
    interval_avg: Number | None = None

    JSON_NAMES: ClassVar[dict[str, str]] = COSIM_KEYS
    OMIT_NONE = True


@dataclass(frozen=True)
class SynthInstance(JsonRecord):
    """One instance of the csynth .rpt's Instance tables (one per layer function in hls4ml designs): its
    resources and latency. In JSON each resource is a key of its own, as the report's columns."""

    instance: str
    module: str = ""
    resources: dict[str, Number] = field(default_factory=dict)  # the report's columns of RESOURCES
    latency_min: Number | None = None  # cycles
    latency_max: Number | None = None
    layer: str | None = None  # the hls4ml layer it builds (named after its config)

    def to_dict(self) -> dict:
        data = super().to_dict()
        return {"instance": data.pop("instance"), "module": data.pop("module"), **data.pop("resources"), **data}

    @classmethod
    def from_dict(cls, data: dict) -> SynthInstance:
        resources = {key: value for key, value in data.items() if key in RESOURCES}
        rest = {key: value for key, value in data.items() if key not in RESOURCES}
        return build_fields(cls, {**rest, "resources": resources})

    def resource(self, name: str) -> Number:
        return self.resources.get(name, 0)


@dataclass(frozen=True)
class SynthReport(JsonRecord):
    """report.json: what each report of a Vivado step says, as numbers, with the part's capacity and the
    per-layer breakdown. None: the step made no such report (left out of the JSON)."""

    part: str
    device: str
    capacity: dict[str, int]
    csynth: CsynthSummary | None = None
    instances: tuple[SynthInstance, ...] | None = None  # from the csynth .rpt, when there is one
    cosim: CosimSummary | None = None
    vsynth: dict[str, Number | None] | None = None  # Vivado's logic synthesis, per resource
    ip_archives: tuple[str, ...] = ()  # export's

    def to_dict(self) -> dict:
        return {key: value for key, value in super().to_dict().items() if value not in (None, [])}

    def write(self, path: Path) -> None:
        path.write_text(json.dumps(self.to_dict(), indent=2) + "\n")


def csynth_summary(section: dict) -> CsynthSummary:
    """hls4ml's CSynthesisReport (strings) -> numbers."""
    return CsynthSummary(
        **{ours: _number(section.get(theirs)) for ours, theirs in CSYNTH_KEYS.items()},
        resources={r: _number(section.get(r)) for r in RESOURCES},
        available={r: _number(section.get(f"Available{r}")) for r in RESOURCES},
    )


def cosim_summary(section: dict) -> CosimSummary:
    """hls4ml's CosimReport (strings, or numbers from the transactions) -> numbers, RTL and status as text."""
    numbers = {ours: _number(section.get(theirs)) for ours, theirs in COSIM_KEYS.items()}
    return CosimSummary(**{**numbers, "rtl": section.get("RTL"), "status": section.get("Status")})


def vsynth_resources(section: dict) -> dict[str, Number | None]:
    """hls4ml's VivadoSynthReport (strings) -> numbers per resource (its DSP48E is DSP, as everywhere else)."""
    return {("DSP" if key.startswith("DSP") else key): _number(value) for key, value in section.items()}


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


def instances(rpt: Path) -> list[SynthInstance]:
    """Per instance (one per layer function in hls4ml designs): resources and latency from the csynth .rpt."""
    lines = rpt.read_text(errors="replace").splitlines()
    latency = _instance_latency(lines)
    return [
        SynthInstance(name, module, resources, *latency.get(name, (None, None)))
        for name, (module, resources) in _instance_usage(lines).items()
    ]


def _instance_usage(lines: list[str]) -> dict[str, tuple[str, dict[str, Number]]]:
    """Each instance's module and resources: the Instance table of the Utilization Estimates."""
    usage_at = _section(lines, "Instance", "== Utilization Estimates")
    if usage_at is None:
        return {}
    header, rows = _table_rows(lines, usage_at)
    names = ["DSP" if h.startswith("DSP") else h for h in header]
    usage = {}
    for cells in rows:
        row = dict(zip(names, cells, strict=False))
        usage[row["Instance"]] = (row.get("Module", ""), {r: _number(row.get(r)) or 0 for r in RESOURCES if r in row})
    return usage


def _instance_latency(lines: list[str]) -> dict[str, tuple[Number | None, Number | None]]:
    """Each instance's latency (min, max cycles): the Instance table of the Performance Estimates."""
    latency_at = _section(lines, "Instance", "== Performance Estimates")
    if latency_at is None:
        return {}
    _, rows = _table_rows(lines, latency_at)
    return {cells[0]: (_number(cells[2]), _number(cells[3])) for cells in rows if len(cells) >= 4}


def attach_layers(rows: Sequence[SynthInstance], layers: Sequence[LayerRow]) -> list[SynthInstance]:
    """hls4ml names a layer's function after its config (`..._config<index>_...`): name each instance's layer."""
    by_index = {layer.index: layer.name for layer in layers if layer.index is not None}
    return [dataclasses.replace(row, layer=_layer_of(row, by_index)) for row in rows]


def _layer_of(row: SynthInstance, by_index: dict[int, str]) -> str | None:
    match = _CONFIG.search(row.module or row.instance)
    return by_index.get(int(match.group(1))) if match else None


def _csynth_rpt(project_dir: Path) -> Path | None:
    """The top function's csynth .rpt (beside its .xml, the one hls4ml reads), else the first there is."""
    top = next(project_dir.glob("*_prj/solution1/syn/report/*_csynth.xml"), None)
    if top and top.with_suffix(".rpt").is_file():
        return top.with_suffix(".rpt")
    return next(project_dir.glob("*_prj/solution1/syn/report/*_csynth.rpt"), None)


def build_report(
    result: VivadoResult, part: str, project_dir: Path, layers: Sequence[LayerRow], device: Device
) -> SynthReport:
    """report.json: what each report says, as numbers, with the part's capacity and the breakdown."""
    raw = result.report
    rpt = _csynth_rpt(project_dir) if raw.get("CSynthesisReport") else None
    return SynthReport(
        part=part,
        device=device.name,
        capacity=device.capacity(),
        csynth=csynth_summary(raw["CSynthesisReport"]) if raw.get("CSynthesisReport") else None,
        instances=tuple(attach_layers(instances(rpt), layers)) if rpt is not None else None,
        cosim=cosim_summary(raw["CosimReport"]) if raw.get("CosimReport") else None,
        vsynth=vsynth_resources(raw["VivadoSynthReport"]) if raw.get("VivadoSynthReport") else None,
        ip_archives=result.ip_archives,
    )


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


def show(console: Console, report: SynthReport, title: str) -> None:
    if report.csynth is not None:
        _show_csynth(console, report.csynth, report.capacity, title)
    if report.instances:
        _show_instances(console, report.instances)
    if report.cosim is not None:
        cosim = report.cosim
        console.print(
            f"[bold]Co-simulation[/]: {cosim.rtl or ''} {cosim.status or ''}, latency "
            f"{_stated(cosim.latency_min)}-{_stated(cosim.latency_max)} cycles, interval "
            f"{_stated(cosim.interval_min)}-{_stated(cosim.interval_max)}"
        )
    if report.vsynth is not None:
        used = ", ".join(f"{k} {_share(v, report.capacity.get(k))}" for k, v in report.vsynth.items())
        console.print(f"[bold]Vivado synthesis[/]: {used}")
    if report.ip_archives:
        console.print(f"[bold]IP[/]: {', '.join(report.ip_archives)}")


def _stated(value: Number | None) -> str:
    return "?" if value is None else str(value)


def _show_csynth(console: Console, synth: CsynthSummary, capacity: dict[str, int], title: str) -> None:
    period = synth.target_clock_period
    table = Table(title=title, title_justify="left", show_header=False, min_width=60)
    table.add_column("what")
    table.add_column("value", justify="right")
    table.add_row(
        "latency (best / worst)",
        f"{_cycles_and_time(synth.best_latency, period)} / {_cycles_and_time(synth.worst_latency, period)}",
    )
    table.add_row("interval (min / max)", f"{synth.interval_min} / {synth.interval_max} cycles")
    estimate = synth.estimated_clock_period
    late = estimate is not None and period is not None and estimate > period
    table.add_row(
        "clock: target / estimate",
        f"{period} ns / "
        + (f"[red]{estimate} ns[/]" if late else f"{estimate} ns")
        + (f" ({1000 / estimate:.0f} MHz)" if estimate else ""),
    )
    for resource in RESOURCES:
        used = synth.resources.get(resource)
        if used is None and not capacity.get(resource):
            continue
        table.add_row(resource, _share(used, capacity.get(resource)))
    print_table(console, table)


def _show_instances(console: Console, rows: Sequence[SynthInstance]) -> None:
    table = Table(title="Per layer (csynth instances)", title_justify="left")
    for column in ("layer", "instance", "DSP", "BRAM_18K", "LUT", "FF", "latency (cycles)"):
        table.add_column(
            column,
            justify="left" if column in ("layer", "instance") else "right",
            max_width=cell_limit(console, 40) if column == "instance" else None,
        )
    for row in rows:
        table.add_row(
            row.layer or "",
            row.instance,
            *(f"{row.resource(r):,}" for r in ("DSP", "BRAM_18K", "LUT", "FF")),
            "" if row.latency_max is None else str(row.latency_max),
        )
    print_table(console, table)
