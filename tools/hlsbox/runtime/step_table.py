"""The steps hlsbox knows, as objects: for each, what runs in the image (its module in steps/), what it builds
on, its default limits, and one set of hooks with one signature each:

- `prepare(request) -> request`: what the step adds to the common run (mounts, its StepSpec extras);
- `read(result.json) -> result`: its result as its contract type;
- `run(console, request) -> (result, run dir)`: the run (by default the runner's, after `prepare`);
- `show(console, result, run dir)`: its view.

Adding a step: its module in steps/ (run in the image) and one entry in STEPS; the CLI, sweeps and the Vivado
chain read this table. The hooks import what they call when called, so the modules they call can read this
table themselves.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from rich.console import Console

    from hlsbox.runtime.request import RunRequest

OptionSet = Literal["container", "csim", "vivado", "plan", "fit"]
HLS_BACKENDS = ("Vivado", "Vitis")  # hls4ml's, which every step but the da4ml ones builds on
DA4ML_BACKENDS = ("da4ml",)


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
    build_options: frozenset[str] = frozenset()  # what the step switches on in hls4ml's build_prj.tcl
    backends: tuple[str, ...] = HLS_BACKENDS  # the flow backends it runs for

    def check_backend(self, backend: str) -> None:
        """Bad input (exit 2) when the flow's backend is not one this step runs for."""
        from hlsbox.core.errors import BadInput

        if backend in self.backends:
            return
        others = [s.name for s in STEPS.values() if backend in s.backends]
        raise BadInput(
            f"`{self.name}` runs for flows with backend {' or '.join(self.backends)}; this flow's backend is "
            f"{backend}.",
            f'Its steps are {", ".join(others)}; or set backend = "{self.backends[0]}" in the flow.',
        )

    def prepare(self, request: RunRequest) -> RunRequest:
        """The request with what this step adds to the common run (none by default)."""
        return request

    def run(self, console: Console, request: RunRequest) -> tuple[object, Path]:
        from hlsbox.runtime import runner

        result, run_dir = runner.run_step(console, self.prepare(request), self.module)
        return self.read(result), run_dir

    def read(self, result: dict) -> object:
        """The step's result.json as its contract type (by default one table, a TableResult)."""
        from hlsbox.core.contract import TableResult

        return TableResult.from_dict(result)

    def show(self, console: Console, result: object, run_dir: Path) -> None:
        """The step's view of its result: by default its table."""
        from hlsbox.runtime.tables import show_result_table

        show_result_table(console, result.table, run_dir)

    def read_options(self, data: dict) -> object:
        """The step's own options from their JSON (a sweep's request file); steps without options have none."""
        raise ValueError(f"step {self.name} takes no options")


class ConvertStep(Step):
    def read(self, result: dict) -> object:
        from hlsbox.core.contract import ConvertResult

        return ConvertResult.from_dict(result)

    def show(self, console: Console, result: object, run_dir: Path) -> None:
        from hlsbox.cli import views

        views.show_convert(console, result, run_dir)


class CsimStep(Step):
    def prepare(self, request: RunRequest) -> RunRequest:
        from hlsbox.commands.csim import with_ccache

        return with_ccache(request)

    def read(self, result: dict) -> object:
        from hlsbox.core.contract import CsimResult

        return CsimResult.from_dict(result)

    def show(self, console: Console, result: object, run_dir: Path) -> None:
        from hlsbox.cli import views

        views.show_csim(console, result, run_dir)


class PlanStep(Step):
    def run(self, console: Console, request: RunRequest) -> tuple[object, Path]:
        from hlsbox.commands import plan

        return plan.plan_flow(console, request)

    def show(self, console: Console, result: object, run_dir: Path) -> None:
        from hlsbox.cli import views

        views.show_plan(console, result, run_dir)


class FitStep(Step):
    def read_options(self, data: dict) -> object:
        from hlsbox.runtime.request import FitOptions

        return FitOptions.from_dict(data)

    def prepare(self, request: RunRequest) -> RunRequest:
        from hlsbox.commands import fit

        return fit.with_fit_cache(request)

    def read(self, result: dict) -> object:
        from hlsbox.core.contract import FitResult

        return FitResult.from_dict(result)

    def run(self, console: Console, request: RunRequest) -> tuple[object, Path]:
        from hlsbox.commands import fit

        return fit.run_fit(console, self.prepare(request))

    def show(self, console: Console, result: object, run_dir: Path) -> None:
        from hlsbox.cli import views

        views.show_fit(console, result, run_dir)


class VivadoStep(Step):
    def read(self, result: dict) -> object:
        from hlsbox.core.contract import VivadoResult

        return VivadoResult.from_dict(result)

    def read_options(self, data: dict) -> object:
        from hlsbox.vivado.chain import VivadoParams

        return VivadoParams.from_dict(data)

    def run(self, console: Console, request: RunRequest) -> tuple[object, Path]:
        from hlsbox.vivado import chain

        return chain.run_vivado_step(console, request)

    def show(self, console: Console, result: object, run_dir: Path) -> None:
        from hlsbox.vivado import chain

        chain.show(console, result, run_dir)


