"""The C++ check of the loop template: a harness runs it for every recognised class and every partition on
distinct inputs (data[i] = i + 1, so padding and unwritten elements show) and its buffers are compared with the
generated copies parsed from nnet_code_gen.h; with_generated also compiles hls4ml's own classes beside it."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import time
from array import array

from hlsbox.steps.fastcsim.recognise import CODE_GEN, recognise
from hlsbox.steps.fastcsim.tree import TEMPLATE_HEADER, TEMPLATE_NAME, _call

# What a harness printed, by its source: the same program gives the same buffers, so it is compiled and run once.
_HARNESS_OUTPUT: dict[str, bytes] = {}


def verify_cxx(project_dir, recs=None, workdir=None, with_generated=False, cxx="g++", log=None):
    """Compile and run a harness that, for every recognised class and every partition, fills a buffer
    (pre-set to -1) with the C++ loop template from an input data[i] = i + 1 (distinct, non-zero, so
    zero padding and unwritten elements are visible) and compares it with the generated copies parsed
    from nnet_code_gen.h.  With with_generated=True the original generated classes are compiled into
    the harness as well and run side by side (exact C++ comparison; use for small projects only).

    Returns (ok, message)."""
    if recs is None:
        recs = recognise(project_dir)
    good = [r for r in recs if r.ok]
    if not good:
        return True, "no recognised classes"
    if any(r.mapping is None for r in good):
        recs = recognise(project_dir)
        good = [r for r in recs if r.ok]
    tmp = workdir or tempfile.mkdtemp(prefix="fastcsim_verify_")
    os.makedirs(tmp, exist_ok=True)
    with open(os.path.join(tmp, TEMPLATE_NAME), "w") as f:
        f.write(TEMPLATE_HEADER)
    src = [f'#include "{TEMPLATE_NAME}"', "#include <cstdio>", "#include <cstring>", "#include <vector>"]
    if with_generated:
        with open(os.path.join(project_dir, CODE_GEN)) as f:
            text = f.read()
        src += [
            "namespace nnet {",
            "template <class data_T, typename CONFIG_T> class FillConv1DBuffer {};",
            "template <class data_T, typename CONFIG_T> class FillConv2DBuffer {};",
            "}",
            "namespace gen {",
        ]
        for r in good:
            src.append(text[r.span[0] : r.span[1]])
        src.append("}")
    src.append("static int n_bad = 0;")
    for k, r in enumerate(good):
        src.append(
            f"struct cfg{k} {{ static const unsigned in_height = {r.in_height}, in_width = {r.in_width}, "
            f"n_chan = {r.n_chan}, filt_height = {r.filt_height}, filt_width = {r.filt_width}, "
            f"n_pixels = {r.n_pixels}; }};"
        )
        src.append(f"static void run{k}(FILE *f) {{")
        src.append(
            f"    std::vector<int> data({r.in_size}); for (unsigned i = 0; i < data.size(); i++) data[i] = i + 1;"
        )
        src.append(f"    static int buf[{r.n_pixels}][{r.row}]; static int gbuf[{r.n_pixels}][{r.row}];")
        src.append(f"    for (unsigned part = 0; part < {r.n_partitions}; part++) {{")
        src.append("        memset(buf, 0xff, sizeof(buf));")
        src.append("        " + _call(r, data="data.data()", buffer="buf", partition="part", data_t="int"))
        src.append("        fwrite(buf, sizeof(int), sizeof(buf) / sizeof(int), f);")
        if with_generated:
            src.append("        memset(gbuf, 0xff, sizeof(gbuf));")
            src.append(f"        gen::{r.name}<int, cfg{k}>::fill_buffer(data.data(), gbuf, part);")
            src.append(
                "        if (memcmp(buf, gbuf, sizeof(buf))) { n_bad++; "
                f'fprintf(stderr, "{r.name}: partition %u differs from generated class\\n", part); }}'
            )
        src.append("    }")
        src.append("}")
    src.append("int main(int argc, char **argv) {")
    src.append('    FILE *f = fopen(argv[1], "wb");')
    for k in range(len(good)):
        src.append(f"    run{k}(f);")
    src.append("    fclose(f);")
    src.append("    return n_bad ? 1 : 0;")
    src.append("}")
    cpp = os.path.join(tmp, "verify.cpp")
    exe = os.path.join(tmp, "verify")
    out = os.path.join(tmp, "verify.bin")
    text = "\n".join(src) + "\n"
    with open(cpp, "w") as f:
        f.write(text)
    t0 = time.time()
    key = hashlib.sha256(f"{cxx}\n{TEMPLATE_HEADER}\n{text}".encode()).hexdigest()
    if key not in _HARNESS_OUTPUT:  # the same harness ran before in this process (fit: every probe's geometry)
        r = subprocess.run([cxx, "-O1", "-std=c++11", cpp, "-o", exe], capture_output=True, text=True)
        if r.returncode:
            return False, "harness failed to compile:\n" + r.stderr[-3000:]
        r = subprocess.run([exe, out], capture_output=True, text=True)
        if r.returncode:
            return False, "template differs from generated classes:\n" + r.stderr[-3000:]
        with open(out, "rb") as f:
            _HARNESS_OUTPUT[key] = f.read()
    got = array("i")
    got.frombytes(_HARNESS_OUTPUT[key])
    if sys.byteorder != "little":
        got.byteswap()
    pos = 0
    for rec in good:
        n = len(rec.mapping)
        if got[pos : pos + n] != rec.mapping:
            return False, f"{rec.name}: C++ template buffers differ from the generated copies"
        pos += n
    if pos != len(got):
        return False, "harness output size mismatch"
    msg = (
        f"{len(good)} classes, {pos} buffer elements over all partitions: C++ template == generated copies"
        + (" (also compiled and ran the generated classes)" if with_generated else "")
        + f" [{time.time() - t0:.1f}s]"
    )
    if log:
        log(msg)
    if workdir is None:
        shutil.rmtree(tmp, ignore_errors=True)
    return True, msg
