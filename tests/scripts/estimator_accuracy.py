"""Estimated / reported, for every recorded design (tests/data/estimator): the error tables of docs/estimator.md.

Each design's layers come from tests/data/estimator/described/ (hlsbox's describe step run on the recorded
model and config, `make estimator-data`); the estimate is hlsbox's own (hlsbox.core.planner.estimate_design) for the
recorded part, tool and clock; the figures it is held against are the csynth reports' (designs/*.json).
`python -m tests.scripts.estimator_accuracy` prints the tables and each design's ratios, out of sample (held_out_points:
each design estimated by a calibration fitted without any design of its repository) and in sample;
`--write-surrogate` rewrites the surrogate's data from the records; `--describe` re-describes every record in the
image (`make estimator-data`).
"""

from __future__ import annotations

import json
import statistics
import sys
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tools"))

from hlsbox.core.contract import layer_rows  # noqa: E402
from hlsbox.core.estimator import Design, estimate_design  # noqa: E402
from hlsbox.core.parts import resolve_device  # noqa: E402

DATA = REPO / "tests" / "data" / "estimator"
RESOURCES = ("DSP", "BRAM_18K", "LUT", "FF")
TIMING = ("latency", "interval")
TOOLS = {"vivado_hls": "Vivado HLS", "vitis_hls": "Vitis HLS"}
FITTED = (
    "LUT",
    "FF",
)  # the quantities whose constants tests/scripts/calibrate_estimator.py fits (in and out of sample)


@dataclass(frozen=True)
class Point:
    design: str
    tool: str
    quantity: str
    estimated: float
    reported: float

    @property
    def ratio(self) -> float:
        if self.reported == 0:
            return 1.0 if self.estimated == 0 else float("inf")
        return self.estimated / self.reported


def designs() -> list[tuple[dict, dict]]:
    pairs = []
    for path in sorted((DATA / "designs").glob("*.json")):
        described = DATA / "described" / path.name
        if described.is_file():
            pairs.append((json.loads(path.read_text()), json.loads(described.read_text())))
    return pairs


def design_of(record: dict, described: dict) -> Design:
    return Design(
        layers=layer_rows(described["layers"]),
        io_type=record["io_type"],
        device=resolve_device(record["part"]) if _known(record["part"]) else None,
        part=record["part"],
        tool=record["tool"]["name"],
        clock_period=record["clock_period"],
        tool_version=record["tool"]["version"],
    )


def _known(part: str) -> bool:
    try:
        resolve_device(part)
        return True
    except Exception:
        return False


def points() -> list[Point]:
    """In sample: every design estimated with CALIBRATION, which was fitted to all of them."""
    found = []
    for record, described in designs():
        found += points_of(record, design_of(record, described))
    return found


def held_out_points() -> list[Point]:
    """Out of sample: each design estimated by a calibration fitted without any design of its repository."""
    from tests.scripts.calibrate_estimator import held_out_points

    return list(held_out_points())


def points_of(record: dict, design: Design) -> list[Point]:
    estimate = estimate_design(design)
    reported = record["reported"]
    tool = record["tool"]["name"]
    found = []
    for resource in RESOURCES:
        if reported.get(resource) is not None:
            found.append(Point(record["id"], tool, resource, estimate.totals[resource], reported[resource]))
    if reported.get("latency_max") is not None:
        found.append(Point(record["id"], tool, "latency", estimate.latency, reported["latency_max"]))
    if reported.get("interval_max") is not None:
        found.append(Point(record["id"], tool, "interval", estimate.interval, reported["interval_max"]))
    return found


@dataclass(frozen=True)
class Row:
    tool: str
    quantity: str
    designs: int
    median: float
    within_25: float  # share of designs within +-25% (BRAM: or +-2 blocks)
    within_2x: float
    worst: float


def table(found: list[Point] | None = None, quantities: tuple[str, ...] = (*RESOURCES, *TIMING)) -> list[Row]:
    found = found if found is not None else points()
    rows = []
    for tool in TOOLS:
        for quantity in quantities:
            mine = [p for p in found if p.tool == tool and p.quantity == quantity]
            if not mine:
                continue
            ratios = [p.ratio for p in mine]
            close = [
                p
                for p in mine
                if 0.75 <= p.ratio <= 1.25 or (quantity == "BRAM_18K" and abs(p.estimated - p.reported) <= 2)
            ]
            rows.append(
                Row(
                    TOOLS[tool],
                    quantity,
                    len(mine),
                    statistics.median(ratios),
                    len(close) / len(mine),
                    sum(0.5 <= r <= 2 for r in ratios) / len(mine),
                    max(ratios, key=lambda r: abs(_log(r))),
                )
            )
    return rows


