"""The steps hlsbox knows, as data: for each, what runs in the image (its module in steps/), what it builds on, its
default limits, the type its result is read as and the type of its own options.

Nothing here runs a step or shows one: a step's host hook lives in commands/, its view in cli/, and the CLI wires
the three (cli/wiring.py), so these definitions import only what lies below them.

Adding a step: its module in steps/ (run in the image) and one entry in STEPS; the CLI, sweeps and the Vivado
chain read this table. A step that adds to the common run or has its own view adds a hook in commands/ or a view
in cli/views.py, and one line for each in cli/wiring.py.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from hlsbox.core.contract import (
    ConvertResult,
    CsimResult,
    DescribeResult,
    FitResult,
    JsonRecord,
    PlotResult,
    RtlResult,
    RtlsimResult,
    SynthResult,
    TableResult,
    VivadoResult,
)
from hlsbox.core.errors import BadInput
from hlsbox.core.planner import Plan
from hlsbox.runtime.options import FitOptions, VivadoParams

OptionSet = Literal["container", "csim", "vivado", "plan", "fit"]
HLS_BACKENDS = ("Vivado", "Vitis")  # hls4ml's, which every step but the da4ml ones builds on
DA4ML_BACKENDS = ("da4ml",)


@dataclass(frozen=True)
class Step:
    name: str
    summary: str
    module: str | None  # hlsbox.steps.<module> runs it in the image; None: it runs on the host (on its upstream's)
    option_set: OptionSet | None  # the CLI's option set; None: not a command of its own
    result: type[JsonRecord] = TableResult  # what its run reads back (an image step's result.json)
    options: type[JsonRecord] | None = None  # its own options (a request's `options`), if it takes any
    upstream: str | None = None  # the step whose result it builds on (run first when missing or stale)
    timeout: str = "1h"
    memory: str = "8g"
    pids: int = 4096
    build_options: frozenset[str] = frozenset()  # what the step switches on in hls4ml's build_prj.tcl
    backends: tuple[str, ...] = HLS_BACKENDS  # the flow backends it runs for

    def check_backend(self, backend: str) -> None:
        """Bad input (exit 2) when the flow's backend is not one this step runs for."""
        if backend in self.backends:
            return
        others = [s.name for s in STEPS.values() if backend in s.backends]
        raise BadInput(
            f"`{self.name}` runs for flows with backend {' or '.join(self.backends)}; this flow's backend is "
            f"{backend}.",
            f'Its steps are {", ".join(others)}; or set backend = "{self.backends[0]}" in the flow.',
        )

    def read(self, result: dict) -> JsonRecord:
        """The step's result.json as its result type."""
        return self.result.from_dict(result)

    def read_options(self, data: dict) -> JsonRecord:
        """The step's own options from their JSON (a sweep's request file); steps without options have none."""
        if self.options is None:
            raise ValueError(f"step {self.name} takes no options")
        return self.options.from_dict(data)


_DA4ML = {"option_set": "container", "backends": DA4ML_BACKENDS}
_VIVADO = {
    "module": "hlsbuild",
    "option_set": "vivado",
    "result": VivadoResult,
    "options": VivadoParams,
    "timeout": "48h",
    "memory": "16g",
    "pids": 16384,
}

