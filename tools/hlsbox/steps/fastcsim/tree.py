"""The fast tree: a copy of a written project's C-build files in which each recognised fill_buffer class calls
one loop template with the proven geometry instead of its explicit copies. For C simulation only: the project
written for synthesis keeps hls4ml's own classes and is only read."""

from __future__ import annotations

import os
import re
import shutil

from hlsbox.steps.fastcsim.recognise import CODE_GEN, FOOTER, Unrecognised, recognise, unrecognised

TEMPLATE_NAME = "fastcsim_im2col.h"
TEMPLATE_HEADER = r"""#ifndef FASTCSIM_IM2COL_H_
#define FASTCSIM_IM2COL_H_
// fastcsim: loop version of the im2col copies that hls4ml 1.3.0 (Vivado, io_parallel) generates as
// fill_buffer_N classes in nnet_code_gen.h.  For C simulation only: the project written for synthesis
// keeps hls4ml's generated classes.  Mapping (same as FPGABackend._compute_conv{1,2}d_im2col split in
// n_partitions consecutive chunks of n_pixels output pixels):
//   output pixel o = partition * NPIX + p, (oh, ow) = (o / OW, o % OW)
//   buffer[p][(kh * KW + kw) * C + c] = data[(r * IW + q) * C + c]   with r = oh*SH + kh - PT, q = ow*SW + kw - PL
//                                     = 0 when (r, q) lies in the zero padding
namespace fastcsim {

template <unsigned IH, unsigned IW, unsigned C, unsigned KH, unsigned KW, unsigned SH, unsigned SW, unsigned PT,
          unsigned PL, unsigned OW, unsigned NPART, unsigned NPIX, class data_T, unsigned ROW>
inline void im2col_2d(const data_T *data, data_T (*buffer)[ROW], const unsigned partition) {
    static_assert(ROW == KH * KW * C, "fastcsim: im2col buffer row size mismatch");
    if (partition >= NPART)
        return; // the generated code has no block for such a partition either
    for (unsigned p = 0; p < NPIX; p++) {
        const unsigned o = partition * NPIX + p;
        const int oh = (int)(o / OW), ow = (int)(o % OW);
        for (unsigned kh = 0; kh < KH; kh++) {
            const int r = oh * (int)SH + (int)kh - (int)PT;
            for (unsigned kw = 0; kw < KW; kw++) {
                const int q = ow * (int)SW + (int)kw - (int)PL;
                data_T *dst = buffer[p] + (kh * KW + kw) * C;
                if (r >= 0 && r < (int)IH && q >= 0 && q < (int)IW) {
                    const data_T *src = data + ((unsigned)r * IW + (unsigned)q) * C;
                    for (unsigned c = 0; c < C; c++)
                        dst[c] = src[c];
                } else {
                    for (unsigned c = 0; c < C; c++)
                        dst[c] = 0;
                }
            }
        }
    }
}

template <unsigned IW, unsigned C, unsigned KW, unsigned SW, unsigned PL, unsigned OW, unsigned NPART, unsigned NPIX,
          class data_T, unsigned ROW>
inline void im2col_1d(const data_T *data, data_T (*buffer)[ROW], const unsigned partition) {
    im2col_2d<1, IW, C, 1, KW, 1, SW, 0, PL, OW, NPART, NPIX, data_T, ROW>(data, buffer, partition);
}

} // namespace fastcsim
#endif
"""


def _call(rec, data="data", buffer="buffer", partition="partition", data_t="data_T"):
    if rec.dim == 1:
        args = (
            rec.in_width,
            rec.n_chan,
            rec.filt_width,
            rec.stride_width,
            rec.pad_left,
            rec.out_width,
            rec.n_partitions,
            rec.n_pixels,
        )
        return (
            f"::fastcsim::im2col_1d<{', '.join(map(str, args))}, {data_t}, {rec.row}>({data}, {buffer}, {partition});"
        )
    args = (
        rec.in_height,
        rec.in_width,
        rec.n_chan,
        rec.filt_height,
        rec.filt_width,
        rec.stride_height,
        rec.stride_width,
        rec.pad_top,
        rec.pad_left,
        rec.out_width,
        rec.n_partitions,
        rec.n_pixels,
    )
    return f"::fastcsim::im2col_2d<{', '.join(map(str, args))}, {data_t}, {rec.row}>({data}, {buffer}, {partition});"


