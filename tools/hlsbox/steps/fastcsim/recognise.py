"""Recognise hls4ml 1.3.0's generated im2col classes and prove the loop template makes the same copies.

For io_parallel convolutions hls4ml's Vivado backend (pass `vivado:generate_conv_im2col`, from
FPGABackend.generate_conv{1,2}d_line_buffer_fn) writes one `fill_buffer_N` class per conv layer into
firmware/nnet_utils/nnet_code_gen.h: `if (partition == k) { buffer[p][j] = data[i]; ... }` blocks, one explicit
copy per im2col element (rows: output pixels in row-major order split into n_partitions chunks; columns:
(kh, kw, c), c fastest; 0 for zero padding). The parse is strict: anything outside that exact format is
reported as unrecognised, and the caller builds exactly as hls4ml does.
"""

from __future__ import annotations

import re
from array import array
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import NamedTuple

CODE_GEN = Path("firmware", "nnet_utils", "nnet_code_gen.h")
PARAMETERS = Path("firmware", "parameters.h")
WHOLE_FILE = "<file>"  # the name of a finding tied to no one class (a missing file, code outside every class)

# One partition block's copies: (pixel, column) -> the data index + 1, or 0 for a zero (padding).
Copies = dict[tuple[int, int], int]


class Unrecognised(Exception):
    """The project holds generated im2col code this module does not recognise: use the exact build."""


class Span(NamedTuple):
    """Character offsets of a class in nnet_code_gen.h, its header to its footer."""

    start: int
    end: int


_NO_SPAN = Span(0, 0)


class ConfigUse(NamedTuple):
    """A config struct of parameters.h that names a fill_buffer class, with its `static const unsigned` values."""

    struct: str
    constants: dict[str, int]


@dataclass(frozen=True)
class FillBufferClass:
    """One generated class and what recognising it found: its geometry (from the config struct that uses it), its
    place in nnet_code_gen.h and its parsed copies, or why it is not recognised. The geometry is what was read
    before the reason arose, as the reason's text shows it."""

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
    span: Span = _NO_SPAN  # where the class stands, once its body is parsed
    header: str = field(default="", repr=False)
    mapping: array | None = field(default=None, repr=False)  # parsed generated copies: data index + 1, 0 = zero

    @property
    def row(self) -> int:
        return self.filt_height * self.filt_width * self.n_chan

    @property
    def in_size(self) -> int:
        return self.in_height * self.in_width * self.n_chan

    def geometry(self) -> str:
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

    def __str__(self) -> str:
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
_PARTITION_END = "        }"
_COPY_INDENT = "            "
_CLASS_START = re.compile(r"^template<class data_T, typename CONFIG_T>\nclass (fill_buffer_\w+) :", re.M)
_PARTITION_START = re.compile(r"^        if \(partition == +(\d+)\) \{$")
_COPY = re.compile(r"buffer\[(\d+)\]\[(\d+)\] = +(?:(0)|data\[(\d+)\])")
_USING = re.compile(
    r"using\s+fill_buffer\s*=\s*(?:[A-Za-z_]\w*::)*(fill_buffer_\w+)\s*<\s*data_T\s*,\s*CONFIG_T\s*>\s*;"
)
_STRUCT = re.compile(r"^struct\s+(\w+)\s*:\s*[\w:]+\s*\{", re.M)
_CONSTANT = re.compile(r"static\s+const\s+unsigned\s+(\w+)\s*=\s*(\d+)\s*;")
_GEOMETRY_1D = (
    "in_width",
    "n_chan",
    "filt_width",
    "stride_width",
    "pad_left",
    "pad_right",
    "out_width",
    "n_partitions",
)
_GEOMETRY_2D = ("in_height", "filt_height", "stride_height", "pad_top", "pad_bottom", "out_height")
_FLAT_1D = {"in_height": 1, "filt_height": 1, "stride_height": 1, "out_height": 1, "pad_top": 0, "pad_bottom": 0}


