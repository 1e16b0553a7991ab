"""Fit the estimator's LUT and FF constants to the recorded reports (`python -m tests.scripts.calibrate_estimator`), and
measure them out of sample: each design estimated by a calibration fitted without any design of its repository.

LUT and FF are linear in hlsbox.core.estimator's per-feature constants (FEATURES): each feature's contribution is the
estimate with that constant at 1 and the others at 0. The constants minimise the sum of squared log errors
(estimated / reported) over the designs of one tool, plus a small pull towards the Calibration dataclass's
defaults (PRIOR: it keeps constants no training design exercises where they were), by multiplicative coordinate
search from those defaults. `main` prints the fit to all designs as Calibration fields to paste into CALIBRATION
(tests/unit/test_estimator_accuracy.py checks that CALIBRATION is that fit); `held_out_points` is the
leave-one-repository-out error docs/estimator.md's table, the plan's bands and the verdict's "tight" come from.
The other constants (which constants take a DSP, BRAM, pipeline depths) are set by reading hls4ml's kernels and
the reports, not refitted per fold: their held-out error is the same as in sample.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Sequence
from dataclasses import dataclass, fields, replace
from functools import cache

from hlsbox.core import estimator
from hlsbox.core.estimator import Calibration, Design
from tests.scripts.estimator_accuracy import TOOLS, Point, design_of, designs, points_of

FEATURES = {
    "LUT": (
        "lut_per_product",
        "lut_per_multiplier_bit",
        "lut_resource_layer",
        "lut_per_element_bit",
        "lut_per_port_bit",
    ),
    "FF": (
        "ff_per_tree_bit",
        "ff_per_tree_bit_stream",
        "ff_per_shared_tree_bit",
        "ff_per_shared_tree_bit_stream",
        "ff_per_multiplier_bit",
        "ff_resource_layer",
        "ff_per_input_bit",
        "ff_per_element_bit",
        "ff_per_port_bit",
        "ff_per_dsp",
        "ff_design",
    ),
}
PRIOR = 0.3  # weight of sum(log(constant / default)^2) against the designs' sum of squared log errors
Rows = list[tuple[tuple[float, ...], float]]  # per design: each feature's contribution, the reported figure
DEFAULTS = {f.name: f.default for f in fields(Calibration)}


@dataclass(frozen=True)
class Sample:
    """One recorded design as the fit sees it: each feature's contribution, and what the report says."""

    id: str
    repo: str
    tool: str
    record: dict
    design: Design
    contributions: dict[str, tuple[float, ...]]  # per resource: the fixed part, then each feature's (FEATURES order)
    reported: dict[str, float]


@cache
def samples() -> tuple[Sample, ...]:
    found = []
    for record, described in designs():
        design = design_of(record, described)
        tool = record["tool"]["name"]
        base = estimator.CALIBRATION[tool]
        contributions = {}
        for resource, names in FEATURES.items():
            # what no constant scales (the memories between layers, costed from their depth and width)
            zero = replace(base, **dict.fromkeys(names, 0.0))
            fixed = float(estimator.estimate_design(replace(design, fitted=zero)).totals[resource])
            row = [fixed]
            for name in names:
                unit = replace(base, **{n: (1.0 if n == name else 0.0) for n in names})
                row.append(float(estimator.estimate_design(replace(design, fitted=unit)).totals[resource]) - fixed)
            contributions[resource] = tuple(row)
        reported = {r: float(record["reported"][r]) for r in FEATURES if record["reported"].get(r)}
        found.append(Sample(record["id"], record["source"]["repo"], tool, record, design, contributions, reported))
    return tuple(found)


def start_of(resource: str) -> list[float]:
    return [max(float(DEFAULTS[name]), 1e-2) for name in FEATURES[resource]]


def loss(weights: list[float], rows: Rows, start: list[float]) -> float:
    total = 0.0
    for row, value in rows:
        estimate = row[0] + sum(w * x for w, x in zip(weights, row[1:], strict=True))
        total += math.log(max(estimate, 1.0) / value) ** 2
    return total + PRIOR * sum(math.log(w / s) ** 2 for w, s in zip(weights, start, strict=True))


def fit(rows: Rows, start: list[float]) -> list[float]:
    weights, best = list(start), loss(start, rows, start)
    step = 2.0
    while step > 1.001:
        improved = False
        for i in range(len(weights)):
            for factor in (step, 1 / step):
                trial = weights.copy()
                trial[i] *= factor
                value = loss(trial, rows, start)
                if value < best:
                    weights, best, improved = trial, value, True
        if not improved:
            step = math.sqrt(step)
    return weights


def fitted(tool: str, training: Sequence[Sample]) -> Calibration:
    """The tool's calibration with its LUT and FF constants fitted to these designs."""
    constants = {}
    for resource, names in FEATURES.items():
        mine = [s for s in training if s.tool == tool and resource in s.reported]
        rows = [(s.contributions[resource], s.reported[resource]) for s in mine]
        weights = fit(rows, start_of(resource))
        constants.update({name: _significant(w) for name, w in zip(names, weights, strict=True)})
    return replace(estimator.CALIBRATION[tool], **constants)


def _significant(value: float, digits: int = 4) -> float:
    return round(value, digits - 1 - math.floor(math.log10(value)))


@cache
def held_out_points() -> tuple[Point, ...]:
    return tuple(held_out(samples()))


def held_out(every: Sequence[Sample]) -> list[Point]:
    """Leave-one-repository-out: each design estimated by its tool's calibration fitted without its repository."""
    found: list[Point] = []
    for tool in TOOLS:
        for repo in sorted({s.repo for s in every if s.tool == tool}):
            calibration = fitted(tool, [s for s in every if s.repo != repo])
            for sample in (s for s in every if s.tool == tool and s.repo == repo):
                found += points_of(sample.record, replace(sample.design, fitted=calibration))
    return found


def main() -> None:
    every = list(samples())
    for tool in TOOLS:
        calibration = fitted(tool, every)
        print(f"{tool}:")
        for names in FEATURES.values():
            for name in names:
                print(f"    {name}={getattr(calibration, name):.4g},")


if __name__ == "__main__":
    sys.exit(main())