def model_kind(described: dict) -> str:
    """CNN when hls4ml made any convolution of the design (Conv1D/2D, pointwise, depthwise), else MLP."""
    return "CNN" if any("Conv" in layer["class"] for layer in described["layers"]) else "MLP"


def groups() -> dict[str, tuple[str, str]]:
    """Each recorded design's io_type and model kind, by id."""
    return {record["id"]: (record["io_type"], model_kind(described)) for record, described in designs()}


@dataclass(frozen=True)
class SplitRow:
    tool: str
    io_type: str
    kind: str
    designs: int
    cells: tuple[tuple[float, float], ...]  # per resource (RESOURCES order): median est./rep., share within +-25%


def split_table(found: list[Point]) -> list[SplitRow]:
    """The error by tool, io_type and model kind (and io_stream CNNs of both tools together): per resource, the
    median estimated / reported and the share within +-25% (BRAM: or +-2 blocks)."""
    kinds = groups()
    order = list(TOOLS.values())
    keys = sorted({(TOOLS[p.tool], *kinds[p.design]) for p in found}, key=lambda k: (order.index(k[0]), k[1:]))
    rows = []
    for tool, io_type, kind in [*keys, ("both", "io_stream", "CNN")]:
        mine = [p for p in found if tool in (TOOLS[p.tool], "both") and kinds[p.design] == (io_type, kind)]
        cells = tuple(_median_and_close([p for p in mine if p.quantity == resource]) for resource in RESOURCES)
        rows.append(SplitRow(tool, io_type, kind, len({p.design for p in mine}), cells))
    return rows


def _median_and_close(mine: list[Point]) -> tuple[float, float]:
    close = [
        p for p in mine if 0.75 <= p.ratio <= 1.25 or (p.quantity == "BRAM_18K" and abs(p.estimated - p.reported) <= 2)
    ]
    return statistics.median(p.ratio for p in mine), len(close) / len(mine)


def split_markdown(rows: list[SplitRow]) -> str:
    header = " | ".join(f"{r} median | {r} ±25%" for r in RESOURCES)
    lines = [f"| tool | io_type | model | designs | {header} |", "|---|---|---|---" + "|---" * 2 * len(RESOURCES) + "|"]
    for row in rows:
        cells = " | ".join(f"{median:.2f} | {close:.0%}" for median, close in row.cells)
        lines.append(f"| {row.tool} | {row.io_type} | {row.kind} | {row.designs} | {cells} |")
    return "\n".join(lines)


def under_budget(found: list[Point], tool: str, quantity: str, budget: float = 0.8) -> tuple[int, int]:
    """How many designs' estimates were below `budget` x their report, of how many: the ones that, estimated at
    `budget` of a part (fit's default), would really have needed more than the part."""
    ratios = [p.ratio for p in found if p.tool == tool and p.quantity == quantity and p.reported > 0]
    return sum(r < budget for r in ratios), len(ratios)


def _log(ratio: float) -> float:
    import math

    return math.log(ratio) if 0 < ratio < float("inf") else 99.0


def markdown(rows: list[Row]) -> str:
    lines = [
        "| tool | quantity | designs | median est./rep. | within ±25% | within 2× | worst |",
        "|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        lines.append(
            f"| {row.tool} | {row.quantity} | {row.designs} | {row.median:.2f} | {row.within_25:.0%} | "
            f"{row.within_2x:.0%} | {row.worst:.2f} |"
        )
    return "\n".join(lines)


def write_surrogate() -> Path:
    from hlsbox.core import surrogate

    surrogate.DATA.parent.mkdir(parents=True, exist_ok=True)
    surrogate.DATA.write_text(json.dumps(surrogate_records(), indent=1, sort_keys=True) + "\n")
    return surrogate.DATA


