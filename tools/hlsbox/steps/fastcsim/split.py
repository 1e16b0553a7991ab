"""The split C build: the generated top function's layers, each in a translation unit of its own, compiled on every
core against one precompiled header of the shared includes, and each object kept in a cache keyed on the exact text
it was compiled from.

Measured on the seed's real model (a probe: io_parallel, 17 layers, g++ 12 at -O3): of the 7.8 s that
firmware/myproject.cpp takes, parsing the includes (ap_fixed, nnet_utils) is 1.4 s, template instantiation and
overload resolution most of the rest of the front end (-fsyntax-only alone: 5.6 s), optimisation and code
generation ~2 s; the bridge is 1.5 s, nearly all includes. One TU keeps one core busy, and a probe that changes one
layer's types compiles every layer again.

So: `fastcsim_common.h` (every include of the project's C build, in their order) is precompiled once per content
and flags; each layer call `nnet::f<...>(args);` of myproject.cpp becomes a wrapper function in
`fastcsim_layer_N.cpp`, which holds only the typedefs and config structs that call reaches (the closure of the
names it uses, in their original order), so its text changes only when that layer's types change; myproject.cpp
calls the wrappers and includes the weights, not the configs. What parameters.h defines rather than declares, with
external linkage (a Transpose's `unsigned configN_perm[]` and `configN::perm`, a convolution's `configN::pixels`, a
hard activation's `slope`), is defined in the first unit that needs it only, the others holding an extern declaration
(or, for a static member, the declaration in its struct): hls4ml's one unit defined it once, and so does the split.
The project's own files are never changed: this is the fast tree, a copy.
An object is compiled only when the sha256 of its text,
the precompiled header's key and the flags is not in the cache: a probe that narrows one layer recompiles that
layer, its consumer, the top function and the bridge. Same compiler, same flags (build_lib.sh's own, read from
it), same templates on the same arguments: the library computes bit for bit what hls4ml's own build computes
(tests/in_image/fastcsim_exactness.py). A TU whose closure misses a name fails to compile rather than computing
something else (every TU is self-contained, and its whole text is the cache key); anything unexpected (another
shape of generated code, a compile or link error) raises NotSplit and the caller builds the classic way.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import signal
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path
from typing import NamedTuple

from hlsbox.core.contract import LibraryBuild, SplitPhases

Log = Callable[[str], None]

COMMON = "fastcsim_common.h"
MAIN_PARAMS = "fastcsim_main.h"
_IDENT = re.compile(r"\b[A-Za-z_]\w*\b")
_CALL = re.compile(r'^(\s*)nnet::(\w+)<(.+)>\(((?:[\w\s,]|"[\w.]*")*)\);(\s*//.*)?$')
_ARRAY = re.compile(r"^\s*(\w+)\s+(\w+)\s*\[([^\]]+)\]\s*[;,)]?\s*$")
_STREAM = re.compile(r"^\s*hls::stream<(\w+)>\s*&?\s*(\w+)(?:\(\"\w*\"\))?\s*[;,)]?\s*$")
_INCLUDE = re.compile(r"^\s*#\s*include\s+([<\"][^>\"]+[>\"])")
_SCRIPT_VARS = ("CC", "CFLAGS", "INCFLAGS", "LDFLAGS", "PROJECT", "LIB_STAMP", "WEIGHTS_DIR")
_LINES = (
    '${CC} ${CFLAGS} ${INCFLAGS} -D WEIGHTS_DIR="${WEIGHTS_DIR}" -c firmware/${PROJECT}.cpp -o ${PROJECT}.o',
    '${CC} ${CFLAGS} ${INCFLAGS} -D WEIGHTS_DIR="${WEIGHTS_DIR}" -c ${PROJECT}_bridge.cpp -o ${PROJECT}_bridge.o',
    "${CC} ${CFLAGS} ${INCFLAGS} -shared ${PROJECT}.o ${PROJECT}_bridge.o -o firmware/${PROJECT}-${LIB_STAMP}.so",
)


# the bound of one compile: hls4ml's own unsplit build of the seed's Mini-ResNet takes ~15 min at -O3 (7 GB)
COMPILE_TIMEOUT_S = 3 * 3600


class NotSplit(Exception):
    """The project's C build does not have the shape the split build knows (the caller builds it unsplit)."""


