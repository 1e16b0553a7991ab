"""The steps hlsbox knows: for each, what runs in the image, what it builds on, its default limits, the host
code around it and its view. Adding a step: its module in steps/ (run in the image) and one entry here; the
CLI, sweeps and the Vivado chain read this table.

Hooks and views are named as "module:function" and imported when used, so the modules they live in can read
this table themselves.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

OptionSet = Literal["container", "csim", "vivado", "plan", "fit"]


@dataclass(frozen=True)
class Step:
    name: str
    summary: str
    module: str  # hlsbox.steps.<module> runs it in the image
    options: OptionSet | None  # the CLI's option set; None: not a command of its own
    upstream: str | None = None  # the step whose result it builds on (run first when missing or stale)
    timeout: str = "1h"
    memory: str = "8g"
    pids: int = 4096
    run: str = "hlsbox.runtime.runner:run_step"  # host hook: (console, request) -> (result, run dir)
    show: str | None = None  # view: (console, result, run dir)
    build_options: frozenset[str] = frozenset()  # what the step switches on in hls4ml's build_prj.tcl

    def hook(self) -> Callable:
        return _load(self.run)

    def view(self) -> Callable | None:
        return _load(self.show) if self.show else None


def _load(dotted: str) -> Callable:
    module, _, name = dotted.partition(":")
    return getattr(importlib.import_module(module), name)


_VIVADO = {"run": "hlsbox.vivado.chain:run_vivado_step", "show": "hlsbox.vivado.chain:show", "timeout": "48h"}
_VIVADO_LIMITS = {"memory": "16g", "pids": 16384, "module": "hlsbuild", "options": "vivado"}

STEPS: dict[str, Step] = {
    step.name: step
    for step in (
        Step(
            "convert",
            "Keras model -> hls4ml project: load, configure, convert, plot (PNG), write.",
            "convert",
            "container",
            timeout="30m",
            show="hlsbox.cli.views:show_convert",
        ),
        Step(
            "csim",
            "C simulation: the project's C++ built with g++ (fast, bit-exact build for io_parallel convolutions) "
            "and run against Keras (top-1 agreement, max |diff|, accuracy when the data has labels), every layer "
            "traced. No Vivado needed.",
            "csim",
            "csim",
            run="hlsbox.commands.csim:run_csim",
            show="hlsbox.cli.views:show_csim",
        ),
        Step(
            "plan",
            "Fit verdict in seconds: per-layer resources, latency and interval estimates against the part, "
            "the ReuseFactor hls4ml will really use, kernel checks, and ways out when the design does not fit.",
            "describe",
            "plan",
            timeout="10m",
            run="hlsbox.commands.plan:plan_flow",
            show="hlsbox.cli.views:show_plan",
        ),
        Step(
            "fit",
            "From a design that does not fit or does not agree with Keras to one that does: per-layer types (the "
            "fewest bits that keep the agreement target, judged by C simulation on calibration inputs), then io_type, "
            "strategy and ReuseFactors within the budget (the plan's estimator); checked on held-out inputs.",
            "fit",
            "fit",
            timeout="2h",
            run="hlsbox.commands.fit:run_fit",
            show="hlsbox.cli.views:show_fit",
        ),
        Step(
            "csynth",
            "C synthesis of the flow's project (the plan runs first and warns when it does not fit).",
            upstream="convert",
            build_options=frozenset({"synth"}),
            **_VIVADO,
            **_VIVADO_LIMITS,
        ),
        Step(
            "cosim",
            "C/RTL co-simulation of the synthesised design.",
            upstream="csynth",
            build_options=frozenset({"cosim"}),
            **_VIVADO,
            **_VIVADO_LIMITS,
        ),
        Step(
            "export",
            "Export the synthesised design as IP (Vivado IP catalog); Vivado/Vitis HLS <= 2021.2 without "
            "Xilinx's Y2K22 patch runs it with the clock at 2021-12-31 (libfaketime).",
            upstream="csynth",
            build_options=frozenset({"export"}),
            **_VIVADO,
            **_VIVADO_LIMITS,
        ),
        Step(
            "vsynth",
            "Vivado logic synthesis of the exported RTL (the real resource numbers).",
            upstream="csynth",
            build_options=frozenset({"vsynth"}),
            **_VIVADO,
            **_VIVADO_LIMITS,
        ),
    )
}


def step(name: str) -> Step:
    return STEPS[name]


def commands(options: OptionSet) -> list[Step]:
    return [s for s in STEPS.values() if s.options == options]
