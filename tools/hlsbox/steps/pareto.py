"""Step `pareto`: the sweep's plot, latency against resources with the Pareto front marked (matplotlib)."""

from __future__ import annotations

from pathlib import Path

from hlsbox.core.contract import ParetoPlot, PlotResult

SPEC = ParetoPlot  # the sweep's plot is given its points, not a flow


def run(spec: ParetoPlot) -> PlotResult:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    points, png = spec.points, Path(spec.run_dir) / "pareto.png"
    fig, ax = plt.subplots(figsize=(7, 4.5))
    front = sorted((p for p in points if p.pareto), key=lambda p: p.resources)
    ax.scatter([100 * p.resources for p in points], [p.latency for p in points], color="#7f8c8d", label="variant")
    ax.plot(
        [100 * p.resources for p in front],
        [p.latency for p in front],
        "o-",
        color="#c0392b",
        label="Pareto front",
    )
    for p in points:
        ax.annotate(
            p.variant.removeprefix(spec.flow_name + "-"),
            (100 * p.resources, p.latency),
            fontsize=7,
            xytext=(4, 4),
            textcoords="offset points",
        )
    ax.axvline(100, color="black", linestyle="--", linewidth=1)
    ax.set_xlabel("resources: largest share of the part (%)")
    ax.set_ylabel("latency (cycles)")
    latencies = [p.latency for p in points]
    if min(latencies) > 0 and max(latencies) / min(latencies) > 20:
        ax.set_yscale("log")
    estimated = any(p.estimated for p in points)
    ax.set_title(spec.title + (" — estimates from hlsbox plan" if estimated else " — csynth reports"))
    ax.legend()
    fig.tight_layout()
    fig.savefig(png, dpi=110)
    plt.close(fig)
    return PlotResult("pareto", str(png))
