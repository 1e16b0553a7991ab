"""The file and line protocol between the host and a step in the container."""

from __future__ import annotations

import atexit
import contextlib
import faulthandler
import json
import os
import signal
import sys
from collections.abc import Iterator
from pathlib import Path

from hlsbox.core.contract import PHASE_MARK, ErrorReport
from hlsbox.core.errors import BadInput, HlsboxError, StepFailed


class StepInputError(BadInput):
    """The user's input is wrong (model file, data, layer): reported with a hint, exit 2."""

    def __init__(self, message: str, hint: str) -> None:
        super().__init__(message, hint)


class StepFailure(StepFailed):
    """The step failed in a way it can explain (e.g. the C simulation aborted in a layer): exit 1."""


_muted = [False]


def phase(name: str) -> None:
    if not _muted[0]:
        print(f"{PHASE_MARK}{name}", flush=True)


@contextlib.contextmanager
def muted_phases() -> Iterator[None]:
    """Inner phases (a fit's many conversions and builds) stay out of the live view; the caller reports."""
    _muted[0] = True
    try:
        yield
    finally:
        _muted[0] = False


def write_json(path: Path, data: object) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(data, indent=2, default=str) + "\n")
    tmp.replace(path)


def fail_with_error(run_dir: Path, error: HlsboxError) -> None:
    write_json(run_dir / "error.json", ErrorReport(error.kind, error.message, error.hint).to_dict())
    print(f"ERROR: {error.message} {error.hint}", file=sys.stderr, flush=True)
    sys.exit(error.exit_code)


TRACEBACK = "traceback.txt"


def unexpected(step: str, error: Exception, run_dir: Path) -> StepFailure:
    """An exception no step explains: what it was, with its traceback kept beside the record (not on the console)."""
    import traceback

    (run_dir / TRACEBACK).write_text("".join(traceback.format_exception(error)))
    where = traceback.extract_tb(error.__traceback__)[-1]
    text = (str(error).strip().splitlines() or [""])[0][:300]
    return StepFailure(
        f"The {step} step stopped on an unexpected error: {type(error).__name__}: {text} "
        f"(in {Path(where.filename).name}, line {where.lineno}).",
        f"This is a bug in hlsbox or a library it calls, not in the flow: please report it with {TRACEBACK}, the "
        f"whole traceback, in the failed run's directory ({step}.failed/ in the flow's build directory).",
    )


STACKS = "stacks.txt"
PID_FILE = "step.pid"


def dump_stacks_on_sigusr1(run_dir: Path) -> None:
    """faulthandler writes the stacks from C, so even a thread blocked in a pipe write with the GIL held
    cannot stop the dump. The files go again when the step ends by itself with nothing dumped."""
    stacks = (run_dir / STACKS).open("w")
    faulthandler.register(signal.SIGUSR1, file=stacks, all_threads=True)
    (run_dir / PID_FILE).write_text(f"{os.getpid()}\n")

    def tidy() -> None:
        stacks.close()
        with contextlib.suppress(OSError):
            (run_dir / PID_FILE).unlink(missing_ok=True)
            if (run_dir / STACKS).stat().st_size == 0:
                (run_dir / STACKS).unlink()

    atexit.register(tidy)
