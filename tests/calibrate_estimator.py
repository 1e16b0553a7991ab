"""Fit the estimator's LUT and FF constants to the recorded reports (`python -m tests.calibrate_estimator`).

LUT and FF are linear in hlsbox.estimator's per-feature constants (per constant product, per Resource multiplier
bit, per Resource layer, per element bit, per FIFO bit): each feature's contribution is the estimate with that
constant at 1 and the others at 0. The constants minimise the sum of squared log errors (estimated / reported)
over the designs of one tool, by multiplicative coordinate search; the result is printed as Calibration fields to
paste into CALIBRATION. The accuracy that follows is what tests/estimator_accuracy.py and the README report.
"""

from __future__ import annotations

import math
import sys
from dataclasses import replace

from hlsbox import estimator
from tests.estimator_accuracy import design_of, designs

FEATURES = {
    "LUT": (
        "lut_per_product",
        "lut_per_multiplier_bit",
        "lut_resource_layer",
        "lut_per_element_bit",
        "lut_per_fifo_bit",
    ),
    "FF": (
        "ff_per_product",
        "ff_per_product_stream",
        "ff_per_shared_product",
        "ff_per_multiplier_bit",
        "ff_resource_layer",
        "ff_per_element_bit",
        "ff_per_fifo_bit",
        "ff_per_dsp",
        "ff_design",
    ),
}


def contributions(tool: str, resource: str) -> tuple[list[list[float]], list[float]]:
    """Per design: each feature's LUT (or FF) with its constant at 1, and the reported figure."""
    base = estimator.CALIBRATION[tool]
    names = FEATURES[resource]
    rows, reported = [], []
    for record, described in designs():
        if record["tool"]["name"] != tool or not record["reported"].get(resource):
            continue
        design = design_of(record, described)
        row = []
        for name in names:
            unit = replace(base, **{n: (1.0 if n == name else 0.0) for n in names})
            estimator.CALIBRATION[tool] = unit
            row.append(float(estimator.estimate_design(design).totals[resource]))
        estimator.CALIBRATION[tool] = base
        rows.append(row)
        reported.append(float(record["reported"][resource]))
    return rows, reported


def loss(weights: list[float], rows: list[list[float]], reported: list[float]) -> float:
    total = 0.0
    for row, value in zip(rows, reported, strict=True):
        estimate = sum(w * x for w, x in zip(weights, row, strict=True))
        total += math.log(max(estimate, 1.0) / value) ** 2
    return total


def fit(rows: list[list[float]], reported: list[float], start: list[float]) -> list[float]:
    weights = [max(w, 1e-2) for w in start]
    step = 2.0
    while step > 1.001:
        improved = False
        for i in range(len(weights)):
            for factor in (step, 1 / step):
                trial = weights.copy()
                trial[i] *= factor
                if loss(trial, rows, reported) < loss(weights, rows, reported):
                    weights, improved = trial, True
        if not improved:
            step = math.sqrt(step)
    return weights


def main() -> None:
    for tool in estimator.CALIBRATION:
        base = estimator.CALIBRATION[tool]
        for resource, names in FEATURES.items():
            rows, reported = contributions(tool, resource)
            weights = fit(rows, reported, [getattr(base, n) for n in names])
            rms = math.sqrt(loss(weights, rows, reported) / max(1, len(rows)))
            print(f"{tool} {resource}: rms log error {rms:.2f} over {len(rows)} designs")
            for name, weight in zip(names, weights, strict=True):
                print(f"    {name}={weight:.4g},")


if __name__ == "__main__":
    sys.exit(main())
