"""Step `convert`: load, configure, convert, plot, write the hls4ml project, check its C++ compiles."""

from __future__ import annotations

import time

from hlsbox.core.contract import ConvertResult, StepSpec
from hlsbox.steps import compile_check, describe, frontends, hls
from hlsbox.steps.protocol import phase


def run(spec: StepSpec) -> ConvertResult:
    flow, run_dir = spec.flow, spec.run_path
    start = time.monotonic()
    model = hls.load_spec_model(spec)
    hls_model, config = hls.convert(model, flow, run_dir / "hls4ml_prj", flow_file=spec.flow_file)
    plot_warning = hls.plot(hls_model, run_dir / "model.png")
    phase("writing project")
    hls_model.write()
    layers = describe.layer_rows(hls_model)
    syntax_seconds = compile_check.check(run_dir / "hls4ml_prj", layers)
    repaired, hls4ml_said = hls.conversion_notes(hls_model)
    return ConvertResult(
        repairs=repaired,
        hls4ml_warnings=hls4ml_said,
        step="convert",
        project_dir=str(run_dir / "hls4ml_prj"),
        plot=None if plot_warning else str(run_dir / "model.png"),
        warnings=(plot_warning,) if plot_warning else (),
        parameters=frontends.current().count_params(model),
        layers=tuple(layers),
        syntax_check_seconds=syntax_seconds,
        unfused_batchnorms=hls.unfused_batchnorms(model, hls_model, flow),
        columns=hls.set_columns(flow),
        hls_config=config,
        seconds=round(time.monotonic() - start, 2),
        versions=hls.versions(),
    )
