"""fastcsim's compiles are bounded: past the bound the compiler and everything it started are killed, and the
caller is told which compile and how long, instead of waiting for ever (the host's step timeout is far later)."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from hlsbox.steps.fastcsim.build import measure
from hlsbox.steps.fastcsim.split import CompileTimeout, _run

# a "compiler" that starts a child of its own and never ends: the driver/cc1plus pair, or build_lib.sh and its g++s
NEVER_ENDS = 'sleep 300 & echo $! > "$0"; wait'


def gone(pid: int) -> bool:
    """Not running any more (a zombie waiting for a reaper counts as gone)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
    except OSError:
        return True


@pytest.mark.parametrize("runner", ["split unit", "build_lib.sh"])
def test_a_compile_past_its_bound_is_killed_with_its_children(tmp_path: Path, runner: str):
    child = tmp_path / "child.pid"
    start = time.monotonic()
    with pytest.raises(CompileTimeout, match="did not finish in 1 s") as stopped:
        if runner == "split unit":
            _run(["sh", "-c", NEVER_ENDS, str(child)], str(tmp_path), "g++ of fastcsim_layer_3.cpp", timeout=1)
        else:
            measure(["sh", "-c", NEVER_ENDS, str(child)], cwd=str(tmp_path), timeout=1)
    assert time.monotonic() - start < 15 and stopped.value.seconds == 1
    assert str(stopped.value).startswith("g++ of fastcsim_layer_3.cpp" if runner == "split unit" else "sh -c")
    pid = int(child.read_text())
    deadline = time.monotonic() + 5
    while not gone(pid):
        assert time.monotonic() < deadline, f"the compiler's child {pid} outlived the bound"
        time.sleep(0.05)


def test_a_compile_within_its_bound_gives_its_output_and_code(tmp_path: Path):
    assert _run(["sh", "-c", "echo done; exit 3"], str(tmp_path), "g++ of a unit", timeout=30) == (3, "done\n")
    run = measure(["sh", "-c", "echo built"], cwd=str(tmp_path), timeout=30)
    assert (run.returncode, run.output) == (0, "built\n") and os.path.isdir(tmp_path)
