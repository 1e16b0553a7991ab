"""The C++ check of the loop template: a harness runs it for every recognised class and every partition on
distinct inputs (data[i] = i + 1, so padding and unwritten elements show) and its buffers are compared with the
generated copies parsed from nnet_code_gen.h; with_generated also compiles hls4ml's own classes beside it."""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
import tempfile
import time
from array import array
from collections.abc import Callable
from pathlib import Path

from hlsbox.steps.fastcsim.recognise import CODE_GEN, FillBufferClass, recognise
from hlsbox.steps.fastcsim.tree import TEMPLATE_HEADER, TEMPLATE_NAME, template_call

# What a harness printed, by its source: the same program gives the same buffers, so it is compiled and run once.
_HARNESS_OUTPUT: dict[str, bytes] = {}

# hls4ml's generated classes derive from these; the harness compiles them without hls4ml's headers.
_GENERATED_PREAMBLE = [
    "namespace nnet {",
    "template <class data_T, typename CONFIG_T> class FillConv1DBuffer {};",
    "template <class data_T, typename CONFIG_T> class FillConv2DBuffer {};",
    "}",
    "namespace gen {",
]


class HarnessFailed(Exception):
    """The harness did not compile, or the template's buffers are not the generated copies."""


def _class_runner(index: int, fill: FillBufferClass, with_generated: bool) -> list[str]:
    """The harness's run<index>(): every partition of `fill` through the template, its buffer written out (and
    compared with the generated class's, with_generated)."""
    lines = [
        f"struct cfg{index} {{ static const unsigned in_height = {fill.in_height}, in_width = {fill.in_width}, "
        f"n_chan = {fill.n_chan}, filt_height = {fill.filt_height}, filt_width = {fill.filt_width}, "
        f"n_pixels = {fill.n_pixels}; }};",
        f"static void run{index}(FILE *f) {{",
        f"    std::vector<int> data({fill.in_size}); for (unsigned i = 0; i < data.size(); i++) data[i] = i + 1;",
        f"    static int buf[{fill.n_pixels}][{fill.row}]; static int gbuf[{fill.n_pixels}][{fill.row}];",
        f"    for (unsigned part = 0; part < {fill.n_partitions}; part++) {{",
        "        memset(buf, 0xff, sizeof(buf));",
        "        " + template_call(fill, data="data.data()", buffer="buf", partition="part", data_type="int"),
        "        fwrite(buf, sizeof(int), sizeof(buf) / sizeof(int), f);",
    ]
    if with_generated:
        lines += [
            "        memset(gbuf, 0xff, sizeof(gbuf));",
            f"        gen::{fill.name}<int, cfg{index}>::fill_buffer(data.data(), gbuf, part);",
            "        if (memcmp(buf, gbuf, sizeof(buf))) { n_bad++; "
            f'fprintf(stderr, "{fill.name}: partition %u differs from generated class\\n", part); }}',
        ]
    return [*lines, "    }", "}"]


def _harness_source(fills: list[FillBufferClass], generated: str | None) -> str:
    """The harness: for each class a runner, main() running them all into the file argv[1]; `generated`: the text
    of nnet_code_gen.h, whose classes it then compiles (namespace gen) and compares too."""
    lines = [f'#include "{TEMPLATE_NAME}"', "#include <cstdio>", "#include <cstring>", "#include <vector>"]
    if generated is not None:
        lines += [*_GENERATED_PREAMBLE, *(generated[fill.span.start : fill.span.end] for fill in fills), "}"]
    lines.append("static int n_bad = 0;")
    for index, fill in enumerate(fills):
        lines += _class_runner(index, fill, generated is not None)
    lines += ["int main(int argc, char **argv) {", '    FILE *f = fopen(argv[1], "wb");']
    lines += [f"    run{index}(f);" for index in range(len(fills))]
    lines += ["    fclose(f);", "    return n_bad ? 1 : 0;", "}"]
    return "\n".join(lines) + "\n"


def _harness_output(workdir: Path, source: str, cxx: str) -> bytes:
    """What the harness wrote, compiled and run once per source and compiler in this process (fit: every probe's
    geometry); HarnessFailed when it does not compile or finds a difference itself."""
    cpp, exe, out = workdir / "verify.cpp", workdir / "verify", workdir / "verify.bin"
    cpp.write_text(source)
    key = hashlib.sha256(f"{cxx}\n{TEMPLATE_HEADER}\n{source}".encode()).hexdigest()
    if key not in _HARNESS_OUTPUT:
        compiled = subprocess.run([cxx, "-O1", "-std=c++11", str(cpp), "-o", str(exe)], capture_output=True, text=True)
        if compiled.returncode:
            raise HarnessFailed("harness failed to compile:\n" + compiled.stderr[-3000:])
        ran = subprocess.run([str(exe), str(out)], capture_output=True, text=True)
        if ran.returncode:
            raise HarnessFailed("template differs from generated classes:\n" + ran.stderr[-3000:])
        _HARNESS_OUTPUT[key] = out.read_bytes()
    return _HARNESS_OUTPUT[key]


def _compared(fills: list[FillBufferClass], output: bytes) -> int:
    """How many buffer elements the harness wrote, all of them every class's parsed copies in order (HarnessFailed
    at the first class whose buffers differ)."""
    buffers = array("i")
    buffers.frombytes(output)
    if sys.byteorder != "little":
        buffers.byteswap()
    pos = 0
    for fill in fills:
        size = len(fill.mapping)
        if buffers[pos : pos + size] != fill.mapping:
            raise HarnessFailed(f"{fill.name}: C++ template buffers differ from the generated copies")
        pos += size
    if pos != len(buffers):
        raise HarnessFailed("harness output size mismatch")
    return pos


def verify_cxx(
    project_dir: str | Path,
    fills: list[FillBufferClass] | None = None,
    workdir: str | Path | None = None,
    with_generated: bool = False,
    cxx: str = "g++",
    log: Callable[[str], None] | None = None,
) -> tuple[bool, str]:
    """Compile and run a harness that, for every recognised class and every partition, fills a buffer
    (pre-set to -1) with the C++ loop template from an input data[i] = i + 1 (distinct, non-zero, so
    zero padding and unwritten elements are visible) and compares it with the generated copies parsed
    from nnet_code_gen.h.  With with_generated=True the original generated classes are compiled into
    the harness as well and run side by side (exact C++ comparison; use for small projects only).

    Returns (ok, message)."""
    good = [fill for fill in (recognise(project_dir) if fills is None else fills) if fill.ok]
    if not good:
        return True, "no recognised classes"
    if any(fill.mapping is None for fill in good):  # recognised without their copies kept: parse them again
        good = [fill for fill in recognise(project_dir) if fill.ok]
    tmp = Path(workdir or tempfile.mkdtemp(prefix="fastcsim_verify_"))
    tmp.mkdir(parents=True, exist_ok=True)
    (tmp / TEMPLATE_NAME).write_text(TEMPLATE_HEADER)
    generated = Path(project_dir, CODE_GEN).read_text() if with_generated else None
    start = time.time()
    try:
        compared = _compared(good, _harness_output(tmp, _harness_source(good, generated), cxx))
    except HarnessFailed as failed:
        return False, str(failed)
    message = (
        f"{len(good)} classes, {compared} buffer elements over all partitions: C++ template == generated copies"
        + (" (also compiled and ran the generated classes)" if with_generated else "")
        + f" [{time.time() - start:.1f}s]"
    )
    if log:
        log(message)
    if workdir is None:
        shutil.rmtree(tmp, ignore_errors=True)
    return True, message
