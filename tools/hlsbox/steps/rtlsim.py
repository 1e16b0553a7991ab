"""Step `rtlsim` (backend = "da4ml"): Verilator runs rtl's Verilog on the flow's data, against da4ml's software model
(its bit-exact interpreter of the same logic) and the Keras model: every output compared bit for bit.

The inputs: the flow's [csim] data first, then uniform random ones up to `[rtl] samples`. Verilator builds the
design with da4ml's own binder (rtl_prj/sim/*_binder.cc) by hand: da4ml's makefile fails on Debian's Verilator
5.006 (`verilator -V` names no include directory there, and its --build makes no libverilated.a), and the lint
pragma 5.006 does not know (WIDTHTRUNC, Verilator >= 5.008) is taken out of the simulated copy. A difference ends
the step with exit 1, its first differing output named.
"""

from __future__ import annotations

import os
import subprocess
import time
import uuid
from pathlib import Path

import numpy as np

from hlsbox.core.contract import ResultTable, RtlsimResult, StepSpec
from hlsbox.steps import datasets, rtl
from hlsbox.steps.protocol import StepFailure, phase

VERILATOR_INCLUDE = "/usr/share/verilator/include"  # Debian's (verilated.h)
UNKNOWN_PRAGMAS = ("lint_off WIDTHTRUNC", "lint_on WIDTHTRUNC")  # Verilator 5.006 stops on them
BUILD_LOG = "verilator.log"
# Unoptimised: g++ -Os of Verilator's C++ of an unrolled network takes minutes (2.5 here for 4,000 LUTs, 12 s at
# -O0), and 10,000 inputs simulate in seconds either way
CFLAGS = ("-std=c++17", "-fPIC", "-O0")
NO_OPT = ("OPT_FAST=-O0", "OPT_SLOW=-O0", "OPT_GLOBAL=-O0")  # verilated.mk's own optimisation flags
RUNTIME = ("verilated.o", "verilated_threads.o")  # Verilator's own runtime, compiled once per build


def inputs(spec: StepSpec, input_shape: tuple[int, ...]) -> tuple[np.ndarray, int]:
    """The flow's [csim] data, then uniform random inputs up to [rtl] samples; how many came from the data."""
    from hlsbox.steps.csim import test_inputs

    wanted = spec.flow.rtl.samples
    data, _, _ = test_inputs(spec.flow.csim, input_shape, Path(spec.workspace))
    data = np.asarray(data, dtype=np.float32)[:wanted]
    extra = datasets.random_inputs(input_shape, wanted - len(data), spec.flow.csim.seed + 1)
    return np.concatenate([data, extra]) if len(extra) else data, len(data)


def without_unknown_pragmas(project: Path) -> list[str]:
    """Take the lint pragmas Verilator 5.006 does not know out of the project's sources; the files changed."""
    changed = []
    for path in sorted((project / "src").rglob("*.v")):
        text = path.read_text()
        kept = "\n".join(line for line in text.splitlines() if not any(p in line for p in UNKNOWN_PRAGMAS))
        if kept != text.rstrip("\n"):
            path.write_text(kept + "\n")
            changed.append(path.name)
    return changed


def build_commands(stamp: str, jobs: int) -> list[list[str]]:
    """Verilator's C++ of the wrapper, its objects and the runtime's, then da4ml's binder linked into one library
    (what da4ml's build_binder.mk does with a newer Verilator, whose --build also makes libverilated.a)."""
    prefix = f"V{rtl.TOP}_wrapper"
    return [
        [
            "verilator",
            "--cc",
            f"{rtl.TOP}_wrapper.v",
            "--prefix",
            prefix,
            "-Wno-fatal",
            "-I../src",
            "-I../src/static",
            "-CFLAGS",
            " ".join(CFLAGS),
        ],
        ["make", "-C", "obj_dir", "-f", f"{prefix}.mk", f"-j{jobs}", *NO_OPT, f"{prefix}__ALL.a", *RUNTIME],
        [
            "g++",
            *CFLAGS,
            "-I./obj_dir",
            f"-I{VERILATOR_INCLUDE}",
            "-I../src",
            "-Wl,--no-undefined",
            "-pthread",
            "-shared",
            "-o",
            f"lib{rtl.TOP}_wrapper_{stamp}.so",
            f"{rtl.TOP}_wrapper_binder.cc",
            f"obj_dir/{prefix}__ALL.a",
            *(f"obj_dir/{name}" for name in RUNTIME),
        ],
    ]


