"""Each step command as the CLI runs it: its definition (runtime/step_table.py), its host hook (commands/: what
runs around the image) and its view (cli/views.py). This is the one place the three meet, so the definitions and
the hooks import nothing above them.

A step without a hook of its own runs as its definition says (`runner.run_defined`); one without a view of its
own shows its table.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.console import Console

from hlsbox.cli import views
from hlsbox.commands import csim, fit, plan, rtl, vivado
from hlsbox.core.jsonrecord import JsonRecord
from hlsbox.runtime import runner, step_table
from hlsbox.runtime.request import RunRequest

Hook = Callable[[Console, RunRequest], tuple[JsonRecord, Path]]  # the step's run on the host: its result and run dir
# Shows that result. Each view takes its own step's result type (views.show_csim a CsimResult, …); a parameter
# cannot be narrowed per entry of one table, so the table types it as Any and Wired pairs each view with its step.
View = Callable[[Console, Any, Path], None]

_VIVADO_STEPS = [step.name for step in step_table.commands("vivado")]
HOOKS: dict[str, Hook] = {
    "csim": csim.run_csim,
    "plan": plan.plan_flow,
    "fit": fit.run_fit,
    **dict.fromkeys(_VIVADO_STEPS, vivado.run_vivado_step),
    **dict.fromkeys(("synth", "rtlsim"), rtl.run_after_rtl),  # rtl first, then the step on a copy of its project
}
VIEWS: dict[str, View] = {
    "convert": views.show_convert,
    "csim": views.show_csim,
    "plan": views.show_plan,
    "fit": views.show_fit,
    **dict.fromkeys(_VIVADO_STEPS, views.show_vivado),
    "synth": views.show_synth,
}


@dataclass(frozen=True)
class Wired:
    step: step_table.Step
    run: Hook
    show: View

    def run_and_show(self, console: Console, request: RunRequest) -> JsonRecord:
        """Run the request (of this step) and show its result; the result."""
        result, run_dir = self.run(console, request)
        self.show(console, result, run_dir)
        return result


def wired(name: str) -> Wired:
    """The step `name` with its hook and view."""
    return Wired(step_table.step(name), HOOKS.get(name, runner.run_defined), VIEWS.get(name, views.show_table))