def _parse_class_body(text: str, body_start: int) -> tuple[int, list[Copies]]:
    """The partition blocks of one generated class whose body starts at body_start, and the offset after its
    footer. ValueError, naming the line, at anything outside the exact format."""
    partitions: list[Copies] = []
    pos = body_start
    current: Copies | None = None  # the open partition block's copies
    lineno = text.count("\n", 0, body_start) + 1
    while True:
        eol = text.find("\n", pos) if pos < len(text) else -1
        if eol < 0:
            raise ValueError("unexpected end of file inside class")
        line = text[pos:eol]
        if current is None:
            if text.startswith(FOOTER, pos):
                return pos + len(FOOTER), partitions
            current = _open_partition(line, lineno, len(partitions))
        elif line == _PARTITION_END:
            partitions.append(current)
            current = None
        elif line.strip() != "":
            _parse_copies(line, lineno, current)
        pos = eol + 1
        lineno += 1


def _open_partition(line: str, lineno: int, expected: int) -> Copies:
    """The copies of the partition block `line` opens (empty); it must be the next in order."""
    match = _PARTITION_START.match(line)
    if not match:
        raise ValueError(f'line {lineno}: expected "if (partition == k) {{" or end of class, got {line[:80]!r}')
    if int(match.group(1)) != expected:
        raise ValueError(f"line {lineno}: partition {match.group(1)} out of order (expected {expected})")
    return {}


def _parse_copies(line: str, lineno: int, copies: Copies) -> None:
    """Add a line of `buffer[p][j] = data[i];` (or `= 0;`) statements to its partition block's copies."""
    if not line.startswith(_COPY_INDENT):
        raise ValueError(f"line {lineno}: unexpected text {line[:80]!r}")
    statements = line.strip().split(";")
    if statements[-1].strip() != "":
        raise ValueError(f"line {lineno}: statement not terminated: {statements[-1][:60]!r}")
    for statement in statements[:-1]:
        match = _COPY.fullmatch(statement.strip())
        if not match:
            raise ValueError(f"line {lineno}: unrecognised statement {statement.strip()[:60]!r}")
        pixel_column = (int(match.group(1)), int(match.group(2)))
        if pixel_column in copies:
            raise ValueError(f"line {lineno}: buffer{list(pixel_column)} assigned twice in one partition")
        copies[pixel_column] = 0 if match.group(3) is not None else int(match.group(4)) + 1


def _parse_configs(parameters: str) -> dict[str, list[ConfigUse]]:
    """Each fill_buffer class name -> the config structs of parameters.h that use it."""
    uses: dict[str, list[ConfigUse]] = {}
    starts = [(match.start(), match.group(1)) for match in _STRUCT.finditer(parameters)]
    for i, (start, struct) in enumerate(starts):
        end = starts[i + 1][0] if i + 1 < len(starts) else len(parameters)
        body = parameters[start:end]
        using = _USING.search(body)
        if using:
            constants = {name: int(value) for name, value in _CONSTANT.findall(body)}
            uses.setdefault(using.group(1), []).append(ConfigUse(struct, constants))
    return uses


def _template_mapping(fill: FillBufferClass) -> array:
    """Python model of fastcsim_im2col.h (the C++ loop template): every copy it makes, partition by partition,
    pixel by pixel, column by column, as data index + 1 (0 for padding)."""
    return array("i", _template_copies(fill))


def _template_copies(fill: FillBufferClass) -> Iterator[int]:
    for partition in range(fill.n_partitions):
        for pixel in range(fill.n_pixels):
            out_row, out_column = divmod(partition * fill.n_pixels + pixel, fill.out_width)
            for kh in range(fill.filt_height):
                in_row = out_row * fill.stride_height + kh - fill.pad_top
                for kw in range(fill.filt_width):
                    in_column = out_column * fill.stride_width + kw - fill.pad_left
                    inside = 0 <= in_row < fill.in_height and 0 <= in_column < fill.in_width
                    base = (in_row * fill.in_width + in_column) * fill.n_chan
                    for channel in range(fill.n_chan):
                        yield (base + channel + 1) if inside else 0