STEPS: dict[str, Step] = {
    step.name: step
    for step in (
        Step(
            "convert",
            "Keras model -> hls4ml project: load, configure, convert, plot (PNG), write.",
            module="convert",
            option_set="container",
            result=ConvertResult,
            timeout="30m",
        ),
        Step(
            "weights",
            "Every layer's constants against the types the flow gives them, before any build: the range they span, "
            "the integer bits it needs, how many wrap or saturate, how many round to 0.",
            module="weights",
            option_set="container",
            timeout="10m",
        ),
        Step(
            "csim",
            "C simulation: the project's C++ built with g++ (fast, bit-exact build for io_parallel convolutions) "
            "and run against Keras (top-1 agreement, max |diff|, accuracy when the data has labels), every layer "
            "traced. No Vivado needed.",
            module="csim",
            option_set="csim",
            result=CsimResult,
        ),
        Step(
            "describe",
            "The model as hls4ml converts it, layer by layer: what the plan estimates.",
            module="describe",
            option_set=None,
            result=DescribeResult,
            timeout="10m",
        ),
        Step(
            "plan",
            "Fit verdict in seconds: per-layer resources, latency and interval estimates against the part, "
            "the ReuseFactor hls4ml will really use, kernel checks, and ways out when the design does not fit.",
            module=None,  # the estimator on the host, on describe's result (in the plan's run dir)
            option_set="plan",
            result=Plan,  # plan.json
            upstream="describe",  # for a da4ml flow: rtl (da4ml's own estimate)
            timeout="10m",
            backends=HLS_BACKENDS + DA4ML_BACKENDS,
        ),
        Step(
            "fit",
            "From a design that does not fit or does not agree with Keras to one that does: per-layer types (the "
            "fewest bits that keep the agreement target, judged by C simulation on calibration inputs), then io_type, "
            "strategy and ReuseFactors within the budget (the plan's estimator); checked on held-out inputs.",
            module="fit",
            option_set="fit",
            result=FitResult,
            options=FitOptions,
            timeout="2h",
        ),
        Step(
            "csynth",
            "C synthesis of the flow's project (the plan runs first and warns when it does not fit).",
            upstream="convert",
            build_options=frozenset({"synth"}),
            **_VIVADO,
        ),
        Step(
            "cosim",
            "C/RTL co-simulation of the synthesised design.",
            upstream="csynth",
            build_options=frozenset({"cosim"}),
            **_VIVADO,
        ),
        Step(
            "export",
            "Export the synthesised design as IP (Vivado IP catalog); Vivado/Vitis HLS <= 2021.2 without "
            "Xilinx's Y2K22 patch runs it with the clock at 2021-12-31 (libfaketime).",
            upstream="csynth",
            build_options=frozenset({"export"}),
            **_VIVADO,
        ),
        Step(
            "vsynth",
            "Vivado logic synthesis of the exported RTL (the real resource numbers).",
            upstream="csynth",
            build_options=frozenset({"vsynth"}),
            **_VIVADO,
        ),
        Step(
            "rtl",
            'backend = "da4ml": the HGQ2 model -> da4ml -> a Verilog project, every multiplication unrolled into '
            "shift-and-add logic (no multipliers), pipelined; with da4ml's own estimate of its LUTs and FFs.",
            module="rtl",
            result=RtlResult,
            timeout="30m",
            **_DA4ML,
        ),
        Step(
            "synth",
            "yosys synth_xilinx of rtl's Verilog for the part's family: the cells (LUT, FF, CARRY, DSP, BRAM) against "
            "the part, no place-and-route, no timing. Refused when da4ml's estimate cannot fit the part.",
            module="synth",
            result=SynthResult,
            upstream="rtl",
            timeout="2h",
            **_DA4ML,
        ),
        Step(
            "rtlsim",
            "Verilator runs rtl's Verilog on the flow's data (>= 1,000 inputs) against da4ml's bit-exact software "
            "model and Keras: bit-exact, or the first differing output named.",
            module="rtlsim",
            result=RtlsimResult,
            upstream="rtl",
            timeout="1h",
            **_DA4ML,
        ),
        Step(
            "pareto",
            "A sweep's plot: latency against resources, the Pareto front marked (runs on no flow).",
            module="pareto",
            option_set=None,
            result=PlotResult,
            timeout="5m",
            memory="2g",
        ),
    )
}


def step(name: str) -> Step:
    return STEPS[name]


def commands(option_set: OptionSet) -> list[Step]:
    return [s for s in STEPS.values() if s.option_set == option_set]
