"""One design's cost against its part (`DesignCost`): the plan's verdict, and the designs fit estimates."""

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


@dataclass(frozen=True, kw_only=True)
class DesignCost(JsonRecord):
    """One design's cost on its part, estimated (the plan's estimator): what it uses, its share of the part, the
    verdict, its latency and interval. The plan's ways out (planner.Variant) and fit's designs (FitDesign) are each
    this and what they add."""

    io_type: str
    totals: dict[str, int]
    utilisation: dict[str, float]  # share of the part, estimated
    verdict: Verdict
    latency_cycles: int
    interval_cycles: int


@dataclass(frozen=True, kw_only=True)
class FitDesign(DesignCost):
    """One architecture fit estimated: its strategy and ReuseFactors, and how it stands against the budget."""

    strategy: str
    reuse: dict[str, int]
    fits_budget: bool
    high_band: dict[str, float] = field(default_factory=dict)  # share at the band's high end: what the budget tests
    binding: str | None = None  # the resource over the budget, when it does not fit
    heaviest: tuple[tuple[str, int], ...] = ()  # its largest users: (layer, amount)


@dataclass(frozen=True, kw_only=True)
class FitBound(FitDesign):
    """The cheapest design the search can reach, with its share of the part at the band's low end."""

    low_band: dict[str, float] = field(default_factory=dict)
    worst: str = ""  # the resource nearest the budget there