def verilate(project: Path, log: Path) -> str:
    """Build the simulation library da4ml's RTLModel loads; its stamp (the library's name)."""
    stamp = str(uuid.uuid4())
    phase("verilating")
    with log.open("w") as out:
        for command in build_commands(stamp, os.cpu_count() or 1):
            out.write(" ".join(command) + "\n")
            out.flush()
            done = subprocess.run(command, cwd=project / "sim", stdout=out, stderr=subprocess.STDOUT, check=False)
            if done.returncode != 0:
                tail = log.read_text(errors="replace").strip().splitlines()[-3:]
                raise StepFailure(
                    f"{command[0]} could not build rtl's Verilog (exit {done.returncode}): {' / '.join(tail)}",
                    f"Its whole output is {log.name} in the failed run's directory (rtlsim.failed/).",
                )
    return stamp


def simulate(project: Path, x: np.ndarray) -> np.ndarray:
    """The Verilog's outputs for `x`: da4ml's RTLModel on the project, its library built by Verilator."""
    from da4ml.codegen import RTLModel
    from da4ml.types import CombLogic, Pipeline

    pipeline = project / "model" / "pipeline.json"
    solution = Pipeline.load(str(pipeline)) if pipeline.is_file() else CombLogic.load(project / rtl.SOFTWARE_MODEL)
    model = RTLModel(solution, rtl.TOP, project)
    model._load_lib(verilate(project, project.parent / BUILD_LOG))  # da4ml's compile, by hand
    phase("simulating")
    return model.predict(x, n_threads=1)


def first_difference(a: np.ndarray, b: np.ndarray, names: tuple[str, str]) -> str | None:
    """'input 12, output 3: Verilog 1.25, software model 1.5', or None when they agree bit for bit."""
    differ = np.argwhere(a != b)
    if not len(differ):
        return None
    sample, output = (int(i) for i in differ[0])
    return (
        f"input {sample}, output {output}: {names[0]} {a[sample, output]!r}, {names[1]} {b[sample, output]!r} "
        f"({len(differ):,} outputs differ)"
    )


def run(spec: StepSpec) -> RtlsimResult:
    from da4ml.types import CombLogic

    start = time.monotonic()
    project = spec.run_path / rtl.PROJECT
    model = rtl.load_model(Path(spec.model_path))
    x, from_data = inputs(spec, tuple(int(d) for d in model.inputs[0].shape[1:]))
    flat = x.reshape(len(x), -1)
    phase("software model")
    software = CombLogic.load(project / rtl.SOFTWARE_MODEL).predict(flat, n_threads=1)
    phase("keras")
    keras_out = np.asarray(model.predict(x, batch_size=1024, verbose=0)).reshape(len(x), -1)
    repaired = without_unknown_pragmas(project)
    verilog = simulate(project, flat)
    rtl_diff = first_difference(verilog, software, ("Verilog", "da4ml's software model"))
    keras_diff = first_difference(software, keras_out, ("da4ml's software model", "Keras"))
    rtl_mismatches, keras_mismatches = int(np.sum(verilog != software)), int(np.sum(software != keras_out))
    outputs = verilog.size
    rows = (
        ("Verilog (Verilator) vs da4ml's software model", f"{rtl_mismatches:,} of {outputs:,} outputs differ"),
        ("da4ml's software model vs Keras", f"{keras_mismatches:,} of {outputs:,} outputs differ"),
    )
    notes = (
        f"{len(x):,} inputs: {from_data:,} from the flow's data ({spec.flow.csim.dataset}), the rest uniform random.",
        *(f"First difference: {diff}." for diff in (rtl_diff, keras_diff) if diff),
        *(
            [f"Verilator 5.006 does not know da4ml's WIDTHTRUNC lint pragma: left out of {', '.join(repaired)}."]
            if repaired
            else []
        ),
    )
    verdict = "bit-exact" if not (rtl_mismatches or keras_mismatches) else "DIFFERS"
    table = ResultTable(f"RTL simulation of da4ml's {rtl.TOP}: {verdict}", ("compared", "outputs"), rows, notes)
    return RtlsimResult(
        "rtlsim",
        table,
        len(x),
        from_data,
        rtl_mismatches,
        keras_mismatches,
        rtl_diff or keras_diff,
        round(time.monotonic() - start, 2),
        rtl.versions() | {"verilator": verilator_version()},
    )


def verilator_version() -> str:
    out = subprocess.run(["verilator", "--version"], capture_output=True, text=True, check=False).stdout.split()
    return out[1] if len(out) > 1 else ""


def exit_code_of(result: RtlsimResult) -> int:
    """1 when the Verilog, da4ml's software model and Keras do not agree bit for bit."""
    return 1 if result.rtl_mismatches or result.keras_mismatches else 0