def first_error(message: str, limit: int = 300) -> str:
    """A NotSplit's reason in one line: its lead ("the split objects did not link") and the compiler's or linker's
    first error line (``multiple definition of `config75::perm'``), not the whole output."""
    lead, _, output = message.partition(": ")
    lines = [line.strip() for line in output.splitlines() if line.strip()]
    error = next((line for line in lines if _ERROR_LINE.search(line)), lines[0] if lines else "")
    return (f"{lead}: {error}" if error else lead)[:limit]


_ERROR_LINE = re.compile(r"\berror\b|multiple definition|undefined reference", re.I)


def count_layers(top: str) -> int:
    """The layer calls of a top function's text (myproject.cpp), as the split build counts its layer units (a weight
    load, a call with a file name, goes with its layer)."""
    return sum(1 for line in top.splitlines() if (m := _CALL.match(line)) and '"' not in m.group(4))


class CompileTimeout(Exception):
    """A compile ran past its bound; it and every process it started were killed."""

    def __init__(self, what: str, seconds: float) -> None:
        super().__init__(f"{what} did not finish in {seconds:.0f} s")
        self.what, self.seconds = what, seconds


def communicate_bounded(proc: subprocess.Popen, timeout: float, what: str) -> bytes:
    """proc's output once it ends; past `timeout` its whole process group (started with start_new_session, so the
    compilers a driver or script started go too) is killed and CompileTimeout raised."""
    try:
        return proc.communicate(timeout=timeout)[0]
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.communicate(timeout=10)
        raise CompileTimeout(what, timeout) from None


@dataclass(frozen=True)
class Script:
    """What build_lib.sh compiles with, as its own shell computes it."""

    cc: str
    cflags: tuple[str, ...]
    incflags: tuple[str, ...]
    ldflags: tuple[str, ...]
    project: str
    stamp: str
    weights_dir: str

    def compile_args(self) -> list[str]:
        return [self.cc, *self.cflags, *self.incflags, "-D", f"WEIGHTS_DIR={self.weights_dir}"]


@dataclass(frozen=True)
class Chunk:
    """A top-level declaration of defines.h or parameters.h: the names it defines and its text."""

    names: frozenset[str]
    text: str
    owner: str | None = None  # an out-of-class member definition: it goes wherever its struct goes
    always: bool = False  # not a declaration split knows: in every TU
    # A definition with external linkage (a static member's, or a namespace-scope variable's: hls4ml's Transpose
    # writes both in parameters.h): what a unit holds instead when another unit already holds the definition (an
    # extern declaration, or nothing for a member: its class declares it), so it is defined exactly once.
    elsewhere: str | None = None


@dataclass(frozen=True)
class Unit:
    """A translation unit of the split build, and once keyed, its object's cache key and whether it is cached."""

    name: str  # the .cpp, relative to the tree
    text: str
    key: str = ""
    cached: bool = False
    local: bool = False  # includes the project's own headers (defines.h, the weights): they are in its key


@dataclass(frozen=True)
class Plan:
    """The split's units (the layers', then the top function's and the bridge's), and how many are layers."""

    units: tuple[Unit, ...]
    layers: int


class Variable(NamedTuple):
    """An array or a stream the top function passes to its layers."""

    element_type: str
    stream: bool

    def parameter(self, name: str) -> str:
        """How a wrapper function takes it."""
        return f"hls::stream<{self.element_type}> &{name}" if self.stream else f"{self.element_type} *{name}"


class LayerCall(NamedTuple):
    """A line of the top function that calls an nnet:: function: a layer, or a weight load (a file name passed)."""

    indent: str
    function: str
    template: str
    arguments: tuple[str, ...]  # as written, file names included
    comment: str | None  # the line's trailing comment

    @property
    def variables(self) -> list[str]:
        """The arrays and streams it passes: its wrapper's parameters (a file name stays in the wrapper's call)."""
        return [argument for argument in self.arguments if not argument.startswith('"')]

    @property
    def loads_weights(self) -> bool:
        return any(argument.startswith('"') for argument in self.arguments)


