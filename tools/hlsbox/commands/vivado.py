"""The Vivado steps' host hook (csynth, cosim, export, vsynth): the install found, the plan's refusal of a design
that cannot fit, then the chain of steps (vivado/chain.py) with the install probed once."""

from __future__ import annotations

from pathlib import Path

from rich.console import Console

from hlsbox.commands import plan as plans
from hlsbox.core.errors import BadInput
from hlsbox.runtime.options import VivadoParams
from hlsbox.runtime.request import RunRequest
from hlsbox.vivado import install as vivado
from hlsbox.vivado.chain import Tool, VivadoOutcome, probe, run_chain


def run_vivado_step(console: Console, request: RunRequest) -> tuple[VivadoOutcome, Path]:
    """A Vivado step and the steps before it, once the plan says the design can fit (or --ignore-plan)."""
    params = VivadoParams.of(request.options)
    found = vivado.discover(params.vivado, request.flow.backend)  # on the host: no Vivado process
    if found.version is not None:  # the version its path gives: a wrong backend is said before the plan
        vivado.check_backend(found, request.flow.backend)
    # before any Vivado process; --force redoes this step, not the plan's describe
    plan = check_plan(console, request.replace(step="plan", force=False, options=None), params.ignore_plan)
    install = probe(found)
    vivado.check_backend(install, request.flow.backend)
    licence = vivado.licence_environment()
    if vivado.licence_needs_network(licence) and not params.network:
        console.print(
            "[yellow]The licence setting names a server (port@host), but the container has no network; "
            "give --network if the tool needs it.[/]"
        )
    console.print(f"Using {install}")
    return run_chain(console, request, Tool(install, licence, plan_summary(plan)))


def hopeless(plan: plans.Plan) -> list[str]:
    """The resources the design exceeds even at the low end of the band of the verdict's level (synthesis: what
    the part must hold; a plan.json from before it: csynth), with the plan's numbers."""
    level = plan.synthesis or plan
    over = []
    for resource, (low, high) in level.bands.items():
        capacity = plan.capacity.get(resource) or 0
        if capacity and low > capacity:
            over.append(
                f"{resource} {level.totals[resource]:,} (band {low:,}-{high:,}) against {capacity:,}: "
                f"{level.totals[resource] / capacity:.0%}, {low / capacity:.0%} even at the band's low end"
            )
    return over


def check_plan(console: Console, request: RunRequest, ignore_plan: bool) -> plans.Plan:
    """Refuse (exit 2) a design the plan says cannot fit even at the low end of its band, unless asked."""
    plan, _ = plans.plan_flow(console, request)
    over = hopeless(plan) if plan.verdict == plans.NO_FIT else []
    if not over:
        return plan
    numbers = "; ".join(over)
    if ignore_plan:
        console.print(
            f"[bold yellow]Warning:[/] the plan says this design cannot fit {plan.part} ({numbers}); running it "
            "anyway (--ignore-plan). Synthesis may run for hours to confirm it."
        )
        return plan
    raise BadInput(
        f"The plan says this design cannot fit {plan.part} even at the low end of the estimator's band: {numbers} "
        f"(at {(plan.synthesis or plan).level or 'csynth'}). "
        "Synthesis would run for hours to confirm it (Vivado HLS 2018.2 checked the seed's design for 7 h 45 min, "
        "then found its top had no outputs); nothing was started.",
        "Take one of the ways out of `hlsbox plan` (or `hlsbox fit`), or run it anyway with --ignore-plan "
        "(HLSBOX_IGNORE_PLAN=1).",
    )


def plan_summary(plan: plans.Plan) -> str:
    """What the plan expected of the design, for the stall message: the verdict and the most used resources."""
    used = sorted(plan.utilisation, key=plan.utilisation.get, reverse=True)[:2]
    shares = ", ".join(
        f"{r} ~{plan.totals[r]:,} ({plan.bands[r][0]:,}-{plan.bands[r][1]:,}) of {plan.capacity[r]:,}" for r in used
    )
    return f"The plan expected {shares} on {plan.part} ({plan.verdict})"