def _geometry(dim: int, constants: dict[str, int]) -> dict[str, int]:
    """The class's geometry fields from its config struct's constants (a 1D class flat in height)."""
    needed = list(_GEOMETRY_1D) + (list(_GEOMETRY_2D) if dim == 2 else [])
    missing = [name for name in needed if name not in constants]
    if missing:
        raise ValueError(f"config struct lacks {missing}")
    return {name: constants[name] for name in needed} | (_FLAT_1D if dim == 1 else {})


def _pixels_per_partition(fill: FillBufferClass, constants: dict[str, int]) -> int:
    """n_pixels, after checking the config's output size is im2col's (as hls4ml's _compute_conv{1,2}d_im2col
    computes it, dilation 1) and that its partitions divide it."""
    out_width = (fill.in_width + fill.pad_left + fill.pad_right - fill.filt_width) // fill.stride_width + 1
    out_height = (fill.in_height + fill.pad_top + fill.pad_bottom - fill.filt_height) // fill.stride_height + 1
    if (out_height, out_width) != (fill.out_height, fill.out_width):
        raise ValueError(
            f"config out size {fill.out_height}x{fill.out_width} != im2col out size {out_height}x{out_width}"
        )
    if constants.get("dilation", 1) != 1:
        raise ValueError(f"dilation {constants['dilation']} != 1 (not covered)")
    if fill.n_partitions <= 0 or (out_height * out_width) % fill.n_partitions:
        raise ValueError(f"n_partitions {fill.n_partitions} does not divide {out_height * out_width} output pixels")
    return out_height * out_width // fill.n_partitions


def _parsed_mapping(fill: FillBufferClass, partitions: list[Copies]) -> array:
    """The generated copies as one flat array indexed [partition][pixel][column]; ValueError when a block has
    another number of copies or one falls outside the buffer or the input."""
    if len(partitions) != fill.n_partitions:
        raise ValueError(f"{len(partitions)} partition blocks, config says n_partitions={fill.n_partitions}")
    row, pixels = fill.row, fill.n_pixels
    mapping = array("i", [-1]) * (fill.n_partitions * pixels * row)
    for k, copies in enumerate(partitions):
        if len(copies) != pixels * row:
            raise ValueError(f"partition {k}: {len(copies)} copies, expected n_pixels*row = {pixels}*{row}")
        base = k * pixels * row
        for (pixel, column), value in copies.items():
            if pixel >= pixels or column >= row:
                raise ValueError(f"partition {k}: buffer[{pixel}][{column}] outside [{pixels}][{row}]")
            if value > fill.in_size:
                raise ValueError(f"partition {k}: data[{value - 1}] outside input of size {fill.in_size}")
            mapping[base + pixel * row + column] = value
    return mapping


def _first_difference(fill: FillBufferClass, mapping: array) -> str | None:
    """The proof: None when the loop template's mapping (its Python model) equals the generated copies element by
    element, else where they first differ."""
    expected = _template_mapping(fill)
    if expected == mapping:
        return None
    i = next(i for i in range(len(mapping)) if mapping[i] != expected[i])
    partition, rest = divmod(i, fill.n_pixels * fill.row)
    pixel, column = divmod(rest, fill.row)
    return (
        f"mapping differs from loop template at partition {partition} buffer[{pixel}][{column}]: generated "
        f"{_copy(mapping[i])}, template {_copy(expected[i])}"
    )


