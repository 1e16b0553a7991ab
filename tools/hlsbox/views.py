"""Rich tables for step results."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table


def show_convert(console: Console, result: dict, run_dir: str) -> None:
    table = Table(title=f"hls4ml layers ({result['parameters']:,} parameters)", title_justify="left")
    for column in ("layer", "class", "output shape", "result precision", "ReuseFactor"):
        table.add_column(column)
    for row in result["layers"]:
        reuse = str(row["reuse_factor"] if row["reuse_factor"] is not None else "")
        if row["reuse_adjusted"]:
            reuse = f"[bold yellow]{reuse} (asked {result['hls_config']['Model']['ReuseFactor']})[/]"
        table.add_row(
            row["name"], row["class"], "×".join(map(str, row["output_shape"])), row["result_precision"], reuse
        )
    console.print(table)
    adjusted = [r["name"] for r in result["layers"] if r["reuse_adjusted"]]
    if adjusted:
        console.print(
            f"[yellow]hls4ml changed the ReuseFactor of {len(adjusted)} layer(s) ({', '.join(adjusted)}): "
            "the one asked for does not divide the layer's multiplies. `hlsbox plan` lists the valid ones.[/]"
        )
    console.print(
        f"[green]Project written:[/] {run_dir}/hls4ml_prj" + (f"   plot: {run_dir}/model.png" if result["plot"] else "")
    )


def show_csim(console: Console, result: dict, run_dir: str) -> None:
    table = Table(
        title=f"C simulation vs Keras ({result['samples']} samples, data: {result['dataset']})", title_justify="left"
    )
    table.add_column("metric")
    table.add_column("value", justify="right")
    agreement = result["top1_agreement"]
    colour = "green" if agreement >= 0.95 else "yellow" if agreement >= 0.8 else "red"
    table.add_row("top-1 agreement with Keras", f"[{colour}]{agreement:.1%}[/]")
    table.add_row("max |Keras - HLS|", f"{result['max_abs_diff']:.4g}")
    table.add_row("mean |Keras - HLS|", f"{result['mean_abs_diff']:.4g}")
    if "keras_accuracy" in result:
        table.add_row("Keras accuracy (labels)", f"{result['keras_accuracy']:.1%}")
        table.add_row("HLS accuracy (labels)", f"{result['hls_accuracy']:.1%}")
    table.add_row("g++ compile", f"{result['compile_seconds']:.1f} s")
    table.add_row("HLS predict", f"{result['predict_seconds']:.2f} s")
    console.print(table)
    console.print(f"[green]Results:[/] {run_dir}/result.json")
