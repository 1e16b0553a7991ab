"""One design's cost against its part: the plan's verdict, and the designs fit estimates."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum

from hlsbox.core.jsonrecord import JsonRecord


class Verdict(str, Enum):
    FITS = "fits"
    TIGHT = "tight"
    NO_FIT = "does not fit"

    def __str__(self) -> str:
        return self.value


@dataclass(frozen=True)
class FitDesign(JsonRecord):
    """One architecture fit estimated (the plan's estimator): io_type, strategy, ReuseFactors and what they cost."""

    io_type: str
    strategy: str
    reuse: dict[str, int]
    totals: dict[str, int]
    utilisation: dict[str, float]  # share of the part, estimated
    verdict: Verdict
    latency_cycles: int
    interval_cycles: int
    fits_budget: bool
    high_band: dict[str, float] = field(default_factory=dict)  # share at the band's high end: what the budget tests
    binding: str | None = None  # the resource over the budget, when it does not fit
    heaviest: tuple[tuple[str, int], ...] = ()  # its largest users: (layer, amount)


@dataclass(frozen=True)
class FitBound(FitDesign):
    """The cheapest design the search can reach, with its share of the part at the band's low end."""

    low_band: dict[str, float] = field(default_factory=dict)
    worst: str = ""  # the resource nearest the budget there