class Wrapper(NamedTuple):
    """A function of a layer's unit that makes one call of the top function, which then calls it instead."""

    declaration: str  # `void fastcsim_<unit>_<n>(<parameters>)`
    definition: str
    call: str  # the top function's line that replaces the original call
    types: str  # the template arguments and variable types it uses: what its unit's closure starts from


def read_script(tree_dir: str | Path) -> Script:
    """build_lib.sh's variables, computed by its own preamble (the compiler checks it makes); NotSplit unless its
    compile and link lines are hls4ml's three."""
    script = Path(tree_dir, "build_lib.sh").read_text()
    lines = [line.strip() for line in script.splitlines()]
    positions = [lines.index(line) if line in lines else -1 for line in _LINES]
    if -1 in positions or positions != sorted(positions):
        raise NotSplit("build_lib.sh's compile lines are not the expected three")
    preamble = "\n".join(script.splitlines()[: positions[0]])
    show = "".join(f'printf "%s\\0" "${{{var}}}"\n' for var in _SCRIPT_VARS)
    out = subprocess.run(
        ["bash", "-c", preamble + "\n" + show], cwd=tree_dir, capture_output=True, timeout=60, check=False
    )
    values = out.stdout.decode().split("\0")
    if out.returncode != 0 or len(values) != len(_SCRIPT_VARS) + 1:
        raise NotSplit("build_lib.sh's preamble did not run")
    variables = dict(zip(_SCRIPT_VARS, values, strict=False))
    return Script(
        cc=variables["CC"],
        cflags=tuple(variables["CFLAGS"].split()),
        incflags=tuple(variables["INCFLAGS"].split()),
        ldflags=tuple(variables["LDFLAGS"].split()),
        project=variables["PROJECT"],
        stamp=variables["LIB_STAMP"],
        weights_dir=variables["WEIGHTS_DIR"],
    )


def _chunks(text: str) -> tuple[list[str], list[Chunk]]:
    """The #include lines and the top-level declarations of a generated header (include guard and comments
    left out)."""
    includes, chunks, current, depth = [], [], [], 0
    for line in text.splitlines():
        stripped = line.strip()
        if not current:
            if not stripped or stripped.startswith("//"):
                continue
            match = _INCLUDE.match(stripped)
            if match:
                includes.append(match.group(1))
                continue
            if re.match(r"#\s*(ifndef|endif)\b", stripped) or re.match(r"#\s*define\s+\w+_H_?\s*$", stripped):
                continue  # the include guard
        current.append(line)
        depth += line.count("{") - line.count("}")
        if depth == 0 and (stripped.endswith(";") or stripped.startswith("#")):
            chunks.append(_chunk("\n".join(current)))
            current = []
    if current or depth:
        raise NotSplit("a generated header ends inside a declaration")
    return includes, chunks


# the declarator of a definition: a (qualified) name, maybe in parentheses (a reference to an array), maybe an array
_DECLARATOR = re.compile(r"(?:\(\s*[&*]\s*)?((?:\w+(?:<[^<>;]*>)?\s*::\s*)*)(\w+)\s*\)?\s*(?:\[[^\]]*\]\s*)*$")


def _chunk(text: str) -> Chunk:
    """A declaration and the names it defines: a #define, a struct, a typedef, a definition, or else one kept in
    every unit."""
    head = text.lstrip()
    if head.startswith("#define"):
        return Chunk(frozenset({head.split()[1].split("(")[0]}), text)
    match = re.match(r"struct\s+(\w+)", head)
    if match:
        return Chunk(frozenset({match.group(1)}), text)
    match = re.match(r"typedef\s[^;{]*?\b(\w+)\s*;\s*$", head, re.S)
    if match:
        return Chunk(frozenset({match.group(1)}), text)
    return _definition(text) or Chunk(frozenset(), text, always=True)


