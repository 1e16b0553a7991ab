"""Running a plan: the `describe` step in the image, then the estimator on the host."""

from __future__ import annotations

import json
from pathlib import Path

from rich.console import Console

from hlsbox import runner, views
from hlsbox.flow import Flow
from hlsbox.parts import resolve_device
from hlsbox.plan import NO_FIT, Plan, make_plan

__all__ = ["NO_FIT", "plan_flow"]


def plan_flow(
    console: Console,
    flow: Flow,
    flow_file: Path,
    workspace: runner.Workspace,
    options: runner.RunOptions,
    show: bool = True,
) -> Plan:
    described, run_dir = runner.run_step(console, "describe", flow, flow_file, workspace, options, run_name="plan")
    plan = make_plan(described, flow.model_dump(), resolve_device(flow.part))
    (run_dir / "plan.json").write_text(json.dumps(plan.to_dict(), indent=2) + "\n")
    if show:
        views.show_plan(console, plan, str(run_dir))
    return plan
