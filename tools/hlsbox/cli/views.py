"""Rich tables for step results."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from hlsbox.core.contract import (
    BatchNormNote,
    ConvertResult,
    CsimBuild,
    CsimResult,
    FitResult,
    GraphRepair,
    TableResult,
)
from hlsbox.core.hls4ml_names import reuse_adjusted
from hlsbox.core.planner import TOOL_NAMES
from hlsbox.core.units import human_rate, human_time
from hlsbox.runtime.tables import cell_limit, print_table, show_result_table
from hlsbox.vivado import reports
from hlsbox.vivado.chain import VivadoOutcome


def show_table(console: Console, result: TableResult, run_dir: Path) -> None:
    """The default view of a step: its one table."""
    show_result_table(console, result.table, run_dir)


def show_synth(console: Console, result, run_dir: Path) -> None:
    """synth's table, and where its report.json (csynth's form) is."""
    show_table(console, result, run_dir)
    console.print(f"[green]Report:[/] {run_dir}/report.json")


def show_convert(console: Console, result: ConvertResult, run_dir: Path | str) -> None:
    show_layers(console, result, f"hls4ml layers ({result.parameters:,} parameters)")
    console.print(
        f"[green]Project written:[/] {run_dir}/hls4ml_prj" + (f"   plot: {run_dir}/model.png" if result.plot else "")
    )
    if result.syntax_check_seconds is not None:
        console.print(f"Its C++ compiles (g++ -fsyntax-only of the firmware, {result.syntax_check_seconds:.1f} s).")


def show_layers(console: Console, result: ConvertResult, title: str) -> None:
    """Every layer as hls4ml builds it, with a column for each setting the flow made; the layers whose
    ReuseFactor hls4ml moved, and the BatchNormalizations it kept apart, are named with the reason."""
    columns = result.columns
    table = Table(title=title, title_justify="left")
    for column in ("layer", "class", "output shape", "result", *columns.types, "ReuseFactor", *columns.settings):
        table.add_column(column.replace("_", " "))
    rows = result.layers
    for row in rows:
        reuse = str(row.reuse_used if row.reuse_used is not None else "")
        if reuse_adjusted(row):
            reuse = f"[bold yellow]{reuse} (asked {row.reuse_asked})[/]"
        types = [row.precisions.get(name, "") for name in columns.types]
        settings = ["" if getattr(row, name) is None else str(getattr(row, name)) for name in columns.settings]
        shape = "×".join(map(str, row.output_shape))
        table.add_row(row.name, row.layer_class, shape, row.result_precision or "", *types, reuse, *settings)
    print_table(console, table)
    adjusted = [r for r in rows if reuse_adjusted(r)]
    if adjusted:
        moved = ", ".join(f"{r.name} {r.reuse_asked}→{r.reuse_used}" for r in adjusted)
        console.print(
            f"[yellow]hls4ml changed the ReuseFactor of {len(adjusted)} layer(s) ({moved}): it accepts only values "
            "that split the layer's n_in × n_out multiplies evenly, and takes the closest. `hlsbox plan` lists "
            "the valid ones.[/]"
        )
    show_unfused_batchnorms(console, result.unfused_batchnorms)
    show_conversion_notes(console, result.repairs, result.hls4ml_warnings)


def show_conversion_notes(console: Console, repairs: Sequence[GraphRepair], hls4ml_warnings: Sequence[str]) -> None:
    """What hlsbox repaired in hls4ml's conversion (each layer, what and why), and hls4ml's own warnings."""
    if repairs:
        console.print(f"[yellow]hlsbox repaired {len(repairs)} thing(s) in hls4ml's conversion:[/]")
        for repair in repairs:
            console.print(f"  [yellow]{escape(repair.layer)}[/]: {escape(repair.what)} — {escape(repair.why)}")
    for text in hls4ml_warnings:
        console.print(f"[yellow]hls4ml warned:[/] {escape(text)}")


def show_unfused_batchnorms(console: Console, notes: Sequence[BatchNormNote], counted: str = "") -> None:
    """One line per reason: which BatchNormalization layers hls4ml keeps apart from the layer before them."""
    by_reason: dict[str, list[str]] = {}
    for note in notes:
        by_reason.setdefault(note.why, []).append(f"{note.batchnorm}→{note.into}")
    for why, pairs in by_reason.items():
        what = "A BatchNormalization is" if len(pairs) == 1 else f"{len(pairs)} BatchNormalizations are"
        console.print(
            f"[yellow]{escape(what)} not fused ({escape(', '.join(pairs))}): {escape(why)}. Unfused, each costs a "
            f"multiply per element{counted}.[/]"
        )


def show_csim(console: Console, result: CsimResult, run_dir: str) -> None:
    ref = result.reference  # the frontend's own outputs: Keras, or qonnx's execution of the graph
    table = Table(
        title=f"C simulation vs {ref} ({result.samples} samples, data: {result.dataset})", title_justify="left"
    )
    table.add_column("metric")
    table.add_column("value", justify="right")
    agreement = result.top1_agreement
    colour = "green" if agreement >= 0.95 else "yellow" if agreement >= 0.8 else "red"
    table.add_row(f"top-1 agreement with {ref}", f"[{colour}]{agreement:.1%}[/]")
    table.add_row(f"max |{ref} - HLS|", f"{result.max_abs_diff:.4g}")
    table.add_row(f"mean |{ref} - HLS|", f"{result.mean_abs_diff:.4g}")
    if result.keras_accuracy is not None and result.hls_accuracy is not None:
        table.add_row(f"{ref} accuracy (labels)", f"{result.keras_accuracy:.1%}")
        table.add_row("HLS accuracy (labels)", f"{result.hls_accuracy:.1%}")
    table.add_row("g++ compile", f"{result.compile_seconds:.1f} s ({build_note(result.build)})")
    library = result.build.library
    if library is not None and library.choice:
        table.add_row("build chosen", escape(library.choice))
    if library is not None and library.not_split:
        table.add_row("split build failed", f"[yellow]{escape(library.not_split)}[/] (built unsplit instead)")
    table.add_row("HLS predict", f"{result.predict_seconds:.2f} s")
    print_table(console, table)
    show_conversion_notes(console, result.repairs, result.hls4ml_warnings)
    show_trace(console, result)
    console.print(f"[green]Results:[/] {run_dir}/result.json")


def build_note(build: CsimBuild) -> str:
    if build.mode != "fast":
        return "hls4ml's own build" + (f": {build.reason[:80]}" if build.reason else "")
    library = build.library
    if library is not None and library.split:
        units = f"{library.units} units, {library.from_cache} from the cache"
    else:
        units = "translation units in parallel" + (", ccache" if build.ccache else "")
        if library is not None and library.not_split:
            units += ", the split build having failed"
    if not build.classes:
        return f"hls4ml's sources, {units}"
    return f"fast build: {build.classes} im2col classes, {build.copies_replaced:,} copies as loops; {units}"


def show_trace(console: Console, result: CsimResult) -> None:
    """The per-layer comparison, when something is off: where Keras and the C simulation part ways."""
    first = result.first_divergence
    if not result.trace or (first is None and result.top1_agreement >= 0.99):
        return
    ref = result.reference
    table = Table(title=f"Every layer against {ref} (hls4ml trace)", title_justify="left")
    for column in ("layer", f"max |{ref}|", "max |HLS|", "max |diff|", "diff / max", "type range"):
        table.add_column(column, justify="left" if column == "layer" else "right")
    for row in result.trace:
        bad = row.overflow or row.relative_diff > 0.1
        style = "red" if row == first else "yellow" if bad else ""
        limit = f"±{row.range_limit:g}" if row.range_limit else ""
        table.add_row(
            row.layer,
            f"{row.keras_max:.3g}",
            f"{row.hls_max:.3g}",
            f"{row.max_abs_diff:.3g}",
            f"{row.relative_diff:.1%}",
            limit + (" [bold]overflow[/]" if row.overflow else ""),
            style=style,
        )
    print_table(console, table)
    if first is None:
        return
    if first.overflow:
        console.print(
            f"[bold red]{first.layer}[/] overflows: {ref} reaches {first.keras_max:.3g}, its type holds "
            f"±{first.range_limit:g}. Give its result more integer bits (e.g. ap_fixed<18,8>)."
        )
    else:
        console.print(
            f"{ref} and the C simulation part ways at [bold red]{first.layer}[/] (max |diff| "
            f"{first.max_abs_diff:.3g} on outputs up to {first.keras_max:.3g}), though no output "
            "overflows its type: rounding that adds up over long sums (truncation is hls4ml's default), or "
            "an accumulator that overflows (pooling sums, wide dot products). Try a wider precision there, "
            "or the 'auto' accumulator types config_from_keras_model proposes."
        )


def _near(valid: list[int], asked: int | None, n: int = 5) -> str:
    """The valid ReuseFactors nearest to the one asked for, e.g. '24 28 36 42 48'."""
    if not valid or asked is None:
        return ""
    nearest = sorted(sorted(valid, key=lambda v: (abs(v - asked), v))[:n])
    return " ".join(map(str, nearest))


PLAN_SUMS = ("DSP", "BRAM18", "LUT", "FF")  # the plan table's columns that add up to its totals
_RESOURCE_OF = {"DSP": "DSP", "BRAM18": "BRAM_18K", "LUT": "LUT", "FF": "FF"}


def plan_table(plan, console: Console | None = None) -> Table:
    """The plan's rows: each layer with multipliers, the other layers together, the FIFOs and buffers between
    layers together (the top's own with them), and the total: every column that counts adds up to the totals."""
    title = f"Plan: {plan.flow} on {plan.part} ({plan.io_type}, {plan.strategy}, {plan.tool.replace('_', ' ')})"
    table = Table(title=title, title_justify="left")
    for column in ("layer", "class", "mult/out", "RF", "valid RF near", "mults ∥", *PLAN_SUMS, "cycles"):
        table.add_column(
            column,
            justify="left" if column in ("layer", "class", "valid RF near") else "right",
            no_wrap=column != "valid RF near",
            max_width=cell_limit(console, 18) if column == "layer" and console else None,
        )
    layers = [layer for layer in plan.layers if layer.kind == "layer"]
    others = [layer for layer in layers if not layer.multipliers]
    memories = [layer for layer in plan.layers if layer.kind != "layer"]
    for layer in layers:
        if not layer.multipliers:
            continue
        rf = ""
        if layer.reuse_used is not None and layer.multiplies_per_output:
            moved = layer.reuse_asked not in (None, layer.reuse_used)
            rf = f"{layer.reuse_asked}→[bold yellow]{layer.reuse_used}[/]" if moved else str(layer.reuse_used)
        table.add_row(
            layer.name,
            layer.cls.replace("Normalization", "Norm"),
            f"{layer.multiplies_per_output:,}" if layer.multiplies_per_output else "",
            rf,
            _near(layer.reuse_valid, layer.reuse_asked),
            f"{layer.multipliers:,}",
            *_sums([layer]),
            f"{layer.latency:,}",
        )
    if others:
        cycles = f"{sum(layer.latency for layer in others):,}"
        table.add_row(f"{len(others)} other layers", "logic", "", "", "", "", *_sums(others), cycles)
    label = f"{sum(m.kind == 'memory' for m in memories)} FIFOs and buffers"
    table.add_row(label, "between layers", "", "", "", "", *_sums(memories), "", end_section=True)
    table.add_row("total", "", "", "", "", "", *(f"{plan.totals[_RESOURCE_OF[c]]:,}" for c in PLAN_SUMS), "")
    return table


def _sums(rows) -> list[str]:
    return [f"{sum(row.resources()[_RESOURCE_OF[c]] for row in rows):,}" for c in PLAN_SUMS]


def disputed_sentence(plan) -> str:
    """What the verdict says when the estimate and the second opinion differ by more than 3x on a total."""
    second = plan.second_opinion.figures
    pairs = ", ".join(f"{r} {plan.totals[r]:,} against {second[r]:,}" for r in plan.disputed)
    return (
        f"The verdict is uncertain: the estimate and the second opinion (the recorded designs most like this one) "
        f"differ by more than 3× on {pairs}. Neither is a measurement: `hlsbox csynth` (Vivado HLS or Vitis HLS "
        "on this host) settles it."
    )


def _used(share: float) -> str:
    colour = "red" if share > 1 else "yellow" if share > 0.8 else "green"
    return f"[{colour}]{share:.0%}[/]"


def totals_table(plan) -> Table:
    """Both levels against the part: csynth's (the estimate) and synthesis's (what the part holds, the verdict's)."""
    synthesis = plan.synthesis
    totals = Table(
        title="Totals against the part (band: where the real figure lies, from the estimator's out-of-sample error)",
        caption=f"{plan.level or 'csynth'}: what the recorded reports give"
        + (
            f"; {synthesis.level}, the verdict's: csynth × the synthesis / csynth ratios of real designs"
            if synthesis
            else ""
        ),
    )
    columns = ["resource", "csynth" if plan.tool in TOOL_NAMES else "estimate", "band", "used"]
    columns += ["synthesis", "band ", "used "] if synthesis else []
    for column in (*columns, plan.device, "2nd opinion"):
        totals.add_column(column, justify="left" if column == "resource" else "right")
    second = plan.second_opinion.figures if plan.second_opinion else {}
    for resource, used in plan.utilisation.items():
        low, high = plan.bands[resource]
        cells = [resource, f"{plan.totals[resource]:,}", f"{low:,}-{high:,}", _used(used)]
        if synthesis:
            low, high = synthesis.bands[resource]
            cells += [f"{synthesis.totals[resource]:,}", f"{low:,}-{high:,}", _used(synthesis.utilisation[resource])]
        cells += [f"{plan.capacity[resource]:,}", f"{second[resource]:,}" if resource in second else ""]
        totals.add_row(*cells)
    period = plan.clock_period
    blank = [""] * (len(columns) - 3)
    totals.add_row(
        "latency",
        f"{plan.latency_cycles:,} cycles",
        human_time(plan.latency_cycles * period * 1e-9),
        f"at {period} ns",
        *blank,
        f"{second['latency']:,}" if "latency" in second else "",
    )
    totals.add_row(
        "interval",
        f"{plan.interval_cycles:,} cycles",
        human_rate(1e9 / (plan.interval_cycles * period)),
        "inputs",
        *blank,
        f"{second['interval']:,}" if "interval" in second else "",
    )
    return totals


def csynth_sentence(plan) -> str:
    """The csynth level against the part, said as what it is: beside the verdict, not it."""
    worst = max(plan.utilisation, key=plan.utilisation.get)
    return (
        f"At {plan.level or 'csynth'}: {worst} at {plan.utilisation[worst]:.0%} of the part "
        f"({plan.totals[worst]:,} of {plan.capacity[worst]:,}). The verdict, fit's budget and the ways out are judged "
        f"on {plan.synthesis.level}."
    )


def show_plan(console: Console, plan, run_dir: str) -> None:
    if plan.layers:  # a da4ml flow's plan has da4ml's totals only
        print_table(console, plan_table(plan, console))
    console.print(totals_table(plan))
    colour = {"fits": "green", "tight": "yellow"}.get(plan.verdict, "red")
    level = plan.synthesis or plan  # a plan.json from before the synthesis level: its csynth figures
    worst = max(level.utilisation, key=level.utilisation.get)
    note = " (within the estimator's error)" if plan.verdict == "tight" else ""
    what = (
        f", judged on {plan.synthesis.level}" if plan.synthesis else f", judged on {plan.level}" if plan.level else ""
    )
    console.print(
        f"[bold {colour}]Verdict: {plan.verdict}{note}[/] on {plan.part}{what}: {worst} at "
        f"{level.utilisation[worst]:.0%} of the part ({level.totals[worst]:,} of {plan.capacity[worst]:,})."
    )
    if plan.synthesis:
        console.print(csynth_sentence(plan))
    if plan.disputed:
        console.print(f"[bold yellow]{disputed_sentence(plan)}[/]")
    for problem in plan.kernel_problems:
        console.print(
            f"[bold red]Kernel check:[/] {escape(problem.layer)}: hls4ml's {problem.kernel} "
            f"{escape(problem.condition)}; {problem.consequence}. Fix: {escape(problem.fix)}."
        )
    show_unfused_batchnorms(console, plan.unfused_batchnorms, " (counted above)")
    show_conversion_notes(console, plan.repairs, plan.hls4ml_warnings)
    if plan.ways_out:
        console.print("Ways out, each re-planned (`--write-flow PATH --way N` writes one as a flow):")
    numbered = len(plan.alternatives)
    for index, way in enumerate(plan.ways_out, start=1):
        console.print(f"  {index}. {way}" if index <= numbered else f"  • {way}")
    if plan.second_opinion:
        alike = ", ".join(plan.second_opinion.neighbours)
        console.print(f"[dim]2nd opinion: the recorded designs most like this one ({alike}).[/]")
    console.print(f"[dim]Estimator accuracy: docs/estimator.md. Plan: {run_dir}/plan.json[/]")


def show_fit(console: Console, result: FitResult, run_dir: str) -> None:
    print_table(console, fit_layers_table(result))
    console.print(fit_totals_table(result))
    if not result.meets_target:
        console.print(
            "[yellow]The held-out inputs agree less than the target: the calibration inputs did not show every case. "
            "Give more (--samples) or ask for a margin (--agreement).[/]"
        )
    if result.stopped_early:
        console.print("[dim]The probe budget ran out before every layer was narrowed: `hlsbox fit` again goes on.[/]")
    console.print(f"[green]Flow written:[/] {result.written}  [dim](plan, csim, csynth run on it)[/]")
    console.print(f"[green]Results:[/] {run_dir}/fit.json, {run_dir}/fit.png")


def fit_layers_table(result: FitResult) -> Table:
    design = result.design
    table = Table(
        title=f"Fit: {result.flow.name} on {result.target.part} ({design.io_type}, {design.strategy}): "
        f"every layer's types and ReuseFactor",
        title_justify="left",
    )
    for column in (
        "layer",
        "class",
        "result",
        "weight",
        "RF",
        "DSP",
        "BRAM18",
        "LUT",
        f"max |diff| vs {result.reference}",
    ):
        table.add_column(column, justify="left" if column in ("layer", "class", "result", "weight") else "right")
    for row in result.layers:
        diff = row.max_abs_diff
        table.add_row(
            row.layer,
            row.layer_class,
            _short(row.result),
            _short(row.weight or ""),
            str(row.reuse_factor or ""),
            f"{row.dsp:,}",
            f"{row.bram18:,}",
            f"{row.lut:,}",
            "" if diff is None else f"{diff:.3g} ({row.relative_diff:.1%})",
        )
    return table


def fit_totals_table(result: FitResult) -> Table:
    """The design against the part (estimated), and the held-out and calibration checks against the frontend."""
    target, design, held, ref = result.target, result.design, result.held_out, result.reference
    totals = Table(
        title=f"The design against the part (estimated) and against {ref}",
        title_justify="left",
        caption="csynth: Vivado HLS's estimate; the shares of the part, the band and the budget: at the synthesis "
        "level (what the part must hold: csynth × the synthesis / csynth ratios of real designs)",
    )
    totals.add_column("")
    totals.add_column("value", justify="right")
    for resource, share in design.utilisation.items():
        high = design.high_band.get(resource, share)
        totals.add_row(
            resource,
            f"{design.totals[resource]:,} csynth ({share:.0%} of the part at the synthesis level, {high:.0%} at its "
            f"error band's high end; budget {target.budget:.0%} there)",
        )
    totals.add_row("plan verdict", str(design.verdict))
    totals.add_row("latency / interval", f"{design.latency_cycles:,} / {design.interval_cycles:,} cycles")
    colour = "green" if held.top1_agreement >= target.agreement else "red"
    totals.add_row(
        f"top-1 agreement, {held.samples} held-out inputs",
        f"[{colour}]{held.top1_agreement:.1%}[/] (target {target.agreement:.0%})",
    )
    totals.add_row(f"max / mean |{ref} - HLS|", f"{held.max_abs_diff:.3g} / {held.mean_abs_diff:.3g}")
    if held.keras_accuracy is not None and held.hls_accuracy is not None:
        totals.add_row(f"accuracy (labels): {ref} / HLS", f"{held.keras_accuracy:.1%} / {held.hls_accuracy:.1%}")
    calibration = result.calibration
    totals.add_row(f"top-1 agreement, {calibration.samples} calibration inputs", f"{calibration.agreement:.1%}")
    totals.add_row(
        "C simulations", f"{result.probes_run} run, {result.probes_cached} from the cache, {result.seconds:.0f} s"
    )
    return totals


def _short(precision: str) -> str:
    return precision.replace(",AP_RND,AP_SAT", "")


def show_vivado(console: Console, outcome: VivadoOutcome, run_dir: Path) -> None:
    result = outcome.result
    if result.fake_date:
        console.print(
            f"[yellow]export ran with the clock at {result.fake_date} (libfaketime): this release has the Y2K22 "
            "export bug (Xilinx AR 76960) and no patch; apply Xilinx's patch to run it on the real date.[/]"
        )
    reports.show(console, outcome.report, f"{result.step}: {run_dir}")
    if result.chart:
        console.print(f"[green]Report:[/] {run_dir}/report.json   chart: {run_dir}/resources.png")
    else:
        console.print(f"[green]Report:[/] {run_dir}/report.json")