class RtlStep(Step):
    """rtl, synth, rtlsim (backend = "da4ml"): synth and rtlsim run rtl first (when missing or stale) and work on a
    copy of its project; synth is refused when da4ml's estimate cannot fit the part."""

    def read(self, result: dict) -> object:
        from hlsbox.core import contract

        kind = {"rtl": contract.RtlResult, "synth": contract.SynthResult, "rtlsim": contract.RtlsimResult}
        return kind[self.name].from_dict(result)

    def run(self, console: Console, request: RunRequest) -> tuple[object, Path]:
        if self.upstream is None:
            return super().run(console, request)
        from hlsbox.commands import rtl

        return rtl.run_after_rtl(console, request)

    def show(self, console: Console, result: object, run_dir: Path) -> None:
        super().show(console, result, run_dir)
        if self.name == "synth":
            console.print(f"[green]Report:[/] {run_dir}/report.json")


_DA4ML = {"options": "container", "backends": DA4ML_BACKENDS}
_VIVADO = {"timeout": "48h", "memory": "16g", "pids": 16384, "module": "hlsbuild", "options": "vivado"}

STEPS: dict[str, Step] = {
    step.name: step
    for step in (
        ConvertStep(
            "convert",
            "Keras model -> hls4ml project: load, configure, convert, plot (PNG), write.",
            "convert",
            "container",
            timeout="30m",
        ),
        Step(
            "weights",
            "Every layer's constants against the types the flow gives them, before any build: the range they span, "
            "the integer bits it needs, how many wrap or saturate, how many round to 0.",
            "weights",
            "container",
            timeout="10m",
        ),
        CsimStep(
            "csim",
            "C simulation: the project's C++ built with g++ (fast, bit-exact build for io_parallel convolutions) "
            "and run against Keras (top-1 agreement, max |diff|, accuracy when the data has labels), every layer "
            "traced. No Vivado needed.",
            "csim",
            "csim",
        ),
        PlanStep(
            "plan",
            "Fit verdict in seconds: per-layer resources, latency and interval estimates against the part, "
            "the ReuseFactor hls4ml will really use, kernel checks, and ways out when the design does not fit.",
            "describe",
            "plan",
            timeout="10m",
        ),
        FitStep(
            "fit",
            "From a design that does not fit or does not agree with Keras to one that does: per-layer types (the "
            "fewest bits that keep the agreement target, judged by C simulation on calibration inputs), then io_type, "
            "strategy and ReuseFactors within the budget (the plan's estimator); checked on held-out inputs.",
            "fit",
            "fit",
            timeout="2h",
        ),
        VivadoStep(
            "csynth",
            "C synthesis of the flow's project (the plan runs first and warns when it does not fit).",
            upstream="convert",
            build_options=frozenset({"synth"}),
            **_VIVADO,
        ),
        VivadoStep(
            "cosim",
            "C/RTL co-simulation of the synthesised design.",
            upstream="csynth",
            build_options=frozenset({"cosim"}),
            **_VIVADO,
        ),
        VivadoStep(
            "export",
            "Export the synthesised design as IP (Vivado IP catalog); Vivado/Vitis HLS <= 2021.2 without "
            "Xilinx's Y2K22 patch runs it with the clock at 2021-12-31 (libfaketime).",
            upstream="csynth",
            build_options=frozenset({"export"}),
            **_VIVADO,
        ),
        VivadoStep(
            "vsynth",
            "Vivado logic synthesis of the exported RTL (the real resource numbers).",
            upstream="csynth",
            build_options=frozenset({"vsynth"}),
            **_VIVADO,
        ),
        RtlStep(
            "rtl",
            'backend = "da4ml": the HGQ2 model -> da4ml -> a Verilog project, every multiplication unrolled into '
            "shift-and-add logic (no multipliers), pipelined; with da4ml's own estimate of its LUTs and FFs.",
            "rtl",
            timeout="30m",
            **_DA4ML,
        ),
        RtlStep(
            "synth",
            "yosys synth_xilinx of rtl's Verilog for the part's family: the cells (LUT, FF, CARRY, DSP, BRAM) against "
            "the part, no place-and-route, no timing. Refused when da4ml's estimate cannot fit the part.",
            "synth",
            upstream="rtl",
            timeout="2h",
            **_DA4ML,
        ),
        RtlStep(
            "rtlsim",
            "Verilator runs rtl's Verilog on the flow's data (>= 1,000 inputs) against da4ml's bit-exact software "
            "model and Keras: bit-exact, or the first differing output named.",
            "rtlsim",
            upstream="rtl",
            timeout="1h",
            **_DA4ML,
        ),
    )
}


def step(name: str) -> Step:
    return STEPS[name]


def commands(options: OptionSet) -> list[Step]:
    return [s for s in STEPS.values() if s.options == options]
