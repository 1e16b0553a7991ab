"""Recognise hls4ml 1.3.0's generated im2col classes and prove the loop template makes the same copies.

For io_parallel convolutions hls4ml's Vivado backend (pass `vivado:generate_conv_im2col`, from
FPGABackend.generate_conv{1,2}d_line_buffer_fn) writes one `fill_buffer_N` class per conv layer into
firmware/nnet_utils/nnet_code_gen.h: `if (partition == k) { buffer[p][j] = data[i]; ... }` blocks, one explicit
copy per im2col element (rows: output pixels in row-major order split into n_partitions chunks; columns:
(kh, kw, c), c fastest; 0 for zero padding). The parse is strict: anything outside that exact format is
reported as unrecognised, and the caller builds exactly as hls4ml does.
"""

from __future__ import annotations

import os
import re
from array import array
from dataclasses import dataclass, field

CODE_GEN = os.path.join("firmware", "nnet_utils", "nnet_code_gen.h")
PARAMETERS = os.path.join("firmware", "parameters.h")


class Unrecognised(Exception):
    """The project holds generated im2col code this module does not recognise: use the exact build."""


@dataclass
class FillBufferClass:
    name: str  # e.g. fill_buffer_5, fill_buffer_7_dw
    dim: int = 0  # 1 or 2
    ok: bool = False  # True: recognised and mapping verified (Python model)
    reason: str = ""  # why not ok
    config: str = ""  # config struct in parameters.h that uses the class
    in_height: int = 1
    in_width: int = 0
    n_chan: int = 0
    filt_height: int = 1
    filt_width: int = 0
    stride_height: int = 1
    stride_width: int = 0
    pad_top: int = 0
    pad_bottom: int = 0
    pad_left: int = 0
    pad_right: int = 0
    out_height: int = 1
    out_width: int = 0
    n_partitions: int = 0
    n_pixels: int = 0
    n_copies: int = 0  # number of generated element copies (= n_partitions*n_pixels*row)
    src_bytes: int = 0  # size of the generated class text
    span: tuple = (0, 0)  # (start, end) character offsets of the class in nnet_code_gen.h
    header: str = field(default="", repr=False)
    mapping: array = field(default=None, repr=False)  # parsed generated copies: data index + 1, 0 = zero

    @property
    def row(self):
        return self.filt_height * self.filt_width * self.n_chan

    @property
    def in_size(self):
        return self.in_height * self.in_width * self.n_chan

    def geometry(self):
        if self.dim == 1:
            return (
                f"1D in_w={self.in_width} C={self.n_chan} k={self.filt_width} s={self.stride_width} "
                f"pad=({self.pad_left},{self.pad_right}) out_w={self.out_width} "
                f"partitions={self.n_partitions} n_pixels={self.n_pixels}"
            )
        return (
            f"2D in={self.in_height}x{self.in_width}x{self.n_chan} k={self.filt_height}x{self.filt_width} "
            f"s={self.stride_height}x{self.stride_width} pad(t,b,l,r)=({self.pad_top},{self.pad_bottom},"
            f"{self.pad_left},{self.pad_right}) out={self.out_height}x{self.out_width} "
            f"partitions={self.n_partitions} n_pixels={self.n_pixels}"
        )

    def __str__(self):
        state = "ok" if self.ok else f"UNRECOGNISED: {self.reason}"
        return f"{self.name} [{self.config or '?'}] {self.geometry() if self.dim else ''} -> {state}"


# The exact text of hls4ml 1.3.0's FPGABackend.generate_conv{1,2}d_line_buffer_fn.

_HEADER_1D = (
    "template<class data_T, typename CONFIG_T>\n"
    "class {name} : public nnet::FillConv1DBuffer<data_T, CONFIG_T> {{\n"
    "    public:\n"
    "    static void fill_buffer(\n"
    "        data_T data[CONFIG_T::in_width * CONFIG_T::n_chan],\n"
    "        data_T buffer[CONFIG_T::n_pixels][CONFIG_T::filt_width * CONFIG_T::n_chan],\n"
    "        const unsigned partition\n"
    "    ) {{\n"
)
_HEADER_2D = (
    "template<class data_T, typename CONFIG_T>\n"
    "class {name} : public nnet::FillConv2DBuffer<data_T, CONFIG_T> {{\n"
    "    public:\n"
    "    static void fill_buffer(\n"
    "        data_T data[CONFIG_T::in_height * CONFIG_T::in_width * CONFIG_T::n_chan],\n"
    "        data_T buffer[CONFIG_T::n_pixels][CONFIG_T::filt_height * CONFIG_T::filt_width * CONFIG_T::n_chan],\n"
    "        const unsigned partition\n"
    "    ) {{\n"
)
FOOTER = "    }\n};\n"
_CLASS_START = re.compile(r"^template<class data_T, typename CONFIG_T>\nclass (fill_buffer_\w+) :", re.M)
_PART_OPEN = re.compile(r"^        if \(partition == +(\d+)\) \{$")
_STMT = re.compile(r"buffer\[(\d+)\]\[(\d+)\] = +(?:(0)|data\[(\d+)\])")
_USING = re.compile(
    r"using\s+fill_buffer\s*=\s*(?:[A-Za-z_]\w*::)*(fill_buffer_\w+)\s*<\s*data_T\s*,\s*CONFIG_T\s*>\s*;"
)
_STRUCT = re.compile(r"^struct\s+(\w+)\s*:\s*[\w:]+\s*\{", re.M)
_CONST = re.compile(r"static\s+const\s+unsigned\s+(\w+)\s*=\s*(\d+)\s*;")


