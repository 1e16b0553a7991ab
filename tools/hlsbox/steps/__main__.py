"""Entry of a step inside the container: `python -m hlsbox.steps <step> --spec spec.json`.

spec.json (core.contract.StepSpec, or the module's own SPEC type) names the module that runs the step
(hlsbox.steps.<module>, from the host's step table); the module's `run(spec)` returns the result, a contract type
whose `to_dict()` is result.json, and may define `exit_code_of(result)`. SIGUSR1 dumps every thread's Python stack
into <run dir>/stacks.txt (the host's hang watchdog sends it before it stops a hung step; the step's pid is in
<run dir>/step.pid). Any other exception ends the step as an explained failure too (error.json, exit 1), its
traceback in <run dir>/traceback.txt.
"""

from __future__ import annotations

import argparse
import importlib
import json
import logging
import sys
from pathlib import Path

from hlsbox.core.contract import StepSpec
from hlsbox.steps.protocol import (
    StepFailure,
    StepInputError,
    dump_stacks_on_sigusr1,
    fail_with_error,
    phase,
    unexpected,
    write_json,
)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m hlsbox.steps")
    parser.add_argument("step")
    parser.add_argument("--spec", type=Path, required=True)
    args = parser.parse_args()
    raw = json.loads(args.spec.read_text())
    run_dir = Path(raw["run_dir"])
    dump_stacks_on_sigusr1(run_dir)
    # TensorFlow's Python warnings ("... triggered tf.function retracing" on every fit probe's predict) are noise
    # in a step's output; its errors still show
    logging.getLogger("tensorflow").setLevel(logging.ERROR)
    try:
        module = importlib.import_module(f"hlsbox.steps.{raw.get('module', args.step)}")
        result = module.run(getattr(module, "SPEC", StepSpec).from_dict(raw))
    except (StepInputError, StepFailure) as error:
        fail_with_error(run_dir, error)
    except Exception as error:  # a bug (hlsbox's or a library's): error.json and exit 1 too, the traceback kept
        fail_with_error(run_dir, unexpected(args.step, error, run_dir))
    write_json(run_dir / "result.json", result.to_dict())
    exit_code_of = getattr(module, "exit_code_of", None)
    code = exit_code_of(result) if exit_code_of else 0
    phase("done" if code == 0 else "failed")
    sys.exit(code)


main()