def _replacement(rec):
    chk = (
        f"        static_assert(CONFIG_T::n_pixels == {rec.n_pixels} && CONFIG_T::n_partitions == "
        f"{rec.n_partitions} && CONFIG_T::filt_width * CONFIG_T::n_chan * "
        f'{"CONFIG_T::filt_height" if rec.dim == 2 else "1"} == {rec.row}, "fastcsim: config mismatch");\n'
    )
    return (
        rec.header
        + f"        // fastcsim: {rec.n_copies} generated copies ({rec.src_bytes} bytes) replaced by the loop\n"
        f"        // template, mapping verified: {rec.geometry()}\n" + chk + "        " + _call(rec) + "\n" + FOOTER
    )


_BUILD_FILES = ("build_lib.sh",)


def make_fast_tree(project_dir, out_dir, recs=None, strict=True):
    """Copy the C-build part of project_dir to out_dir with the recognised fill_buffer classes replaced
    by calls to the loop template.  project_dir is only read.

    strict=True: raise Unrecognised if anything was not recognised (caller falls back to the exact
    build).  strict=False: unrecognised classes are kept verbatim (still exact, just slower to compile).
    Returns the list of FillBufferClass used.
    """
    project_dir = os.path.abspath(project_dir)
    out_dir = os.path.abspath(out_dir)
    if out_dir == project_dir or out_dir.startswith(project_dir + os.sep + "firmware"):
        raise ValueError("out_dir must not be the project or inside its firmware directory")
    if recs is None:
        recs = recognise(project_dir, keep_mapping=False)
    bad = unrecognised(recs)
    if bad and strict:
        raise Unrecognised("; ".join(str(r) for r in bad))
    if any(r.name == "<file>" for r in bad):
        raise Unrecognised("; ".join(str(r) for r in bad if r.name == "<file>"))

    if os.path.isdir(out_dir):
        shutil.rmtree(out_dir)
    os.makedirs(out_dir)
    bridges = [f for f in os.listdir(project_dir) if f.endswith("_bridge.cpp")]
    for f in list(_BUILD_FILES) + bridges:
        shutil.copy2(os.path.join(project_dir, f), os.path.join(out_dir, f))
    # firmware/ without any previously built libraries and without the big generated header
    shutil.copytree(
        os.path.join(project_dir, "firmware"),
        os.path.join(out_dir, "firmware"),
        ignore=lambda d, names: [
            n for n in names if n.endswith(".so") or (n == "nnet_code_gen.h" and d.endswith("nnet_utils"))
        ],
    )
    with open(os.path.join(project_dir, CODE_GEN)) as f:
        text = f.read()
    pieces, last = [], 0
    for rec in sorted((r for r in recs if r.ok), key=lambda r: r.span[0]):
        s, e = rec.span
        pieces.append(text[last:s])
        pieces.append(_replacement(rec))
        last = e
    pieces.append(text[last:])
    new = "".join(pieces)
    inc = f'#include "{TEMPLATE_NAME}" // fastcsim\n'
    m = re.search(r"^#define NNET_INSTR_GEN_H_\s*\n", new, re.M)
    new = new[: m.end()] + inc + new[m.end() :] if m else inc + new
    with open(os.path.join(out_dir, CODE_GEN), "w") as f:
        f.write(new)
    with open(os.path.join(out_dir, "firmware", "nnet_utils", TEMPLATE_NAME), "w") as f:
        f.write(TEMPLATE_HEADER)
    with open(os.path.join(out_dir, "FASTCSIM_README.txt"), "w") as f:
        f.write(
            f"C-simulation copy of {project_dir} made by fastbuild.make_fast_tree.\n"
            "Do not use for synthesis: the im2col classes in nnet_code_gen.h call fastcsim_im2col.h.\n"
        )
        for r in recs:
            f.write(f"{r}\n")
    return recs
