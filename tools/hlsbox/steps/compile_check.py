"""hls4ml's generated C++ checked before anything builds on it: a syntax-only g++ of the firmware as the project's
build_lib.sh compiles it (the same compiler, flags and include paths), seconds; every compiler error mapped to the
layer it is in (hls4ml names each layer's structs in parameters.h config<index>), with the cause in words and the
fix where the cause is known (hlsbox.core.kernels)."""

from __future__ import annotations

import re
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from hlsbox.core import kernels
from hlsbox.core.contract import LayerRow
from hlsbox.steps.protocol import StepFailure, phase

TIMEOUT_S = 600
SLOW_COMPILE_HINT = (
    "g++ is struggling with hls4ml's generated code for this design (a very large io_parallel layer?); "
    'io_type = "io_stream" writes far less code.'
)
_COMPILE = re.compile(r"^(?P<head>\$\{CC\} .*) -c (?P<source>\S+) -o \S+\s*$")
_ERROR = re.compile(r"^(?P<file>[^\s:]+):(?P<line>\d+):(?:\d+:)? (?:fatal )?error: (?P<text>.*)$")
_STRUCT = re.compile(r"\bstruct config(?P<index>\d+)\w*\b")
_CONFIG = re.compile(r"\bconfig(?P<index>\d+)\w*\b")
# Words of a compiler error whose cause is a type the flow set (a width or form ap_fixed does not take).
_TYPE_WORDS = ("ap_fixed", "ap_ufixed", "ap_int", "ap_uint", "AP_", "_W", "width")


@dataclass(frozen=True)
class CompileError:
    file: str
    line: int
    text: str
    config: int | None  # hls4ml's layer index: config<index> in parameters.h


@dataclass(frozen=True)
class SyntaxCheck:
    seconds: float
    ok: bool
    output: str  # the compiler's


def syntax_check(project_dir: Path) -> SyntaxCheck:
    """g++ -fsyntax-only of firmware/<project>.cpp with build_lib.sh's flags."""
    script = _syntax_script((project_dir / "build_lib.sh").read_text())
    start = time.monotonic()
    try:
        done = subprocess.run(
            ["bash", "-c", script], cwd=project_dir, capture_output=True, text=True, timeout=TIMEOUT_S, check=False
        )
    except subprocess.TimeoutExpired:
        raise StepFailure(
            f"The syntax check of the generated C++ (g++ -fsyntax-only) did not finish in {TIMEOUT_S} s.",
            SLOW_COMPILE_HINT,
        ) from None
    output = done.stdout + done.stderr
    return SyntaxCheck(round(time.monotonic() - start, 2), done.returncode == 0, output)


def _syntax_script(script: str) -> str:
    """build_lib.sh up to its first compile line, that line compiling with -fsyntax-only and nothing after it."""
    lines = script.splitlines()
    for index, line in enumerate(lines):
        match = _COMPILE.match(line)
        if match:
            return "\n".join([*lines[:index], f"{match['head']} -fsyntax-only {match['source']}"])
    raise StepFailure(
        "hls4ml's build_lib.sh has no compile line hlsbox recognises, so the generated C++ cannot be checked.",
        "This hls4ml version writes another build script; hlsbox is pinned to hls4ml 1.3.0 (rebuild the image).",
    )


def errors(output: str, tree: Path) -> list[CompileError]:
    """The compiler's errors, each with the layer index of the struct it is in (or that it names)."""
    found = []
    for raw in output.splitlines():
        match = _ERROR.match(raw.strip())
        if not match:
            continue
        config = _CONFIG.search(match["text"])
        index = int(config["index"]) if config else _enclosing_struct(tree / match["file"], int(match["line"]))
        found.append(CompileError(match["file"], int(match["line"]), match["text"], index))
    return found


def _enclosing_struct(path: Path, line: int) -> int | None:
    """The config<index> struct of parameters.h (or any header) the line is inside: the last one opened above."""
    try:
        above = path.read_text(errors="replace").splitlines()[:line]
    except OSError:
        return None
    for text in reversed(above):
        if match := _STRUCT.search(text):
            return int(match["index"])
    return None


def explain(output: str, tree: Path, layers: list[LayerRow], what: str) -> StepFailure:
    """One paragraph for a failed compile of hls4ml's C++: each layer in error, the cause in words, the fix."""
    found = errors(output, tree)
    by_index = {row.index: row for row in layers}
    known = _known_causes(found, by_index)
    if known:
        causes = "; ".join(f"{_described(row)}: {p.kernel} {p.condition}" for row, p in known)
        return StepFailure(
            f"{what}: hls4ml's generated C++ does not compile, a known hls4ml bug. {causes}.",
            "Fix: " + "; ".join(p.fix for _, p in known) + ". `hlsbox plan` flags this before any build.",
        )
    lines = [_located(error, by_index) for error in found[:5]] or output.strip().splitlines()[-5:]
    typed = any(word in error.text for error in found for word in _TYPE_WORDS)
    hint = (
        "The errors are about the fixed-point types: check the flow's types (widths hls4ml's C++ accepts)."
        if typed
        else "hlsbox does not know this failure: hls4ml's generated code for the layers named does not compile "
        "(the full compiler output is in the step log); try another strategy or ReuseFactor for them, and report "
        "it to hls4ml with the layer's settings."
    )
    return StepFailure(f"{what}: hls4ml's generated C++ does not compile:\n  " + "\n  ".join(lines), hint)


def _known_causes(found: list[CompileError], by_index: dict) -> list[tuple[LayerRow, kernels.KernelProblem]]:
    """The layers whose errors are the undefined kernel class hls4ml names (hlsbox.core.kernels), once each."""
    known: dict[str, tuple[LayerRow, kernels.KernelProblem]] = {}
    for error in found:
        row = by_index.get(error.config)
        if row is None or kernels.UNDEFINED_KERNEL not in error.text:
            continue
        rf = row.reuse_used or 1
        problem = kernels.compile_problem(row.name, row.layer_class, row.strategy, row.n_in or 0, rf, row.flow_name)
        if problem is not None:
            known.setdefault(row.name, (row, problem))
    return list(known.values())


def _described(row: LayerRow) -> str:
    return f"layer {row.name} ({row.layer_class}, config{row.index})"


def _located(error: CompileError, by_index: dict) -> str:
    row = by_index.get(error.config)
    return f"{_described(row) if row else f'{error.file}:{error.line}'}: {error.text}"


def check(project_dir: Path, layers: list[LayerRow]) -> float:
    """The syntax check of a written project, its seconds; a failure is explained by layer (StepFailure)."""
    phase("checking the generated C++ (g++ -fsyntax-only)")
    result = syntax_check(project_dir)
    if not result.ok:
        raise explain(result.output, project_dir, layers, "The syntax check of the written project")
    return result.seconds
