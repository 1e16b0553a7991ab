"""synth and rtlsim on the host (backend = "da4ml"): rtl first (when missing or stale: the cache makes an up-to-date
one free), then the step on a copy of rtl's project. synth is refused before yosys starts when da4ml's own estimate
cannot fit the part, as csynth is by the plan; after it, report.json: yosys' cells against the part, beside da4ml's
estimate, each number saying what it is (core.contract.RTL_LEVEL).
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path

from rich.console import Console

from hlsbox.core.contract import RTL_LEVEL, JsonRecord, RtlResult, StepSpec, SynthResult
from hlsbox.core.errors import BadInput
from hlsbox.core.parts import Device, resolve_device
from hlsbox.core.planner import Plan, band, verdict_of
from hlsbox.runtime import runner
from hlsbox.runtime.request import RunRequest, StepExtras

PROJECT = "rtl_prj"  # steps.rtl.PROJECT: the project rtl writes and synth / rtlsim copy
ESTIMATED = ("LUT", "FF")  # what da4ml estimates
# yosys' count / da4ml's estimate, measured on the shipped flows/digits_mlp_da4ml.toml (docs/rtl.md: 4,464 / 4,276
# LUT with the inverters, 1,271 / 1,299 FF on the xc7z010; 4,460 LUT on the xczu3eg): one design, so a measured
# error, not an out-of-sample band.
MEASURED_ERROR = {"LUT": 4_464 / 4_276, "FF": 1_271 / 1_299}
# the plan's band (planner.band: estimate / real): the estimate and yosys' count as measured beside it
MEASURED_BANDS = {
    "da4ml": {
        **{r: (min(1.0, 1 / e), max(1.0, 1 / e)) for r, e in MEASURED_ERROR.items()},
        "DSP": (1.0, 1.0),
        "BRAM_18K": (1.0, 1.0),
    }
}
RTL_PLAN_LEVEL = (
    "da4ml's estimate of its fully unrolled, multiplier-free implementation (yosys counted 4% more LUT and 2% fewer "
    "FF on flows/digits_mlp_da4ml.toml)"
)


def run_rtl(console: Console, request: RunRequest) -> tuple[RtlResult, Path]:
    """rtl for the request's flow (cached like any step): da4ml's Verilog project and its estimate."""
    upstream = request.replace(step="rtl", force=False, options=None)  # --force redoes the step asked, not rtl
    return runner.run_step(console, upstream, RtlResult)


def plan_of_rtl(console: Console, request: RunRequest) -> tuple[Plan, Path]:
    """`hlsbox plan` for backend = "da4ml": rtl (seconds, cached), then da4ml's estimate against the part, its
    verdict (plan.json in the plan's run dir). No DSP or BRAM: da4ml builds every multiplication in LUTs."""
    rtl, rtl_dir = run_rtl(console, request)
    flow, device = request.flow, resolve_device(request.flow.part)
    capacity = device.capacity()
    totals = {"LUT": rtl.estimate.get("LUT", 0), "FF": rtl.estimate.get("FF", 0), "BRAM_18K": 0, "DSP": 0}
    bands = {r: band("da4ml", r, value, MEASURED_BANDS) for r, value in totals.items()}
    share, verdict = verdict_of(totals, device, "da4ml", MEASURED_BANDS)
    plan = Plan(
        flow.name,
        flow.part,
        device.name,
        "da4ml",
        "fully unrolled",
        "pipelined" if rtl.latency_cycles else "combinational",
        flow.clock_period,
        [],
        totals,
        bands,
        capacity,
        {r: round(v, 4) for r, v in share.items()},
        verdict,
        max(rtl.latency_cycles, 1),
        1,
        [],
        level=RTL_PLAN_LEVEL,
    )
    run_dir = rtl_dir.with_name("plan")
    run_dir.mkdir(exist_ok=True)
    (run_dir / "plan.json").write_text(json.dumps(plan.to_dict(), indent=2) + "\n")
    return plan, run_dir


def run_after_rtl(console: Console, request: RunRequest) -> tuple[JsonRecord, Path]:
    rtl, rtl_dir = run_rtl(console, request)
    device = resolve_device(request.flow.part)
    if request.step == "synth":
        refuse_unfit(rtl, device, request.flow.part)
    extras = StepExtras(prepare=copy_project(rtl_dir), cache_inputs={"upstream": runner.cache_key_of(rtl_dir)})
    result, run_dir = runner.run_step(console, request.replace(extras=extras), JsonRecord)
    if isinstance(result, SynthResult):
        write_report(run_dir / "report.json", synth_report(result, rtl, device, request.flow.part))
    return result, run_dir


def copy_project(source: Path) -> Callable[[StepSpec], StepSpec]:
    def prepare(spec: StepSpec) -> StepSpec:
        shutil.copytree(source / PROJECT, spec.run_path / PROJECT, symlinks=True)
        return spec

    return prepare


def over_capacity(estimate: dict[str, int], device: Device) -> list[str]:
    """The resources da4ml's estimate puts over the device's: 'LUT 38,506 of 17,600 (219%)'."""
    capacity = device.capacity()
    return [
        f"{name} {estimate[name]:,} of {capacity[name]:,} ({estimate[name] / capacity[name]:.0%})"
        for name in ESTIMATED
        if capacity.get(name) and estimate.get(name, 0) > capacity[name]
    ]


def refuse_unfit(rtl: RtlResult, device: Device, part: str) -> None:
    """Bad input (exit 2) before yosys starts when da4ml's estimate exceeds the part."""
    if over := over_capacity(rtl.estimate, device):
        raise BadInput(
            f"da4ml estimates this design cannot fit {part}: {'; '.join(over)}. yosys would take long to say the "
            "same (a toy CNN of this kind took it 9 CPU-minutes and 3.4 GB); nothing was started.",
            "A larger part (--part / PART=), fewer units or bits (HGQ2's beta trims bits), or `hlsbox rtlsim`, "
            "which simulates the design without fitting it. da4ml unrolls every multiplication: hls4ml with a "
            'ReuseFactor (backend = "Vivado") shares them.',
        )


def synth_report(result: SynthResult, rtl: RtlResult, device: Device, part: str) -> dict:
    """report.json, in csynth's form where it applies (part, device, capacity; used per resource as Vivado names
    them), with yosys' cell table and da4ml's estimate beside it."""
    capacity = device.capacity()
    used = {name: value for name, value in result.resources.items() if name != "CARRY"}
    carry = "CARRY8" if "CARRY8" in result.cells else "CARRY4"  # the cell yosys used (CARRY4 on xcup too, 0.23)
    return {
        "part": part,
        "device": device.name,
        "capacity": capacity,
        "level": RTL_LEVEL,
        "yosys": {
            **used,
            carry: result.resources.get("CARRY", 0),
            "family": result.family,
            "top": result.top,
            "seconds": result.yosys_seconds,
            "version": result.versions.get("yosys", ""),
        },
        "utilisation": {name: round(used[name] / capacity[name], 4) for name in used if capacity.get(name)},
        "cells": result.cells,
        "da4ml_estimate": {**rtl.estimate, "latency_cycles": rtl.latency_cycles},
        "estimate_error": {name: round(rtl.estimate[name] / used[name] - 1, 4) for name in ESTIMATED if used.get(name)},
    }


def write_report(path: Path, report: dict) -> None:
    path.write_text(json.dumps(report, indent=2) + "\n")