def _parse_class_body(rec, text, body_start):
    """Parse the body of one generated class starting at body_start.  Returns end offset (after footer)
    or raises ValueError.  Fills rec.mapping as a dict-free flat array indexed [part][pixel][j]."""
    parts = []  # list of dict (p, j) -> value   (value: data index + 1, 0 for zero)
    pos = body_start
    n = len(text)
    cur = None
    lineno = text.count("\n", 0, body_start) + 1
    while True:
        if pos >= n:
            raise ValueError("unexpected end of file inside class")
        eol = text.find("\n", pos)
        if eol < 0:
            raise ValueError("unexpected end of file inside class")
        line = text[pos:eol]
        if cur is None:
            if text.startswith(FOOTER, pos):
                end = pos + len(FOOTER)
                break
            m = _PART_OPEN.match(line)
            if not m:
                raise ValueError(f'line {lineno}: expected "if (partition == k) {{" or end of class, got {line[:80]!r}')
            if int(m.group(1)) != len(parts):
                raise ValueError(f"line {lineno}: partition {m.group(1)} out of order (expected {len(parts)})")
            cur = {}
        elif line == "        }":
            parts.append(cur)
            cur = None
        elif line.strip() == "":
            pass
        else:
            if not line.startswith("            "):
                raise ValueError(f"line {lineno}: unexpected text {line[:80]!r}")
            pieces = line.strip().split(";")
            if pieces[-1].strip() != "":
                raise ValueError(f"line {lineno}: statement not terminated: {pieces[-1][:60]!r}")
            for piece in pieces[:-1]:
                m = _STMT.fullmatch(piece.strip())
                if not m:
                    raise ValueError(f"line {lineno}: unrecognised statement {piece.strip()[:60]!r}")
                key = (int(m.group(1)), int(m.group(2)))
                if key in cur:
                    raise ValueError(f"line {lineno}: buffer{list(key)} assigned twice in one partition")
                cur[key] = 0 if m.group(3) is not None else int(m.group(4)) + 1
        pos = eol + 1
        lineno += 1
    return end, parts


def _parse_configs(params_text):
    """Map fill_buffer class name -> (config struct name, {static const unsigned: value})."""
    out = {}
    starts = [(m.start(), m.group(1)) for m in _STRUCT.finditer(params_text)]
    for i, (s, sname) in enumerate(starts):
        e = starts[i + 1][0] if i + 1 < len(starts) else len(params_text)
        body = params_text[s:e]
        m = _USING.search(body)
        if not m:
            continue
        consts = {k: int(v) for k, v in _CONST.findall(body)}
        out.setdefault(m.group(1), []).append((sname, consts))
    return out


def _expected(rec):
    """Python model of fastcsim_im2col.h (the C++ loop template): yields (part, pixel, j, value)."""
    kh_n, kw_n, c_n = rec.filt_height, rec.filt_width, rec.n_chan
    for part in range(rec.n_partitions):
        for p in range(rec.n_pixels):
            o = part * rec.n_pixels + p
            oh, ow = divmod(o, rec.out_width)
            for kh in range(kh_n):
                r = oh * rec.stride_height + kh - rec.pad_top
                for kw in range(kw_n):
                    c = ow * rec.stride_width + kw - rec.pad_left
                    inside = 0 <= r < rec.in_height and 0 <= c < rec.in_width
                    base = (r * rec.in_width + c) * c_n
                    for ch in range(c_n):
                        yield part, p, (kh * kw_n + kw) * c_n + ch, (base + ch + 1) if inside else 0


def _expected_array(rec):
    return array("i", (v for _, _, _, v in _expected(rec)))


def _fill_geometry(rec, consts):
    g = dict(consts)
    need = ["in_width", "n_chan", "filt_width", "stride_width", "pad_left", "pad_right", "out_width", "n_partitions"]
    if rec.dim == 2:
        need += ["in_height", "filt_height", "stride_height", "pad_top", "pad_bottom", "out_height"]
    missing = [k for k in need if k not in g]
    if missing:
        raise ValueError(f"config struct lacks {missing}")
    for k in need:
        setattr(rec, k, g[k])
    if rec.dim == 1:
        rec.in_height = rec.filt_height = rec.stride_height = rec.out_height = 1
        rec.pad_top = rec.pad_bottom = 0
    # output size as hls4ml's _compute_conv{1,2}d_im2col computes it (dilation 1)
    ow = (rec.in_width + rec.pad_left + rec.pad_right - rec.filt_width) // rec.stride_width + 1
    oh = (rec.in_height + rec.pad_top + rec.pad_bottom - rec.filt_height) // rec.stride_height + 1
    if (oh, ow) != (rec.out_height, rec.out_width):
        raise ValueError(f"config out size {rec.out_height}x{rec.out_width} != im2col out size {oh}x{ow}")
    if g.get("dilation", 1) != 1:
        raise ValueError(f"dilation {g['dilation']} != 1 (not covered)")
    if rec.n_partitions <= 0 or (oh * ow) % rec.n_partitions:
        raise ValueError(f"n_partitions {rec.n_partitions} does not divide {oh * ow} output pixels")
    rec.n_pixels = oh * ow // rec.n_partitions