def _definition(text: str) -> Chunk | None:
    """A variable's definition (`T name[n] = {...};`, `T name;`) or a static member's (`T cls::name = v;`),
    with what another unit holds in its place; None for anything else (a function, a template, a declaration)."""
    head = " ".join(text.split())
    declaration = head.split("=", 1)[0] if "=" in head else head.rstrip(";")
    function = "(" in re.sub(r"\(\s*&", "", declaration)  # not the parenthesis of a reference to an array
    if function or re.match(r"(extern|template|using|namespace)\b", head):
        return None
    match = _DECLARATOR.search(declaration.strip())
    specifiers = declaration[: match.start()].strip() if match else ""
    if not match or not specifiers:
        return None
    qualifiers, name = match.group(1), match.group(2)
    if qualifiers:  # a static data member: the class's linkage, defined once; its class declares it for the rest
        owner = re.match(r"\w+", qualifiers).group(0)
        return Chunk(frozenset(), text, owner=owner, elsewhere="")
    if _internal(specifiers, declaration):
        return Chunk(frozenset({name}), text)  # each unit its own copy, as a header included twice would give
    return Chunk(frozenset({name}), text, elsewhere=f"extern {declaration.strip()};")


def _internal(specifiers: str, declaration: str) -> bool:
    """A namespace-scope variable with internal linkage: static, or a const object (not a pointer to const)."""
    if re.match(r"static\b", specifiers):
        return True
    if "*" in declaration:
        return bool(re.search(r"\*\s*const\s+\w+\s*(\[[^\]]*\]\s*)*$", declaration.strip()))
    return bool(re.search(r"\b(const|constexpr)\b", specifiers))


def _closure(start: str, chunks: list[Chunk]) -> list[Chunk]:
    """The chunks the names in `start` reach, transitively, in their original order."""
    by_name = {name: i for i, chunk in enumerate(chunks) for name in chunk.names}
    owned: dict[str, list[int]] = {}  # a struct's name -> its out-of-class member definitions
    for i, chunk in enumerate(chunks):
        if chunk.owner:
            owned.setdefault(chunk.owner, []).append(i)
    chosen = {i for i, chunk in enumerate(chunks) if chunk.always}
    todo = set(_IDENT.findall(start)) | {name for i in chosen for name in _IDENT.findall(chunks[i].text)}
    seen: set[str] = set()
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        for i in ([by_name[name]] if name in by_name else []) + owned.get(name, []):
            if i not in chosen:
                chosen.add(i)
                todo |= set(_IDENT.findall(chunks[i].text)) - seen
    return [chunks[i] for i in sorted(chosen)]


def _once(needed: list[Chunk], defined: set[int]) -> list[str]:
    """The text of a unit's chunks, each definition with external linkage in the first unit that needs it only:
    the others get what stands for it elsewhere (hls4ml's one parameters.h in one unit defined each once)."""
    texts = []
    for chunk in needed:
        if chunk.elsewhere is None or id(chunk) not in defined:
            defined.add(id(chunk))
            texts.append(chunk.text)
        elif chunk.elsewhere:
            texts.append(chunk.elsewhere)
    return texts


def _passed_variables(top: str, firmware: Path) -> dict[str, Variable]:
    """Every array and stream the top function passes to its layers: its own, and the weights' (as the C
    simulation declares them)."""
    found: dict[str, Variable] = {}
    for line in top.splitlines():
        match = re.match(r"^\s*auto\s*&\s*(\w+)\s*=\s*(\w+)\s*;\s*$", line)  # a Flatten: the same array
        if match and match.group(2) in found:
            found[match.group(1)] = found[match.group(2)]
            continue
        match = _STREAM.match(line)
        if match:
            found[match.group(2)] = Variable(match.group(1), stream=True)
            continue
        match = _ARRAY.match(line)
        if match and match.group(1) not in ("return", "static"):
            found[match.group(2)] = Variable(match.group(1), stream=False)
    weights = firmware / "weights"
    headers = sorted(path for path in weights.iterdir() if path.name.endswith(".h")) if weights.is_dir() else []
    for header in headers:
        text = header.read_text()
        simulated = text.split("#ifndef __SYNTHESIS__", 1)[1].split("#else", 1)[0] if "__SYNTHESIS__" in text else ""
        for line in simulated.splitlines():
            match = _ARRAY.match(line)
            if match:
                found[match.group(2)] = Variable(match.group(1), stream=False)
    return found