def _recognise_class(
    text: str, start: int, name: str, configs: dict[str, list[ConfigUse]], keep_mapping: bool
) -> FillBufferClass:
    """The class `name` whose text starts at `start`: recognised and proven, or with the reason it is not."""
    fill = FillBufferClass(name)
    header = next((h for h in (_HEADER_1D, _HEADER_2D) if text.startswith(h.format(name=name), start)), None)
    if header is None:
        return replace(fill, reason="class header differs from the hls4ml 1.3.0 format")
    fill = replace(fill, dim=1 if header is _HEADER_1D else 2, header=header.format(name=name))
    try:
        end, partitions = _parse_class_body(text, start + len(fill.header))
    except ValueError as error:
        return replace(fill, reason=f"body: {error}")
    fill = replace(fill, span=Span(start, end), src_bytes=end - start)
    users = configs.get(name, [])
    if len(users) != 1:
        return replace(fill, reason=f"{len(users)} config structs use {name} (expected 1)")
    config, constants = users[0]
    fill = replace(fill, config=config)
    try:
        fill = replace(fill, **_geometry(fill.dim, constants))
        fill = replace(fill, n_pixels=_pixels_per_partition(fill, constants))
    except ValueError as error:
        return replace(fill, reason=f"{fill.config}: {error}")
    try:
        mapping = _parsed_mapping(fill, partitions)
    except ValueError as error:
        return replace(fill, reason=str(error))
    fill = replace(fill, n_copies=len(mapping))
    difference = _first_difference(fill, mapping)
    if difference:
        return replace(fill, reason=difference)
    return replace(fill, mapping=mapping if keep_mapping else None, ok=True)


def _stray_code(text: str, fills: list[FillBufferClass]) -> FillBufferClass | None:
    """A finding for 'fill_buffer' or partition code outside the classes whose body was parsed (an unknown format),
    or None."""
    outside, last = [], 0
    for span in sorted(fill.span for fill in fills if fill.src_bytes):
        outside.append(text[last : span.start])
        last = span.end
    outside.append(text[last:])
    rest = "".join(outside)
    names = {fill.name for fill in fills}
    stray = [word for word in re.findall(r"\bfill_buffer\w*", rest) if word not in names and word != "fill_buffer"]
    if not stray and not re.search(r"if \(partition ==", rest):
        return None
    return FillBufferClass(
        WHOLE_FILE,
        reason="generated im2col code outside the recognised classes "
        f"(e.g. {stray[:3] or 'if (partition == ...)'}): unknown format",
    )


def recognise(project_dir: str | Path, keep_mapping: bool = True) -> list[FillBufferClass]:
    """Find every generated fill_buffer class of a written hls4ml project and verify its mapping.

    Returns a list of FillBufferClass.  Entries with ok=False (reason set) were not recognised; a
    pseudo-entry named '<file>' reports problems that are not tied to one class (missing files,
    'fill_buffer' text outside any recognised class).  The caller should fall back to hls4ml's own
    build when unrecognised(result) is not empty.
    """
    code_gen, parameters = Path(project_dir, CODE_GEN), Path(project_dir, PARAMETERS)
    for path in (code_gen, parameters):
        if not path.is_file():
            return [FillBufferClass(WHOLE_FILE, reason=f"missing {path}")]
    text = code_gen.read_text()
    configs = _parse_configs(parameters.read_text())
    fills = [
        _recognise_class(text, match.start(), match.group(1), configs, keep_mapping)
        for match in _CLASS_START.finditer(text)
    ]
    stray = _stray_code(text, fills)
    names = {fill.name for fill in fills}
    unused = [
        FillBufferClass(name, reason="used by a config in parameters.h but no such class was found in nnet_code_gen.h")
        for name in configs
        if name not in names
    ]
    return fills + ([stray] if stray else []) + unused


def _copy(value: int) -> str:
    return "0" if value == 0 else f"data[{value - 1}]"


def unrecognised(fills: list[FillBufferClass]) -> list[FillBufferClass]:
    return [fill for fill in fills if not fill.ok]
