"""Running a plan: the `describe` step in the image, then the estimator on the host; its ways out as flows."""

from __future__ import annotations

import json
from pathlib import Path

from rich.console import Console

from hlsbox.commands import rtl
from hlsbox.config.flow import Flow, LayerSettings, image_flow, validate_flow
from hlsbox.config.formats import write_toml
from hlsbox.core.contract import DescribeResult
from hlsbox.core.errors import BadInput
from hlsbox.core.parts import resolve_device
from hlsbox.core.planner import FITS, NO_FIT, TIGHT, Plan, Variant, make_plan
from hlsbox.runtime import runner
from hlsbox.runtime.request import RunRequest
from hlsbox.runtime.step_table import DA4ML_BACKENDS

__all__ = ["FITS", "NO_FIT", "TIGHT", "plan_flow", "variant_flow", "write_way"]


def describe(console: Console, request: RunRequest) -> tuple[DescribeResult, Path]:
    """The model as hls4ml converts it, layer by layer (the `describe` step, cached like any step, in the plan's
    run dir)."""
    return runner.run_step(console, request.replace(step="describe", run_name="plan"), DescribeResult)


def plan_flow(console: Console, request: RunRequest) -> tuple[Plan, Path]:
    """Describe the flow's model in the image and estimate it for the flow's part (plan.json beside it): the plan
    step's host hook. A da4ml flow is planned from da4ml's own estimate (commands.rtl)."""
    if request.flow.backend in DA4ML_BACKENDS:
        return rtl.plan_of_rtl(console, request)
    described, run_dir = describe(console, request)
    plan = make_plan(described, image_flow(request.flow), resolve_device(request.flow.part))
    (run_dir / "plan.json").write_text(json.dumps(plan.to_dict(), indent=2) + "\n")
    return plan, run_dir


def variant_flow(flow: Flow, way: Variant, name: str) -> Flow:
    """A way out of the plan as a flow: its io_type, precision and per-layer ReuseFactors."""
    data = flow.model_dump()
    data.update(name=name, io_type=way.io_type, description=f"{flow.name}, {way.label} (written by hlsbox plan)")
    if way.bits:
        width = f"ap_fixed<{way.bits},3>"
        data["precision"] = {**data["precision"], **{k: width for k in ("weight", "bias", "result")}}
    if way.reuse:
        layers = {name: LayerSettings.model_validate(table) for name, table in data["layers"].items()}
        for layer, rf in way.reuse.items():
            current = layers.get(layer, LayerSettings())
            layers[layer] = current.model_copy(update={"reuse_factor": rf})
        data["layers"] = {name: table.model_dump(exclude_none=True) for name, table in layers.items()}
    return validate_flow(data, Path(f"{name}.toml"))


def write_way(console: Console, plan: Plan, flow: Flow, path: Path, way: int | None) -> Flow:
    """Write way `way` (1-based; default the first that fits) as a flow file at `path`."""
    ways = plan.alternatives
    if not ways:
        raise BadInput(
            f"The plan has no way out to write: the design {plan.verdict} on {plan.part} as it is.",
            "Nothing to change; or try another part with --part.",
        )
    if way is None:
        chosen = next((w for w in ways if w.verdict != NO_FIT), None)
        if chosen is None:
            raise BadInput(
                f"None of the plan's {len(ways)} ways out fits {plan.part}.",
                "Pick one anyway with --way N, or try a larger part (--part).",
            )
    elif not 1 <= way <= len(ways):
        raise BadInput(f"--way {way} is not one of the plan's ways out (1 to {len(ways)}).", "See `hlsbox plan`.")
    else:
        chosen = ways[way - 1]
    name = path.stem if path.suffix == ".toml" else f"{flow.name}_way{ways.index(chosen) + 1}"
    written = variant_flow(flow, chosen, name)
    write_toml(written, path, f"# {written.description}")
    console.print(f"[green]Flow written:[/] {path} ({chosen.label}: {chosen.verdict})")
    return written