def _configs(defines: str, parameters: str) -> tuple[list[str], list[str], list[Chunk]]:
    """defines.h's and parameters.h's includes, and their declarations (defines.h's, then the layer configs);
    NotSplit unless each holds only what hls4ml writes there."""
    define_includes, define_chunks = _chunks(defines)
    if any(not chunk.names for chunk in define_chunks):
        raise NotSplit("defines.h holds more than typedefs and #defines")
    marker = "// hls-fpga-machine-learning insert layer-config"
    if parameters.count(marker) != 1:
        raise NotSplit("parameters.h has no layer-config section")
    head, configs = parameters.split(marker)
    parameter_includes, head_chunks = _chunks(head)
    if head_chunks:
        raise NotSplit("parameters.h declares something before its layer configs")
    _, config_chunks = _chunks(configs)
    return define_includes, parameter_includes, define_chunks + config_chunks


def _common_header(project: str, includes: list[str], bridge: str) -> str:
    """fastcsim_common.h: every include of the C build (defines.h's and parameters.h's but the weights, the
    bridge's), once each, in their order; the project's own headers left out."""
    bridge_includes = [_INCLUDE.match(line.strip()).group(1) for line in bridge.splitlines() if _INCLUDE.match(line)]
    common_includes: list[str] = []
    for include in ["<iostream>", *includes, '"hls_stream.h"', *bridge_includes]:
        include = include.replace('"firmware/', '"')
        if include not in common_includes and include not in (f'"{project}.h"', '"defines.h"', '"parameters.h"'):
            common_includes.append(include)
    return "// fastcsim: every include of the project's C build, precompiled once (split.py)\n#pragma once\n" + "".join(
        f"#include {include}\n" for include in common_includes
    )


def _layer_calls(lines: list[str], variables: dict[str, Variable]) -> dict[int, LayerCall]:
    """The top function's nnet:: calls by line number; NotSplit when one passes something split does not know."""
    calls: dict[int, LayerCall] = {}
    for number, line in enumerate(lines):
        match = _CALL.match(line)
        if match:
            indent, function, template, arguments, comment = match.groups()
            every = tuple(argument.strip() for argument in arguments.split(",") if argument.strip())
            call = LayerCall(indent, function, template, every, comment)
            if any(name not in variables for name in call.variables):
                raise NotSplit(f"a layer call passes something split does not know: {line.strip()}")
            calls[number] = call
    return calls


class UnitCalls(NamedTuple):
    """The top function's calls one layer unit makes: its layer call (which names the unit) and its weight loads."""

    layer: int  # the layer call's line
    lines: list[int]  # every call's line, in order


def _unit_calls(calls: dict[int, LayerCall]) -> list[UnitCalls]:
    """The calls grouped by unit, the units in the order of their layer calls: a weight load goes with the layer
    that uses its array (the same types, one unit)."""
    layer_of: dict[str, int] = {}  # an array -> the first layer call that passes it
    for number, call in calls.items():
        if not call.loads_weights:
            for name in call.variables:
                layer_of.setdefault(name, number)
    layer = {
        number: layer_of.get(call.variables[0], number) if call.loads_weights else number
        for number, call in calls.items()
    }
    members: dict[int, list[int]] = {}
    for number in sorted(calls):
        members.setdefault(layer[number], []).append(number)
    return [UnitCalls(number, members[number]) for number in sorted(members)]


def _wrapper(unit: int, position: int, call: LayerCall, variables: dict[str, Variable]) -> Wrapper:
    """The `position`th wrapper function of layer unit `unit`: it takes the call's arrays and streams and makes
    the call with them (a file name passed as written)."""
    names = call.variables
    function = f"fastcsim_{unit}_{position}"
    parameters = ", ".join(variables[name].parameter(f"a{i}") for i, name in enumerate(names))
    declaration = f"void {function}({parameters})"
    renamed = iter(f"a{i}" for i in range(len(names)))
    passed = [argument if argument.startswith('"') else next(renamed) for argument in call.arguments]
    return Wrapper(
        declaration=declaration,
        definition=f"{declaration} {{\n    nnet::{call.function}<{call.template}>({', '.join(passed)});\n}}\n",
        call=f"{call.indent}{function}({', '.join(names)});{call.comment or ''}",
        types=call.template + " " + " ".join(variables[name].element_type for name in names),
    )


