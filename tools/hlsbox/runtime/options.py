"""A step's own options beside the common run (its request's `options`), as a sweep's request files carry them."""

from __future__ import annotations

from dataclasses import dataclass

from hlsbox.core.contract import FitParams, JsonRecord


@dataclass(frozen=True)
class FitOptions(JsonRecord):
    """`hlsbox fit`'s options: the search's parameters and where the new flow goes."""

    params: FitParams
    out: str


@dataclass(frozen=True)
class VivadoParams(JsonRecord):
    """The Vivado steps' options."""

    vivado: str | None = None  # the install asked for; discovered when None
    network: bool = False
    ignore_plan: bool = False  # run a design the plan says cannot fit (--ignore-plan, HLSBOX_IGNORE_PLAN=1)
    with_csim: bool = False
    y2k22_workaround: bool = True  # export under libfaketime on an unpatched affected release

    @classmethod
    def of(cls, options: JsonRecord | None) -> VivadoParams:
        """A request's options as VivadoParams (the defaults when it carries none)."""
        return options if isinstance(options, VivadoParams) else cls()
