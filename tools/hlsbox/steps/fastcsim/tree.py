"""The fast tree: a copy of a written project's C-build files in which each recognised fill_buffer class calls
one loop template with the proven geometry instead of its explicit copies. For C simulation only: the project
written for synthesis keeps hls4ml's own classes and is only read."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

from hlsbox.steps.fastcsim.recognise import (
    CODE_GEN,
    FOOTER,
    WHOLE_FILE,
    FillBufferClass,
    Unrecognised,
    recognise,
    unrecognised,
)

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


def _template_arguments(fill: FillBufferClass) -> tuple[int, ...]:
    """The loop template's geometry arguments, in its parameters' order (im2col_1d's or im2col_2d's)."""
    if fill.dim == 1:
        return (
            fill.in_width,
            fill.n_chan,
            fill.filt_width,
            fill.stride_width,
            fill.pad_left,
            fill.out_width,
            fill.n_partitions,
            fill.n_pixels,
        )
    return (
        fill.in_height,
        fill.in_width,
        fill.n_chan,
        fill.filt_height,
        fill.filt_width,
        fill.stride_height,
        fill.stride_width,
        fill.pad_top,
        fill.pad_left,
        fill.out_width,
        fill.n_partitions,
        fill.n_pixels,
    )


def template_call(
    fill: FillBufferClass,
    data: str = "data",
    buffer: str = "buffer",
    partition: str = "partition",
    data_type: str = "data_T",
) -> str:
    """The C++ statement that fills the buffer as `fill`'s generated class does, through the loop template: in the
    fast tree with the class's own names, in verify.py's harness with its arrays and `int`."""
    template = "im2col_1d" if fill.dim == 1 else "im2col_2d"
    arguments = ", ".join(map(str, _template_arguments(fill)))
    return f"::fastcsim::{template}<{arguments}, {data_type}, {fill.row}>({data}, {buffer}, {partition});"


def _replacement(fill: FillBufferClass) -> str:
    """The class's new text: its own header, a static_assert that the config is the proven geometry, the call."""
    check = (
        f"        static_assert(CONFIG_T::n_pixels == {fill.n_pixels} && CONFIG_T::n_partitions == "
        f"{fill.n_partitions} && CONFIG_T::filt_width * CONFIG_T::n_chan * "
        f'{"CONFIG_T::filt_height" if fill.dim == 2 else "1"} == {fill.row}, "fastcsim: config mismatch");\n'
    )
    return (
        fill.header
        + f"        // fastcsim: {fill.n_copies} generated copies ({fill.src_bytes} bytes) replaced by the loop\n"
        f"        // template, mapping verified: {fill.geometry()}\n"
        + check
        + "        "
        + template_call(fill)
        + "\n"
        + FOOTER
    )


_BUILD_FILES = ("build_lib.sh",)


def _checked(fills: list[FillBufferClass], strict: bool) -> None:
    """Unrecognised when the tree cannot be made: anything unrecognised (strict), or a finding tied to no class."""
    bad = unrecognised(fills)
    if bad and strict:
        raise Unrecognised("; ".join(str(fill) for fill in bad))
    if any(fill.name == WHOLE_FILE for fill in bad):
        raise Unrecognised("; ".join(str(fill) for fill in bad if fill.name == WHOLE_FILE))


def _left_out(directory: str, names: list[str]) -> list[str]:
    """What the tree's firmware/ does not copy: built libraries, and the big generated header (written anew)."""
    return [
        name for name in names if name.endswith(".so") or (name == CODE_GEN.name and directory.endswith("nnet_utils"))
    ]


def _copy_build_files(project: Path, out: Path) -> None:
    """build_lib.sh, the bridge and firmware/ (less _left_out) into a new, empty out."""
    if out.is_dir():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    bridges = [path.name for path in project.iterdir() if path.name.endswith("_bridge.cpp")]
    for name in list(_BUILD_FILES) + bridges:
        shutil.copy2(project / name, out / name)
    shutil.copytree(project / "firmware", out / "firmware", ignore=_left_out)


def _fast_code_gen(text: str, fills: list[FillBufferClass]) -> str:
    """nnet_code_gen.h with each recognised class's text replaced, and the loop template included."""
    pieces, last = [], 0
    for fill in sorted((fill for fill in fills if fill.ok), key=lambda fill: fill.span.start):
        pieces.append(text[last : fill.span.start])
        pieces.append(_replacement(fill))
        last = fill.span.end
    pieces.append(text[last:])
    code_gen = "".join(pieces)
    include = f'#include "{TEMPLATE_NAME}" // fastcsim\n'
    guard = re.search(r"^#define NNET_INSTR_GEN_H_\s*\n", code_gen, re.M)
    return code_gen[: guard.end()] + include + code_gen[guard.end() :] if guard else include + code_gen


def make_fast_tree(
    project_dir: str | Path, out_dir: str | Path, fills: list[FillBufferClass] | None = None, strict: bool = True
) -> list[FillBufferClass]:
    """Copy the C-build part of project_dir to out_dir with the recognised fill_buffer classes replaced
    by calls to the loop template.  project_dir is only read.

    strict=True: raise Unrecognised if anything was not recognised (caller falls back to the exact
    build).  strict=False: unrecognised classes are kept verbatim (still exact, just slower to compile).
    Returns the list of FillBufferClass used.
    """
    project, out = Path(project_dir).absolute(), Path(out_dir).absolute()
    if out == project or str(out).startswith(str(project / "firmware")):
        raise ValueError("out_dir must not be the project or inside its firmware directory")
    fills = recognise(project, keep_mapping=False) if fills is None else fills
    _checked(fills, strict)
    _copy_build_files(project, out)
    (out / CODE_GEN).write_text(_fast_code_gen((project / CODE_GEN).read_text(), fills))
    (out / "firmware" / "nnet_utils" / TEMPLATE_NAME).write_text(TEMPLATE_HEADER)
    (out / "FASTCSIM_README.txt").write_text(
        f"C-simulation copy of {project} made by fastbuild.make_fast_tree.\n"
        "Do not use for synthesis: the im2col classes in nnet_code_gen.h call fastcsim_im2col.h.\n"
        + "".join(f"{fill}\n" for fill in fills)
    )
    return fills
