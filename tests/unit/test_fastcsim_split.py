"""The split C build (steps/fastcsim/split.py) on a small project in hls4ml's layout, compiled by the host's real g++:
a definition with external linkage in parameters.h (hls4ml's Transpose writes `unsigned configN_perm[]` and
`configN::perm`) is defined in exactly one unit, so the split build links; when the split build fails anyway, the
unsplit build that replaces it says so and why. And the rule that picks the build per design."""

from __future__ import annotations

import ctypes
import shutil
from pathlib import Path

import pytest

from hlsbox.steps.fastcsim.build import build, choose_build
from hlsbox.steps.fastcsim.layers import _chunks
from hlsbox.steps.fastcsim.split import first_error

pytestmark = pytest.mark.skipif(shutil.which("g++") is None, reason="needs g++")

BUILD_LIB = """#!/bin/bash
set -e
CC=g++
CFLAGS="-O1 -fPIC -std=c++11"
LDFLAGS=
INCFLAGS="-Ifirmware/ap_types/"
PROJECT=myproject
LIB_STAMP=test
BASEDIR="$(cd "$(dirname "$0")" && pwd)"
WEIGHTS_DIR="\\"${BASEDIR}/firmware/weights\\""

${CC} ${CFLAGS} ${INCFLAGS} -D WEIGHTS_DIR="${WEIGHTS_DIR}" -c firmware/${PROJECT}.cpp -o ${PROJECT}.o
${CC} ${CFLAGS} ${INCFLAGS} -D WEIGHTS_DIR="${WEIGHTS_DIR}" -c ${PROJECT}_bridge.cpp -o ${PROJECT}_bridge.o
${CC} ${CFLAGS} ${INCFLAGS} -shared ${PROJECT}.o ${PROJECT}_bridge.o -o firmware/${PROJECT}-${LIB_STAMP}.so
"""
KERNEL = """#pragma once
namespace nnet {
template <class data_T, class res_T, typename CONFIG_T> void transpose(data_T in[CONFIG_T::N], res_T out[CONFIG_T::N]) {
    for (unsigned i = 0; i < CONFIG_T::N; i++) out[i] = in[CONFIG_T::perm[i]] * CONFIG_T::scale;
}
}
"""
DEFINES = """#ifndef DEFINES_H_
#define DEFINES_H_
#include "nnet_utils/nnet_transpose.h"
typedef int input_t;
typedef int layer2_t;
typedef int result_t;
#endif
"""
# hls4ml 1.3.0's transpose config (backends/vivado/passes/reshaping_templates.py) and hard activation's out-of-class
# constants (core_templates.py), shared by both layers here so that two units need them
CONFIG = """struct config2 {
    static const unsigned dims = 1;
    static const unsigned N = 4;
    static const unsigned* const perm;
    static const int scale;
};

unsigned config2_perm[1 * 4] = {1, 2, 3, 0};

const unsigned* const config2::perm = config2_perm;
const int config2::scale = 3;
"""
PARAMETERS = """#ifndef PARAMETERS_H_
#define PARAMETERS_H_
#include "defines.h"
#include "nnet_utils/nnet_transpose.h"

// hls-fpga-machine-learning insert weights

// hls-fpga-machine-learning insert layer-config
{config}
#endif
"""
TOP = """#include <iostream>

#include "myproject.h"
#include "parameters.h"

void myproject(
    input_t x[4],
    result_t y[4]
) {
    layer2_t layer2_out[4];
    nnet::transpose<input_t, layer2_t, config2>(x, layer2_out); // first
    nnet::transpose<layer2_t, result_t, config2>(layer2_out, y); // second
}
"""
HEADER = """#ifndef MYPROJECT_H_
#define MYPROJECT_H_
#include "defines.h"
void myproject(input_t x[4], result_t y[4]);
#endif
"""
BRIDGE = """#include "firmware/myproject.h"
extern "C" {
void myproject_int(int *x, int *y) { myproject(x, y); }
}
"""


def project(root: Path, config: str = CONFIG) -> Path:
    """A written project in hls4ml's layout: build_lib.sh's three lines, a top function of two layers that share one
    config struct, the config in parameters.h after hls4ml's marker."""
    files = {
        "build_lib.sh": BUILD_LIB,
        "myproject_bridge.cpp": BRIDGE,
        "firmware/myproject.cpp": TOP,
        "firmware/myproject.h": HEADER,
        "firmware/defines.h": DEFINES,
        "firmware/parameters.h": PARAMETERS.replace("{config}", config),
        "firmware/nnet_utils/nnet_transpose.h": KERNEL,
        "firmware/ap_types/hls_stream.h": "#pragma once\n",
    }
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    return root


def run(lib: str) -> list[int]:
    x, y = (ctypes.c_int * 4)(10, 20, 30, 40), (ctypes.c_int * 4)()
    ctypes.CDLL(lib).myproject_int(x, y)
    return list(y)


