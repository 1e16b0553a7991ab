"""Entry of a step inside the container."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from hlsbox.steps.protocol import StepInputError, fail_with_input_error, phase, write_json


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m hlsbox.steps")
    parser.add_argument(
        "step", choices=["convert", "csim", "describe", "csynth", "cosim", "export", "vsynth", "pareto"]
    )
    parser.add_argument("--spec", type=Path, required=True)
    args = parser.parse_args()
    spec = json.loads(args.spec.read_text())
    run_dir = Path(spec["run_dir"])
    exit_code_of = None
    if args.step == "convert":
        from hlsbox.steps.convert import run
    elif args.step == "csim":
        from hlsbox.steps.csim import run
    elif args.step == "describe":
        from hlsbox.steps.describe import run
    elif args.step == "pareto":
        from hlsbox.steps.pareto import run
    else:
        from hlsbox.steps.hlsbuild import exit_code_of, run
    try:
        result = run(spec)
    except StepInputError as error:
        fail_with_input_error(run_dir, error)
    write_json(run_dir / "result.json", result)
    code = exit_code_of(result) if exit_code_of else 0
    phase("done" if code == 0 else "failed")
    sys.exit(code)


main()
