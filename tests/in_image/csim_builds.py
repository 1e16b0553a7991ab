"""Run in the image by tests/bench/run.py (csim_builds): each design's C-simulation library built every way, cold.

Per design (a flow, as the image sees it): convert and write as `hlsbox csim` does, then time hls4ml's own build
(its build_lib.sh unchanged, as ModelGraph.compile runs it), the fast tree (im2col classes as loops) built as
build_lib.sh builds it (its two units in parallel), and the fast tree split (a unit a layer, precompiled header) with
an empty cache, then again with the cache full; and which build fastcsim's rule (choose_build) picks. One JSON line
per design: `BUILDS {...}`. Designs named in the spec's "without_own" skip hls4ml's own build (the seed's takes
~15 minutes at 7 GB). Timings, not a test: one run each, on a machine shared with whatever else runs.
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

from hlsbox.core.contract import ImageFlow
from hlsbox.steps import fastcsim, frontends, hls
from hlsbox.steps.fastcsim.build import choose_build, layer_calls

SPEC = json.loads(Path(sys.argv[1]).read_text())


def measure(name: str, flow: ImageFlow, out: Path) -> dict:
    model = frontends.current().load(Path(flow.model))
    hls_model, _ = hls.convert(model, flow, out / name / "hls4ml_prj")
    hls_model.write()
    project = hls_model.config.get_output_dir()
    recs = fastcsim.recognise(project)
    replaced = [r for r in recs if r.ok]
    tree = out / name / "fast_tree"
    fastcsim.make_fast_tree(project, str(tree), recs)
    copies = sum(r.n_copies for r in replaced)
    layers = layer_calls(tree)
    choice = choose_build(layers, copies)
    own = fastcsim.build(project, parallel=False, log=None) if name not in SPEC.get("without_own", ()) else None
    unsplit = fastcsim.build(str(tree), parallel=True, log=None)
    with tempfile.TemporaryDirectory() as cache:
        cold = fastcsim.build(str(tree), ccache_dir=cache, split=True, log=None)
        warm = fastcsim.build(str(tree), ccache_dir=cache, split=True, log=None)
    row = {
        "design": name,
        "layers": layers,
        "im2col_classes": len(replaced),
        "im2col_copies": copies,
        "hls4ml_own_s": round(own.seconds, 2) if own else None,  # None: not run (many minutes, GBs)
        "fast_unsplit_s": round(unsplit.seconds, 2),
        "fast_split_cold_s": round(cold.seconds, 2),
        "fast_split_cached_s": round(warm.seconds, 2),
        "split_phases": cold.phases.to_dict() if cold.phases else None,
        "split_fell_back": cold.not_split,
        "chosen": "split" if choice.split else "unsplit",  # built once, as csim builds it
        "reason": choice.reason,
    }
    chosen = row["fast_split_cold_s"] if choice.split else row["fast_unsplit_s"]
    row["chosen_over_hls4ml_own"] = round(chosen / own.seconds, 2) if own else None
    row["chosen_over_best"] = round(chosen / min(row["fast_split_cold_s"], row["fast_unsplit_s"]), 2)
    row["split_cached_over_unsplit"] = round(row["fast_split_cached_s"] / row["fast_unsplit_s"], 2)  # fit's probes
    row["split_over_unsplit"] = round(row["fast_split_cold_s"] / row["fast_unsplit_s"], 2)
    return row


for design, flow_dict in SPEC["designs"].items():
    print("BUILDS", json.dumps(measure(design, ImageFlow.from_dict(flow_dict), Path(SPEC["out"]))), flush=True)
