"""`hlsbox model`: a model script in models/ run in the image; the .keras file appears only when complete."""

from __future__ import annotations

import shutil
import uuid
from dataclasses import replace
from pathlib import Path

from rich.console import Console

from hlsbox.config.flow import inside_workspace
from hlsbox.core.errors import BadInput
from hlsbox.runtime import engines, image, runner
from hlsbox.runtime.engines import Limits
from hlsbox.runtime.request import Workspace
from hlsbox.runtime.toolchains import DEFAULT, Toolchain


def make_model(
    console: Console,
    workspace: Workspace,
    script: Path,
    out: Path,
    args: list[str],
    limits: Limits,
    verbose: bool,
    toolchain: Toolchain = DEFAULT,
) -> Path:
    script_path = inside_workspace(workspace.root, str(script), "script")
    out_path = inside_workspace(workspace.root, str(out), "output")
    if not script_path.is_file():
        raise BadInput(f"Model script '{script}' does not exist.", "Give a script from models/.")
    runner.prepare_dir(workspace.build)
    runner.prepare_dir(out_path.parent)
    tmp = workspace.build / f".model.tmp-{uuid.uuid4().hex[:8]}"
    tmp.mkdir()
    log = workspace.build / "models" / f"{out_path.stem}.log"  # the script's log, kept beside the other runs
    try:
        command = ["python", str(script_path), "--out", str(tmp / out_path.name), *args]
        task = runner.Task(
            f"model {script.name}", command, tmp, workspace, limits, {"org.hlsbox.step": "model"}, verbose
        )
        task = replace(task, env=dict(toolchain.env)) if toolchain.env else task
        image_id = image.find_image(engines.select(), toolchain).id if toolchain != DEFAULT else None
        outcome, display = runner.execute(console, task, image_id)
        if outcome.exit_code != 0 or not (tmp / out_path.name).is_file():
            _keep_log(tmp, log)
            raise runner.explain_failure(f"model script {script}", outcome, display, tmp, limits, log=log)
        (tmp / out_path.name).replace(out_path)
        console.print(display.last_line)
        console.print(f"[green]Model written:[/] {out_path}")
        return out_path
    finally:
        _keep_log(tmp, log)
        shutil.rmtree(tmp, ignore_errors=True)


def _keep_log(tmp: Path, log: Path) -> None:
    if (tmp / "step.log").is_file():
        log.parent.mkdir(parents=True, exist_ok=True)
        (tmp / "step.log").replace(log)