def _layer_unit(project: str, unit: int, layer: LayerCall, wrappers: list[Wrapper], text: list[str]) -> Unit:
    """Layer unit `unit`: the declarations its calls reach (`text`), then its wrappers; named after its layer
    call's comment (hls4ml writes the layer's name there) or its function."""
    what = layer.comment.strip().lstrip("/").strip() if layer.comment else layer.function
    return Unit(
        f"firmware/fastcsim_layer_{unit}.cpp",
        f"// fastcsim: {what}, split out of {project}.cpp (split.py)\n"
        f'#include "{COMMON}"\n\n' + "\n".join(text) + "\n\n" + "\n".join(wrapper.definition for wrapper in wrappers),
    )


def _top_source(project: str, lines: list[str], wrappers: dict[int, Wrapper]) -> str:
    """myproject.cpp calling the wrappers (declared before the top function, in the units' order: `wrappers` by
    the line each replaces, in the order they were made), including parameters.h without the configs."""
    top_lines = [
        wrappers[number].call
        if number in wrappers
        else line.replace('#include "parameters.h"', f'#include "{MAIN_PARAMS}"')
        for number, line in enumerate(lines)
    ]
    top = next((i for i, line in enumerate(top_lines) if line.startswith(f"void {project}(")), None)
    if top is None:
        raise NotSplit(f"{project}.cpp has no top function")
    declarations = [wrapper.declaration + ";" for wrapper in wrappers.values()]  # in the units' order
    top_lines[top:top] = ["// fastcsim: the layers, each in its own translation unit (split.py)", *declarations, ""]
    return f'#include "{COMMON}"\n' + "\n".join(top_lines) + "\n"


def plan(tree_dir: str | Path, project: str) -> tuple[Plan, str]:
    """Write the split sources into tree_dir/firmware; return them and the common header's text."""
    tree = Path(tree_dir)
    firmware = tree / "firmware"
    top = (firmware / f"{project}.cpp").read_text()
    bridge = (tree / f"{project}_bridge.cpp").read_text()
    define_includes, parameter_includes, chunks = _configs(
        (firmware / "defines.h").read_text(), (firmware / "parameters.h").read_text()
    )
    weight_includes = [include for include in parameter_includes if include.startswith('"weights/')]
    shared = [include for include in parameter_includes if include not in weight_includes]
    common = _common_header(project, [*define_includes, *shared], bridge)
    variables = _passed_variables(top, firmware)
    lines = top.splitlines()
    calls = _layer_calls(lines, variables)
    units: list[Unit] = []
    wrappers: dict[int, Wrapper] = {}  # by the line of the call each replaces
    defined: set[int] = set()  # the definitions with external linkage some unit already holds
    for unit, group in enumerate(_unit_calls(calls)):
        made = {
            number: _wrapper(unit, position, calls[number], variables) for position, number in enumerate(group.lines)
        }
        wrappers.update(made)
        needed = _closure(" ".join(wrapper.types for wrapper in made.values()), chunks)
        units.append(_layer_unit(project, unit, calls[group.layer], list(made.values()), _once(needed, defined)))
    if not units:
        raise NotSplit(f"{project}.cpp calls no nnet:: layer function")
    main = _top_source(project, lines, wrappers)
    (firmware / MAIN_PARAMS).write_text(
        "// fastcsim: parameters.h without the layer configs (they are in the layers' own units; split.py)\n"
        "#pragma once\n" + "".join(f"#include {include}\n" for include in parameter_includes)
    )
    result = Plan(
        units=(
            *units,
            Unit(f"firmware/{project}.cpp", main, local=True),
            Unit(f"{project}_bridge.cpp", f'#include "firmware/{COMMON}"\n' + bridge, local=True),
        ),
        layers=len(units),
    )
    for unit in result.units:
        (tree / unit.name).write_text(unit.text)
    (firmware / COMMON).write_text(common)
    return result, common