def recognise(project_dir, keep_mapping=True):
    """Find every generated fill_buffer class of a written hls4ml project and verify its mapping.

    Returns a list of FillBufferClass.  Entries with ok=False (reason set) were not recognised; a
    pseudo-entry named '<file>' reports problems that are not tied to one class (missing files,
    'fill_buffer' text outside any recognised class).  The caller should fall back to hls4ml's own
    build when unrecognised(result) is not empty.
    """
    recs = []
    cg_path = os.path.join(project_dir, CODE_GEN)
    pa_path = os.path.join(project_dir, PARAMETERS)
    for p in (cg_path, pa_path):
        if not os.path.isfile(p):
            return [FillBufferClass("<file>", reason=f"missing {p}")]
    with open(cg_path) as f:
        text = f.read()
    with open(pa_path) as f:
        configs = _parse_configs(f.read())

    covered = []
    for m in _CLASS_START.finditer(text):
        name = m.group(1)
        rec = FillBufferClass(name)
        recs.append(rec)
        start = m.start()
        for dim, hdr in ((1, _HEADER_1D), (2, _HEADER_2D)):
            h = hdr.format(name=name)
            if text.startswith(h, start):
                rec.dim, rec.header = dim, h
                break
        else:
            rec.reason = "class header differs from the hls4ml 1.3.0 format"
            continue
        try:
            end, parts = _parse_class_body(rec, text, start + len(rec.header))
        except ValueError as e:
            rec.reason = f"body: {e}"
            continue
        rec.span = (start, end)
        rec.src_bytes = end - start
        covered.append(rec.span)
        # geometry from the config struct that uses this class
        users = configs.get(name, [])
        if len(users) != 1:
            rec.reason = f"{len(users)} config structs use {name} (expected 1)"
            continue
        rec.config, consts = users[0]
        try:
            _fill_geometry(rec, consts)
        except ValueError as e:
            rec.reason = f"{rec.config}: {e}"
            continue
        # shape of the generated code
        if len(parts) != rec.n_partitions:
            rec.reason = f"{len(parts)} partition blocks, config says n_partitions={rec.n_partitions}"
            continue
        row, npix = rec.row, rec.n_pixels
        mapping = array("i", [-1]) * (rec.n_partitions * npix * row)
        bad = None
        for k, d in enumerate(parts):
            if len(d) != npix * row:
                bad = f"partition {k}: {len(d)} copies, expected n_pixels*row = {npix}*{row}"
                break
            base = k * npix * row
            for (p, j), v in d.items():
                if p >= npix or j >= row:
                    bad = f"partition {k}: buffer[{p}][{j}] outside [{npix}][{row}]"
                    break
                if v > rec.in_size:
                    bad = f"partition {k}: data[{v - 1}] outside input of size {rec.in_size}"
                    break
                mapping[base + p * row + j] = v
            if bad:
                break
        if bad:
            rec.reason = bad
            continue
        rec.n_copies = len(mapping)
        # the proof: the loop template's mapping (Python model) equals the generated copies, element by element
        exp = _expected_array(rec)
        if exp != mapping:
            i = next(i for i in range(len(mapping)) if mapping[i] != exp[i])
            part, rest = divmod(i, npix * row)
            p, j = divmod(rest, row)
            rec.reason = (
                f"mapping differs from loop template at partition {part} buffer[{p}][{j}]: generated "
                f"{_copy(mapping[i])}, template {_copy(exp[i])}"
            )
            continue
        rec.mapping = mapping if keep_mapping else None
        rec.ok = True

    # any 'fill_buffer' / partition code left outside recognised classes -> unknown format
    rest, last = [], 0
    for s, e in sorted(covered):
        rest.append(text[last:s])
        last = e
    rest.append(text[last:])
    rest = "".join(rest)
    names = {r.name for r in recs}
    stray = [w for w in re.findall(r"\bfill_buffer\w*", rest) if w not in names and w != "fill_buffer"]
    if stray or re.search(r"if \(partition ==", rest):
        recs.append(
            FillBufferClass(
                "<file>",
                reason="generated im2col code outside the recognised classes "
                f"(e.g. {stray[:3] or 'if (partition == ...)'}): unknown format",
            )
        )
    for name in configs:
        if name not in names:
            recs.append(
                FillBufferClass(
                    name, reason="used by a config in parameters.h but no such class was found in nnet_code_gen.h"
                )
            )
    return recs


def _copy(value: int) -> str:
    return "0" if value == 0 else f"data[{value - 1}]"


def unrecognised(recs):
    return [r for r in recs if not r.ok]
