"""Step `weights`: every layer's constants (weights, biases, BatchNorm scales) against the type the flow gives
them, before any build: the range they span, the integer bits that range needs, how many fall outside the type
(wrapped or saturated by the C++ cast) and how many non-zero ones round to zero."""

from __future__ import annotations

import math
import time

import numpy as np

from hlsbox.core.contract import ResultTable, StepSpec, TableResult
from hlsbox.steps import describe, hls

SPARE_BITS = 4  # integer bits a type has beyond what its values need, worth saying
COLUMNS = ("layer", "constant", "type", "values", "integer bits needed", "outside the type", "rounded to 0")


def integer_bits_needed(values: np.ndarray, signed: bool) -> int:
    """The fewest integer bits (sign included where signed) whose type holds every value."""
    largest = float(np.max(np.abs(values))) if values.size else 0.0
    if largest == 0:
        return 1 if signed else 0
    return math.floor(math.log2(largest)) + 1 + int(signed)


def check_constant(layer: str, name: str, values: np.ndarray, precision) -> tuple[tuple[str, ...], int, int, int]:
    """One row of the table, and the counts outside the type and rounded to zero, and the bits needed."""
    values = np.asarray(values, dtype=np.float64).ravel()
    signed = bool(getattr(precision, "signed", True))
    needed = integer_bits_needed(values, signed)
    outside = zeroed = 0
    if getattr(precision, "width", None) and getattr(precision, "integer", None) is not None:
        q, low, high = describe.rounded(values, precision)
        outside = int(np.sum((q < low) | (q > high)))  # what the cast wraps or saturates
        zeroed = int(np.sum((values != 0) & (describe.quantised(values, precision) == 0)))
    shown = f"{values.min():.3g} … {values.max():.3g}" if values.size else ""
    have = getattr(precision, "integer", None)
    row = (
        layer,
        name,
        hls.ap_type(precision),
        shown,
        f"{needed} (has {have})" if have is not None else str(needed),
        f"{outside:,} of {values.size:,}" if outside else "0",
        f"{zeroed:,} of {values.size:,}" if zeroed else "0",
    )
    return row, outside, zeroed, needed


def run(spec: StepSpec) -> TableResult:
    start = time.monotonic()
    model = hls.load_spec_model(spec)
    hls_model, _ = hls.convert(model, spec.flow, spec.run_path / "hls4ml_prj", flow_file=spec.flow_file)
    rows, notes, spare = [], [], []
    for layer in hls_model.get_layers():
        for name, variable in layer.weights.items():
            row, outside, zeroed, needed = check_constant(layer.name, name, variable.data, variable.type.precision)
            rows.append(row)
            mode = str(getattr(getattr(variable.type.precision, "saturation_mode", None), "name", "WRAP"))
            if outside:
                what = "saturate" if "SAT" in mode else "wrap around (the type's default WRAP)"
                notes.append(
                    f"{layer.name} {name}: {outside:,} values outside {row[2]} {what}; give it at least {needed} "
                    f"integer bits ([layers.{layer.name}] precision.{name})."
                )
            elif zeroed and zeroed == np.count_nonzero(variable.data):
                notes.append(f"{layer.name} {name}: every non-zero value rounds to 0 in {row[2]}; add fraction bits.")
            have = getattr(variable.type.precision, "integer", None)
            if have is not None and have - needed >= SPARE_BITS:
                spare.append(f"{layer.name} {name} ({row[2]}, needs {needed})")
    if spare:
        notes.append(
            f"{len(spare)} constants have {SPARE_BITS} or more integer bits their values never use, e.g. "
            f"{'; '.join(spare[:3])}: as fraction bits ([layers.X] precision) they would round less at the same width."
        )
    title = f"Constants against their types ({len(rows)} in {spec.flow.name})"
    table = ResultTable(title, COLUMNS, tuple(rows), tuple(notes))
    return TableResult("weights", table, round(time.monotonic() - start, 2), hls.versions())