def _digest(*parts: object) -> str:
    digest = hashlib.sha256()
    for part in parts:
        digest.update(part if isinstance(part, bytes) else str(part).encode())
        digest.update(b"\0")
    return digest.hexdigest()


def _walked(directory: Path) -> Iterator[Path]:
    """The files below directory in os.walk's order (a folder's files, then its folders', each sorted by name;
    links to folders not followed), which the precompiled header's key has always hashed them in."""
    if not directory.is_dir():
        return
    entries = sorted(directory.iterdir(), key=lambda path: path.name)
    yield from (entry for entry in entries if not entry.is_dir())
    for entry in entries:
        if entry.is_dir() and not entry.is_symlink():
            yield from _walked(entry)


def _tree_digest(root: Path) -> str:
    """The content of every header the common header can reach (ap_types, nnet_utils)."""
    digest = hashlib.sha256()
    for sub in ("ap_types", "nnet_utils"):
        for path in _walked(root / "firmware" / sub):
            digest.update(str(path.relative_to(root)).encode() + b"\0")
            digest.update(path.read_bytes())
    return digest.hexdigest()


def _local_digest(root: Path) -> str:
    """The project's own headers (firmware/*.h, firmware/weights/*.h) that the top function and the bridge include."""
    digest = hashlib.sha256()
    for sub in (Path("firmware"), Path("firmware", "weights")):
        folder = root / sub
        for path in sorted(folder.iterdir(), key=lambda path: path.name) if folder.is_dir() else []:
            if path.name.endswith(".h") and path.is_file():
                digest.update(str(sub / path.name).encode() + b"\0")
                digest.update(path.read_bytes())
    return digest.hexdigest()


def _compiler(cc: str) -> str:
    out = subprocess.run([cc, "--version"], capture_output=True, timeout=60, check=False)
    return out.stdout.decode(errors="replace").splitlines()[0] if out.returncode == 0 else cc


def _run(args: list[str], cwd: str | Path, what: str, timeout: float = COMPILE_TIMEOUT_S) -> tuple[int, str]:
    """A compiler's exit code and output, within `timeout` (CompileTimeout, naming `what`, past it)."""
    proc = subprocess.Popen(args, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True)
    out = communicate_bounded(proc, timeout, what)
    return proc.returncode, out.decode(errors="replace")


def _store(cache: Path, key: str, suffix: str, produce: Callable[[str], None]) -> str:
    """The cached file of this key, made by produce(tmp_path) when absent (atomically: concurrent builds race
    harmlessly). Returns its path; raises NotSplit with the compiler's output when produce fails."""
    path = cache / (key + suffix)
    if path.is_file():
        return str(path)
    fd, tmp = tempfile.mkstemp(dir=cache, suffix=suffix + ".tmp")
    os.close(fd)
    try:
        produce(tmp)
        os.replace(tmp, path)
    finally:
        Path(tmp).unlink(missing_ok=True)
    return str(path)


def build(
    tree_dir: str | Path, cache_dir: str | Path, jobs: int | None = None, log: Log | None = print
) -> LibraryBuild:
    """Compile and link tree_dir split (see the module's doc); the library's path and what was compiled or found
    in the cache. NotSplit (with the reason, e.g. the compiler's output) when it cannot, with the sources the split
    rewrote (the top function's file, the bridge) put back: the caller builds unsplit, which also reports a real
    compile error the usual way (hls4ml's missing pointwise kernel) instead of a library with a hole in it."""
    tree = Path(tree_dir).absolute()
    script = read_script(tree)
    rewritten = [tree / "firmware" / f"{script.project}.cpp", tree / f"{script.project}_bridge.cpp"]
    originals = {path: path.read_bytes() for path in rewritten if path.is_file()}
    try:
        return _build(tree, Path(cache_dir), script, jobs, log)
    except NotSplit:
        for path, text in originals.items():
            path.write_bytes(text)
        raise


