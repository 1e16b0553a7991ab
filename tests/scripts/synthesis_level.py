"""The second level: what Vivado's synthesis places against what csynth reports, from the recorded designs that
published both (tests/data/estimator/synthesis). `python -m tests.scripts.synthesis_level` prints every design's ratios,
the table in docs/estimator.md and the constants hlsbox.core.planner keeps (SYNTHESIS_RATIO, SYNTHESIS_BANDS).

The model is the simplest the data supports: a synthesis-level figure is the csynth-level one times the median of
synthesis / csynth of its resource. Designs whose csynth DSPs exceed the part's are left out of the ratios (Vivado
then fills the part's DSPs and builds the other multiplies in LUTs: their LUTs rise above csynth's). Held out by
repository throughout: a design's ratio is the median over the other repositories' designs.
"""

from __future__ import annotations

import itertools
import json
import statistics
from dataclasses import dataclass

from tests.scripts.estimator_accuracy import DATA, RESOURCES, TOOLS, Point, _percentile

SYNTHESIS = DATA / "synthesis"


@dataclass(frozen=True)
class Pair:
    """One resource of one design at both levels."""

    design: str
    repo: str
    tool: str
    resource: str
    csynth: int
    synthesis: int
    recorded: str | None  # the design's id in designs/ (its estimate can be made), None when not recorded

    @property
    def ratio(self) -> float:
        return self.synthesis / self.csynth


def records() -> list[dict]:
    return [json.loads(path.read_text()) for path in sorted(SYNTHESIS.glob("*.json"))]


def oversubscribed(record: dict) -> bool:
    """csynth asks for more DSPs than the part has: synthesis caps them and moves multiplies into LUTs."""
    return record["csynth"]["DSP"] > record["part_DSP"]


def pairs(every: list[dict] | None = None) -> list[Pair]:
    """Every resource of every design that informs the ratio (a csynth figure above 0, DSPs within the part)."""
    found = []
    for record in every if every is not None else records():
        if oversubscribed(record):
            continue
        for resource in RESOURCES:
            if record["csynth"][resource] > 0:
                found.append(
                    Pair(
                        record["id"],
                        record["source"]["repo"],
                        record["tool"]["name"],
                        resource,
                        record["csynth"][resource],
                        record["synthesis"][resource],
                        record["design"],
                    )
                )
    return found


def ratios(found: list[Pair]) -> dict[str, float]:
    """Per resource, the median of synthesis / csynth, never above 1 (synthesis does not add to what csynth
    counts while the part holds its DSPs: no design here says otherwise)."""
    return {r: round(min(1.0, statistics.median(p.ratio for p in found if p.resource == r)), 2) for r in RESOURCES}


def held_out_ratio_errors(found: list[Pair] | None = None) -> list[Point]:
    """Per design and resource: the ratio fitted without the design's repository against its own (predicted
    synthesis / real synthesis, csynth taken as reported)."""
    found = found if found is not None else pairs()
    errors = []
    for repo in sorted({p.repo for p in found}):
        fitted = ratios([p for p in found if p.repo != repo])
        for p in (p for p in found if p.repo == repo):
            errors.append(Point(p.design, p.tool, p.resource, p.csynth * fitted[p.resource], p.synthesis))
    return errors


def bands(csynth_held_out: list[Point], errors: list[Point] | None = None) -> dict[str, dict[str, tuple[float, float]]]:
    """Per tool and resource, the 10th and 90th percentile of estimated synthesis / real synthesis, out of sample:
    the csynth level's held-out error (the estimator's, as ERROR_BANDS) times the ratio's held-out error, over
    every combination of the two (the same csynth error on any design's synthesis ratio)."""
    errors = errors if errors is not None else held_out_ratio_errors()
    result: dict[str, dict[str, tuple[float, float]]] = {}
    for tool in TOOLS:
        for resource in RESOURCES:
            first = [p.ratio for p in csynth_held_out if p.tool == tool and p.quantity == resource and p.reported]
            second = [p.ratio for p in errors if p.quantity == resource]
            if len(first) >= 5 and len(second) >= 5:
                product = sorted(a * b for a, b in itertools.product(first, second))
                result.setdefault(tool, {})[resource] = (
                    round(_percentile(product, 0.1), 2),
                    round(_percentile(product, 0.9), 2),
                )
    return result


def synthesis_points(csynth_held_out: list[Point], found: list[Pair] | None = None) -> list[Point]:
    """The recorded designs with synthesis reports, end to end out of sample: hlsbox's csynth-level estimate
    (calibrated without the design's repository) times the ratio fitted without it, against real synthesis."""
    found = found if found is not None else pairs()
    estimated = {(p.design, p.quantity): p.estimated for p in csynth_held_out}
    points = []
    for repo in sorted({p.repo for p in found}):
        fitted = ratios([p for p in found if p.repo != repo])
        for p in (p for p in found if p.repo == repo and p.recorded):
            estimate = estimated[(p.recorded, p.resource)]
            points.append(Point(p.design, p.tool, p.resource, estimate * fitted[p.resource], p.synthesis))
    return points


def markdown(found: list[Pair], end_to_end: list[Point]) -> str:
    lines = [
        "| resource | designs (repositories) | synthesis / csynth, median | range | "
        "synthesis-level estimate / synthesis, median (designs) | within ±25% |",
        "|---|---|---|---|---|---|",
    ]
    for resource in RESOURCES:
        mine = [p for p in found if p.resource == resource]
        values = [p.ratio for p in mine]
        ends = [p.ratio for p in end_to_end if p.quantity == resource and p.reported]
        close = sum(0.75 <= r <= 1.25 for r in ends) / len(ends)
        lines.append(
            f"| {resource} | {len(mine)} ({len({p.repo for p in mine})}) | {statistics.median(values):.2f} | "
            f"{min(values):.2f}–{max(values):.2f} | {statistics.median(ends):.2f} ({len(ends)}) | {close:.0%} |"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    from tests.scripts.estimator_accuracy import held_out_points

    found = pairs()
    csynth = held_out_points()
    print("synthesis / csynth per design (* DSPs over the part: left out)")
    for record in records():
        level = {r: record["synthesis"][r] / record["csynth"][r] if record["csynth"][r] else None for r in RESOURCES}
        text = " ".join(f"{r} {v:5.2f}" if v is not None else f"{r}    -" for r, v in level.items())
        print(f"  {'*' if oversubscribed(record) else ' '} {text}  {record['io_type']:11} {record['id']}")
    print(f"\nSYNTHESIS_RATIO = {ratios(found)}")
    print(f"SYNTHESIS_BANDS = {bands(csynth)}")
    print("\n" + markdown(found, synthesis_points(csynth)))


def switched(designs: list) -> list[tuple[str, str, str, str]]:
    """What moving the verdict to the synthesis level would change: (design, part, csynth verdict, synthesis
    verdict) for each design whose verdict differs between the levels."""
    from hlsbox.core.estimator import estimate_design
    from hlsbox.core.planner import synthesis_level, verdict_of

    changed = []
    for name, design in designs:
        totals = estimate_design(design).totals
        before = verdict_of(totals, design.device, design.tool)[1]
        after = synthesis_level(totals, design.device, design.tool).verdict
        if before != after:
            changed.append((name, design.device.name, str(before), str(after)))
    return changed
