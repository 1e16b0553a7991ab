"""A second opinion beside the analytic estimate: what the most similar recorded designs really used.

The recorded designs (tests/data/estimator: real csynth reports of hls4ml designs) are kept here as a few
features each and their reported figures (data/recorded_designs.json, written by
`python -m tests.scripts.estimator_accuracy --write-surrogate`). For a design, the k nearest of the same tool (by
size, parallelism, widths, strategy, io_type) each predict by scaling their figure with the ratio of the
designs' sizes; the geometric mean of those is the opinion. It knows only what it has seen: its
leave-one-out error is in docs/estimator.md beside the analytic one's.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path

from hlsbox.core.estimator import Design

DATA = Path(__file__).resolve().parent / "data" / "recorded_designs.json"
QUANTITIES = ("DSP", "BRAM_18K", "LUT", "FF", "latency", "interval")
NEIGHBOURS = 3


def features(design: Design) -> dict[str, float]:
    """What makes designs alike: how much arithmetic, how much of it at once, how wide, how built."""
    weighted = [row for row in design.layers if row.weighted]
    products = sum(row.n_in * row.n_out for row in weighted) or 1
    parallel = sum(row.n_in * row.n_out / max(1, row.reuse_used or 1) for row in weighted) or 1
    resource = sum(row.n_in * row.n_out for row in weighted if "resource" in (row.strategy or ""))
    conv = sum(row.n_in * row.n_out for row in weighted if "Conv" in row.layer_class)
    pixels = sum(row.n_in * row.n_out * (row.pixels or 1) for row in weighted) or 1
    return {
        "log_products": math.log2(products),
        "log_parallel": math.log2(parallel),
        "log_work": math.log2(pixels),
        "weight_bits": sum((row.weight_bits or 16) * row.n_in * row.n_out for row in weighted) / products,
        "input_bits": sum((row.input_bits or 16) * row.n_in * row.n_out for row in weighted) / products,
        "resource": resource / products,
        "conv": conv / products,
        "stream": 1.0 if design.io_type == "io_stream" else 0.0,
    }


SCALE = {  # distance weights: a unit of each feature as far as ~1 doubling of the arithmetic
    "log_products": 1.0,
    "log_parallel": 1.0,
    "log_work": 0.5,
    "weight_bits": 0.25,
    "input_bits": 0.15,
    "resource": 3.0,
    "conv": 2.0,
    "stream": 2.0,
}
SIZE = {"DSP": "log_parallel", "LUT": "log_products", "FF": "log_products", "BRAM_18K": None, "latency": None}


def load() -> list[dict]:
    return json.loads(DATA.read_text()) if DATA.is_file() else []


@dataclass(frozen=True)
class Opinion:
    """What the nearest recorded designs really used, each scaled to this design's size (geometric mean)."""

    neighbours: tuple[str, ...]  # their ids in tests/data/estimator
    figures: dict[str, int] = field(default_factory=dict)  # per quantity they report (QUANTITIES)


def predict(query: dict[str, float], tool: str, records: list[dict], exclude: str | None = None) -> Opinion | None:
    """The k nearest recorded designs of the same tool, and their figures scaled to the query's size."""
    candidates = [r for r in records if r["tool"] == tool and r["id"] != exclude] or [
        r for r in records if r["id"] != exclude
    ]
    if not candidates:
        return None
    nearest = sorted(candidates, key=lambda r: _distance(query, r["features"]))[:NEIGHBOURS]
    figures = {}
    for quantity in QUANTITIES:
        logs = []
        for record in nearest:
            value = record["reported"].get(quantity)
            if value is None:
                continue
            size = SIZE.get(quantity)
            shift = query[size] - record["features"][size] if size else 0.0
            logs.append(math.log2(max(value, 0.5)) + shift)
        if logs:
            figures[quantity] = round(2 ** (sum(logs) / len(logs)))
    return Opinion(tuple(r["id"] for r in nearest), figures)


def _distance(a: dict[str, float], b: dict[str, float]) -> float:
    return math.sqrt(sum((SCALE[k] * (a[k] - b[k])) ** 2 for k in SCALE))


def opinion(design: Design) -> Opinion | None:
    return predict(features(design), design.tool, load())


DISAGREE = 3.0  # estimate / second opinion beyond this (either way): the two disagree on that total


def disagreements(totals: dict[str, int], opinion: Opinion | None) -> tuple[str, ...]:
    """The resources on which the estimate and the second opinion differ by more than DISAGREE times."""
    if opinion is None:
        return ()
    found = []
    for resource, theirs in opinion.figures.items():
        if resource not in totals or resource in ("latency", "interval"):
            continue
        ours = totals[resource]
        if max(ours, theirs) > DISAGREE * max(1, min(ours, theirs)):
            found.append(resource)
    return tuple(found)