def _precompiled_header(tree: Path, cache: Path, args: list[str], key: str) -> None:
    """fastcsim_common.h.gch in the tree: a link to the cache's, built there first when absent."""
    common = tree / "firmware" / COMMON

    def make(tmp: str) -> None:
        code, out = _run([*args, "-x", "c++-header", str(common), "-o", tmp], tree, f"g++ of {COMMON}")
        if code:
            raise NotSplit(f"the precompiled header did not build: {out[-2000:]}")

    pch = _store(cache, key, ".gch", make)
    link = tree / "firmware" / (COMMON + ".gch")
    link.unlink(missing_ok=True)
    link.symlink_to(pch)


def _object(tree: Path, cache: Path, args: list[str], unit: Unit) -> str:
    """The unit's object in the cache, compiled there first when absent, against the precompiled header only."""

    def make(tmp: str) -> None:
        code, out = _run([*args, "-Winvalid-pch", "-c", unit.name, "-o", tmp], tree, f"g++ of {unit.name}")
        if code:
            raise NotSplit(f"{unit.name} did not compile: {out[-2000:]}")
        if "invalid-pch" in out or "not used because" in out:
            raise NotSplit(f"the precompiled header was not used for {unit.name}: {out[-500:]}")

    return _store(cache, unit.key, ".o", make)


def _link(tree: Path, script: Script, objects: list[str]) -> str:
    """build_lib.sh's link line, and no undefined symbol let through: a unit whose kernel hls4ml's library lacks (the
    pointwise DenseResource_rf_gt_nin) compiles to nothing, and a shared library would only fail when loaded."""
    lib = tree / "firmware" / f"{script.project}-{script.stamp}.so"
    lib.unlink(missing_ok=True)
    link = [script.cc, *script.cflags, *script.incflags, "-shared", "-Wl,--no-undefined", *objects, "-o", str(lib)]
    code, out = _run(link, tree, f"the link of {lib.name}")
    if code or not lib.is_file():
        raise NotSplit(f"the split objects did not link: {out[-2000:]}")
    return str(lib)


def _build(tree: Path, cache: Path, script: Script, jobs: int | None, log: Log | None) -> LibraryBuild:
    start = time.monotonic()
    planned_units, common = plan(tree, script.project)
    cache.mkdir(parents=True, exist_ok=True)
    args = script.compile_args()
    pch_key = _digest("pch", _compiler(script.cc), args, common, _tree_digest(tree))
    planned = time.monotonic()
    pch_hit = (cache / (pch_key + ".gch")).is_file()
    _precompiled_header(tree, cache, args, pch_key)
    pch_done = time.monotonic()
    local = _local_digest(tree)
    units = [_keyed(unit, cache, pch_key, args, local) for unit in planned_units.units]
    todo = sorted(units, key=lambda unit: (unit.cached, -len(unit.text)))  # the misses first, the largest first
    with ThreadPoolExecutor(max_workers=jobs or max(1, len(os.sched_getaffinity(0)))) as pool:
        objects = list(pool.map(lambda unit: _object(tree, cache, args, unit), todo))
    compiled = time.monotonic()
    lib = _link(tree, script, objects)
    misses = sum(1 for unit in units if not unit.cached)
    result = LibraryBuild(
        lib=lib,
        seconds=time.monotonic() - start,
        split=True,
        units=len(units),
        layers=planned_units.layers,
        compiled=misses,
        from_cache=len(units) - misses,
        pch_cached=pch_hit,
        phases=SplitPhases(
            plan=round(planned - start, 2),
            pch=round(pch_done - planned, 2),
            compile=round(compiled - pch_done, 2),
            link=round(time.monotonic() - compiled, 2),
        ),
    )
    if log:
        log(
            f"fastcsim: split build in {result.seconds:.1f} s: {misses} of {len(units)} units compiled "
            f"({planned_units.layers} layers), the rest from the cache; precompiled header "
            f"{'cached' if pch_hit else 'built'}"
        )
    return result


def _keyed(unit: Unit, cache: Path, pch_key: str, args: list[str], local: str) -> Unit:
    """The unit with its object's key (its text, the precompiled header's key, the flags, and the project's own
    headers when it includes them) and whether the cache holds that object."""
    key = _digest("obj", pch_key, args, unit.name, unit.text, local if unit.local else "")
    return replace(unit, key=key, cached=(cache / (key + ".o")).is_file())