def test_definitions_in_parameters_h_are_defined_once_and_the_split_build_links(tmp_path: Path):
    tree = project(tmp_path / "prj")
    told: list[str] = []
    library = build(str(tree), ccache_dir=str(tmp_path / "cache"), log=None, split=True, progress=told.append)
    assert library.split and library.units == 4 and library.not_split is None and not told, library
    # y[i] = 3 * (3 * x[perm[perm[i]]]): both layers read the one perm array, defined in one unit
    assert run(library.lib) == [9 * v for v in (30, 40, 10, 20)]
    units = [(tree / "firmware" / f"fastcsim_layer_{i}.cpp").read_text() for i in (0, 1)]
    assert [u.count("unsigned config2_perm[1 * 4] = {1, 2, 3, 0};") for u in units] == [1, 0]
    assert [u.count("extern unsigned config2_perm[1 * 4];") for u in units] == [0, 1]
    assert [u.count("config2::scale = 3;") for u in units] == [1, 0]
    assert "config2" not in (tree / "firmware" / "parameters.h").read_text().split("insert weights")[0]


def test_a_failed_split_build_is_recorded_with_its_reason_and_told(tmp_path: Path):
    """A non-inline function in parameters.h (not a declaration split knows: in every unit) defined twice: the
    split build does not link, the unsplit build replaces it, and the result and the progress line say why."""
    helper = "int twice(int v) { return 2 * v; };\n"
    tree = project(tmp_path / "prj", helper + CONFIG)
    told: list[str] = []
    library = build(str(tree), ccache_dir=str(tmp_path / "cache"), log=None, split=True, progress=told.append)
    assert not library.split and run(library.lib) == [9 * v for v in (30, 40, 10, 20)]
    assert library.not_split.startswith("the split objects did not link: ")
    assert "multiple definition of `twice(int)'" in library.not_split and "\n" not in library.not_split
    assert len(told) == 1 and "the split build failed: the split objects did not link" in told[0], told


def test_first_error_is_the_first_error_line_not_the_whole_output():
    output = "ld: a.o: in function `f':\nld: b.o: multiple definition of `x'; a.o: first defined here\ncollect2: error"
    assert first_error(f"the split objects did not link: {output}") == (
        "the split objects did not link: ld: b.o: multiple definition of `x'; a.o: first defined here"
    )
    assert first_error("build_lib.sh's compile lines are not the expected three") == (
        "build_lib.sh's compile lines are not the expected three"
    )


def test_every_definition_hls4ml_writes_in_a_header_is_known_with_its_linkage():
    """hls4ml 1.3.0's templates that define (not declare) in parameters.h: Transpose's arrays and members, the
    convolutions' `pixels`, the hard activations' slope and shift, GarNet's references to arrays."""
    text = (
        CONFIG
        + "const ap_uint<config5::filt_width> config5::pixels[] = {0, 1};\n"
        + "const ap_fixed<16,6> hard_sigmoid_config4::slope = 0.2;\n"
        + "const config7::w_t (&config7::input_transform_weights)[2] = {1, 2};\n"
        + "const int limit = 3;\nstatic unsigned counts[2];\nconst unsigned *table = config2_perm;\n"
    )
    chunks = _chunks(text)[1]
    found = {c.text.split("=")[0].strip(): (c.owner, c.elsewhere) for c in chunks if not c.text.startswith("struct")}
    assert found == {
        "unsigned config2_perm[1 * 4]": (None, "extern unsigned config2_perm[1 * 4];"),
        "const unsigned* const config2::perm": ("config2", ""),
        "const int config2::scale": ("config2", ""),
        "const ap_uint<config5::filt_width> config5::pixels[]": ("config5", ""),
        "const ap_fixed<16,6> hard_sigmoid_config4::slope": ("hard_sigmoid_config4", ""),
        "const config7::w_t (&config7::input_transform_weights)[2]": ("config7", ""),
        "const int limit": (None, None),  # a const object: internal linkage, each unit its own
        "static unsigned counts[2];": (None, None),
        "const unsigned *table": (None, "extern const unsigned *table;"),  # a pointer to const: external
    }


@pytest.mark.parametrize(("layers", "copies"), [(6, 516), (37, 489_472)])
def test_a_design_built_once_gets_build_lib_shs_two_units_whatever_its_size(layers: int, copies: int):
    """Measured cold on 2 cores (build.py): the split build was 1.3x to 4.1x slower, from 6 layers to 37."""
    choice = choose_build(layers, copies)
    assert not choice.split
    assert choice.reason.startswith(f"build_lib.sh's two units: {layers} layers, {copies:,} im2col copies, built once")


def test_a_build_repeated_for_fits_probes_is_split_whatever_its_size():
    """Each probe reuses the objects of the layers whose types it did not change; two units would compile it all."""
    choice = choose_build(3, 100, repeated=True)
    assert choice.split and choice.reason.startswith("split: 3 layers, 100 im2col copies, built again for each probe")