def bands(found: list[Point] | None = None) -> dict[str, dict[str, tuple[float, float]]]:
    """Per tool and quantity, the 10th and 90th percentile of estimated / reported: the plan's ± band."""
    found = found if found is not None else points()
    result: dict[str, dict[str, tuple[float, float]]] = {}
    for tool in TOOLS:
        for quantity in (*RESOURCES, *TIMING):
            ratios = sorted(p.ratio for p in found if p.tool == tool and p.quantity == quantity and p.reported > 0)
            if len(ratios) >= 5:
                result.setdefault(tool, {})[quantity] = (
                    round(_percentile(ratios, 0.1), 2),
                    round(_percentile(ratios, 0.9), 2),
                )
    return result


def _percentile(values: list[float], share: float) -> float:
    position = share * (len(values) - 1)
    low = int(position)
    high = min(low + 1, len(values) - 1)
    return values[low] + (values[high] - values[low]) * (position - low)


def surrogate_records() -> list[dict]:
    """The recorded designs as the surrogate keeps them: features and reported figures (tools/hlsbox/core/data/)."""
    from hlsbox.core import surrogate

    records = []
    for record, described in designs():
        reported = record["reported"]
        records.append(
            {
                "id": record["id"],
                "tool": record["tool"]["name"],
                "features": {k: round(v, 4) for k, v in surrogate.features(design_of(record, described)).items()},
                "reported": {
                    "DSP": reported.get("DSP"),
                    "BRAM_18K": reported.get("BRAM_18K"),
                    "LUT": reported.get("LUT"),
                    "FF": reported.get("FF"),
                    "latency": reported.get("latency_max"),
                    "interval": reported.get("interval_max"),
                },
            }
        )
    return records


def surrogate_points() -> list[Point]:
    """Leave-one-out: each design predicted by the surrogate from the others only."""
    from hlsbox.core import surrogate

    records = surrogate_records()
    found = []
    for record in records:
        opinion = surrogate.predict(record["features"], record["tool"], records, exclude=record["id"])
        figures = opinion.figures if opinion else {}
        for quantity in (*RESOURCES, *TIMING):
            if record["reported"].get(quantity) is not None and quantity in figures:
                found.append(
                    Point(record["id"], record["tool"], quantity, figures[quantity], record["reported"][quantity])
                )
    return found


def describe(workspace: Path, out: Path, engine=None) -> list[str]:
    """tests/in_image/describe_designs.py in the real image: the records under workspace/tests/data/estimator
    described into out (inside workspace); the ids described."""
    from hlsbox.runtime import engines
    from tests.conftest import run_in_image

    script = (REPO / "tests" / "in_image" / "describe_designs.py").read_text()
    data = workspace / DATA.relative_to(REPO)
    out.mkdir(parents=True, exist_ok=True)
    lines = run_in_image(engine or engines.select(), workspace, script, timeout=3600, args=(str(data), str(out)))
    return [line.split()[1] for line in lines if line.startswith("DESCRIBED ")]


if __name__ == "__main__" and "--write-surrogate" in sys.argv:
    print(f"written: {write_surrogate()}")
elif __name__ == "__main__" and "--describe" in sys.argv:
    done = describe(REPO, DATA / "described")
    print(f"described {len(done)} designs into {DATA / 'described'}")
elif __name__ == "__main__":
    found = points()
    in_sample = {(p.design, p.quantity): p.ratio for p in found}
    print("estimated / reported out of sample (in sample), estimate out of sample, report")
    for quantity in (*RESOURCES, *TIMING):
        print(f"\n== {quantity}")
        for p in sorted((p for p in held_out_points() if p.quantity == quantity), key=lambda p: p.ratio):
            print(
                f"  {p.ratio:7.2f} ({in_sample[(p.design, quantity)]:5.2f})  est {p.estimated:>10.0f}  "
                f"rep {p.reported:>10.0f}  {p.tool[:6]} {p.design}"
            )
    print("\nOut of sample (each design estimated by a calibration fitted without any design of its repository):")
    print(markdown(table(held_out_points())))
    print("\nOut of sample, by io_type and model kind:")
    print(split_markdown(split_table(held_out_points())))
    print("\nIn sample (CALIBRATION, fitted to every design):")
    print(markdown(table(found, FITTED)))
    print("\nSecond opinion (surrogate, leave-one-out):")
    print(markdown(table(surrogate_points())))
