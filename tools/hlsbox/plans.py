"""Running a plan: the `describe` step in the image, then the estimator on the host."""

from __future__ import annotations

import json

from rich.console import Console

from hlsbox import registry, runner, views
from hlsbox.parts import resolve_device
from hlsbox.plan import NO_FIT, Plan, make_plan
from hlsbox.request import RunRequest

__all__ = ["NO_FIT", "plan_flow"]


def plan_flow(console: Console, request: RunRequest, show: bool = True) -> Plan:
    """Describe the flow's model in the image (cached like any step) and estimate it for the flow's part."""
    step = registry.step("plan")
    described, run_dir = runner.run_step(console, request.replace(step="describe", run_name="plan"), step.module)
    plan = make_plan(described, request.flow.model_dump(), resolve_device(request.flow.part))
    (run_dir / "plan.json").write_text(json.dumps(plan.to_dict(), indent=2) + "\n")
    if show:
        views.show_plan(console, plan, str(run_dir))
    return plan
