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
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from hlsbox.core.contract import LibraryBuild, SplitPhases

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


@dataclass
class Script:
    """What build_lib.sh compiles with, as its own shell computes it."""

    cc: str
    cflags: list[str]
    incflags: list[str]
    ldflags: list[str]
    project: str
    stamp: str
    weights_dir: str

    def compile_args(self) -> list[str]:
        return [self.cc, *self.cflags, *self.incflags, "-D", f"WEIGHTS_DIR={self.weights_dir}"]


@dataclass
class Chunk:
    """A top-level declaration of defines.h or parameters.h: the names it defines and its text."""

    names: set[str]
    text: str
    owner: str | None = None  # an out-of-class member definition: it goes wherever its struct goes
    always: bool = False  # not a declaration split knows: in every TU
    # A definition with external linkage (a static member's, or a namespace-scope variable's: hls4ml's Transpose
    # writes both in parameters.h): what a unit holds instead when another unit already holds the definition (an
    # extern declaration, or nothing for a member: its class declares it), so it is defined exactly once.
    elsewhere: str | None = None


@dataclass
class Unit:
    name: str  # the .cpp, relative to the tree
    text: str
    key: str = ""
    cached: bool = False
    local: bool = False  # includes the project's own headers (defines.h, the weights): they are in its key


@dataclass
class Plan:
    units: list[Unit] = field(default_factory=list)
    layers: int = 0


def read_script(tree_dir: str) -> Script:
    """build_lib.sh's variables, computed by its own preamble (the compiler checks it makes); NotSplit unless its
    compile and link lines are hls4ml's three."""
    with open(os.path.join(tree_dir, "build_lib.sh")) as f:
        script = f.read()
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
    v = dict(zip(_SCRIPT_VARS, values, strict=False))
    return Script(
        v["CC"],
        v["CFLAGS"].split(),
        v["INCFLAGS"].split(),
        v["LDFLAGS"].split(),
        v["PROJECT"],
        v["LIB_STAMP"],
        v["WEIGHTS_DIR"],
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
    head = text.lstrip()
    if head.startswith("#define"):
        return Chunk({head.split()[1].split("(")[0]}, text)
    match = re.match(r"struct\s+(\w+)", head)
    if match:
        return Chunk({match.group(1)}, text)
    match = re.match(r"typedef\s[^;{]*?\b(\w+)\s*;\s*$", head, re.S)
    if match:
        return Chunk({match.group(1)}, text)
    return _definition(text) or Chunk(set(), text, always=True)


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
        return Chunk(set(), text, owner=owner, elsewhere="")
    if _internal(specifiers, declaration):
        return Chunk({name}, text)  # each unit its own copy, as a header included twice would give
    return Chunk({name}, text, elsewhere=f"extern {declaration.strip()};")


def _internal(specifiers: str, declaration: str) -> bool:
    """A namespace-scope variable with internal linkage: static, or a const object (not a pointer to const)."""
    if re.match(r"static\b", specifiers):
        return True
    if "*" in declaration:
        return bool(re.search(r"\*\s*const\s+\w+\s*(\[[^\]]*\]\s*)*$", declaration.strip()))
    return bool(re.search(r"\b(const|constexpr)\b", specifiers))


def _closure(start: str, chunks: list[Chunk]) -> list[Chunk]:
    """The chunks the names in `start` reach, transitively, in their original order."""
    by_name = {name: i for i, c in enumerate(chunks) for name in c.names}
    owned: dict[str, list[int]] = {}
    for i, c in enumerate(chunks):
        if c.owner:
            owned.setdefault(c.owner, []).append(i)
    chosen = {i for i, c in enumerate(chunks) if c.always}
    todo = set(_IDENT.findall(start)) | {n for i in chosen for n in _IDENT.findall(chunks[i].text)}
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


def _variables(main: str, firmware: str) -> dict[str, tuple[str, str]]:
    """name -> (kind, element type) of every array and stream the top function passes to its layers."""
    found: dict[str, tuple[str, str]] = {}
    for line in main.splitlines():
        match = re.match(r"^\s*auto\s*&\s*(\w+)\s*=\s*(\w+)\s*;\s*$", line)  # a Flatten: the same array
        if match and match.group(2) in found:
            found[match.group(1)] = found[match.group(2)]
            continue
        match = _STREAM.match(line)
        if match:
            found[match.group(2)] = ("stream", match.group(1))
            continue
        match = _ARRAY.match(line)
        if match and match.group(1) not in ("return", "static"):
            found[match.group(2)] = ("array", match.group(1))
    weights = os.path.join(firmware, "weights")
    for name in sorted(os.listdir(weights)) if os.path.isdir(weights) else []:
        if name.endswith(".h"):
            with open(os.path.join(weights, name)) as f:
                text = f.read()
            sim = text.split("#ifndef __SYNTHESIS__", 1)[1].split("#else", 1)[0] if "__SYNTHESIS__" in text else ""
            for line in sim.splitlines():
                match = _ARRAY.match(line)
                if match:
                    found[match.group(2)] = ("array", match.group(1))
    return found


def plan(tree_dir: str, project: str) -> tuple[Plan, str]:
    """Write the split sources into tree_dir/firmware; return them and the common header's text."""
    firmware = os.path.join(tree_dir, "firmware")
    paths = {n: os.path.join(firmware, n) for n in (f"{project}.cpp", "defines.h", "parameters.h", f"{project}.h")}
    texts = {}
    for name, path in paths.items():
        with open(path) as f:
            texts[name] = f.read()
    with open(os.path.join(tree_dir, f"{project}_bridge.cpp")) as f:
        bridge = f.read()
    def_includes, def_chunks = _chunks(texts["defines.h"])
    if any(not c.names for c in def_chunks):
        raise NotSplit("defines.h holds more than typedefs and #defines")
    params = texts["parameters.h"]
    marker = "// hls-fpga-machine-learning insert layer-config"
    if params.count(marker) != 1:
        raise NotSplit("parameters.h has no layer-config section")
    head, configs = params.split(marker)
    par_includes, head_chunks = _chunks(head)
    if head_chunks:
        raise NotSplit("parameters.h declares something before its layer configs")
    _, config_chunks = _chunks(configs)
    chunks = def_chunks + config_chunks
    weight_includes = [i for i in par_includes if i.startswith('"weights/')]
    shared = [i for i in par_includes if i not in weight_includes]
    bridge_includes = [_INCLUDE.match(line.strip()).group(1) for line in bridge.splitlines() if _INCLUDE.match(line)]
    common_includes = []
    for inc in ["<iostream>", *def_includes, *shared, '"hls_stream.h"', *bridge_includes]:
        inc = inc.replace('"firmware/', '"')
        if inc not in common_includes and inc not in (f'"{project}.h"', '"defines.h"', '"parameters.h"'):
            common_includes.append(inc)
    common = (
        "// fastcsim: every include of the project's C build, precompiled once (split.py)\n#pragma once\n"
        + "".join(f"#include {inc}\n" for inc in common_includes)
    )
    variables = _variables(texts[f"{project}.cpp"], firmware)
    result = Plan()
    lines = texts[f"{project}.cpp"].splitlines()
    calls = {}  # line number -> (indent, function, template, every argument, the arrays/streams, comment)
    for number, line in enumerate(lines):
        match = _CALL.match(line)
        if match:
            indent, function, template, args, comment = match.groups()
            every = [a.strip() for a in args.split(",") if a.strip()]
            names = [a for a in every if not a.startswith('"')]  # the wrapper's parameters; literals stay in its call
            if any(n not in variables for n in names):
                raise NotSplit(f"a layer call passes something split does not know: {line.strip()}")
            calls[number] = (indent, function, template, every, names, comment)
    # A weight load (a call with a file name) goes with the layer that uses its array: the same types, one unit.
    layer_of = {}
    for number, call in calls.items():
        if not any(a.startswith('"') for a in call[3]):
            for name in call[4]:
                layer_of.setdefault(name, number)
    group = {n: layer_of.get(c[4][0], n) if any(a.startswith('"') for a in c[3]) else n for n, c in calls.items()}
    members: dict[int, list[int]] = {}
    for number in sorted(calls):
        members.setdefault(group[number], []).append(number)
    unit_of = {leader: i for i, leader in enumerate(sorted(members))}
    declarations, replaced = [], {}
    defined: set[int] = set()  # the definitions with external linkage some unit already holds
    for leader, numbers in sorted(members.items()):
        wrappers, used = [], []
        for number in numbers:
            indent, function, template, every, names, comment = calls[number]
            params_text = ", ".join(
                f"hls::stream<{variables[n][1]}> &a{i}" if variables[n][0] == "stream" else f"{variables[n][1]} *a{i}"
                for i, n in enumerate(names)
            )
            wrapper = f"void fastcsim_{unit_of[leader]}_{len(wrappers)}({params_text})"
            renamed = iter(f"a{i}" for i in range(len(names)))
            passed = [a if a.startswith('"') else next(renamed) for a in every]
            wrappers.append(f"{wrapper} {{\n    nnet::{function}<{template}>({', '.join(passed)});\n}}\n")
            used.append(template + " " + " ".join(variables[n][1] for n in names))
            declarations.append(wrapper + ";")
            replaced[number] = f"{indent}{wrapper.split('(')[0][5:]}({', '.join(names)});{comment or ''}"
        comment = calls[leader][5]
        what = comment.strip().lstrip("/").strip() if comment else calls[leader][1]
        needed = _closure(" ".join(used), chunks)
        text = (
            f"// fastcsim: {what}, split out of {project}.cpp (split.py)\n"
            f'#include "{COMMON}"\n\n' + "\n".join(_once(needed, defined)) + "\n\n" + "\n".join(wrappers)
        )
        result.units.append(Unit(f"firmware/fastcsim_layer_{unit_of[leader]}.cpp", text))
    main_lines = [
        replaced.get(n, line.replace('#include "parameters.h"', f'#include "{MAIN_PARAMS}"'))
        for n, line in enumerate(lines)
    ]
    if not result.units:
        raise NotSplit(f"{project}.cpp calls no nnet:: layer function")
    result.layers = len(result.units)
    top = next((i for i, line in enumerate(main_lines) if line.startswith(f"void {project}(")), None)
    if top is None:
        raise NotSplit(f"{project}.cpp has no top function")
    main_lines[top:top] = ["// fastcsim: the layers, each in its own translation unit (split.py)", *declarations, ""]
    main = f'#include "{COMMON}"\n' + "\n".join(main_lines) + "\n"
    main_params = (
        "// fastcsim: parameters.h without the layer configs (they are in the layers' own units; split.py)\n"
        "#pragma once\n" + "".join(f"#include {inc}\n" for inc in par_includes)
    )
    with open(os.path.join(firmware, MAIN_PARAMS), "w") as f:
        f.write(main_params)
    result.units.append(Unit(f"firmware/{project}.cpp", main, local=True))
    result.units.append(Unit(f"{project}_bridge.cpp", f'#include "firmware/{COMMON}"\n' + bridge, local=True))
    for unit in result.units:
        with open(os.path.join(tree_dir, unit.name), "w") as f:
            f.write(unit.text)
    with open(os.path.join(firmware, COMMON), "w") as f:
        f.write(common)
    return result, common


def _digest(*parts) -> str:
    h = hashlib.sha256()
    for part in parts:
        h.update(part if isinstance(part, bytes) else str(part).encode())
        h.update(b"\0")
    return h.hexdigest()


def _tree_digest(root: str) -> str:
    """The content of every header the common header can reach (ap_types, nnet_utils)."""
    h = hashlib.sha256()
    for sub in ("ap_types", "nnet_utils"):
        base = os.path.join(root, "firmware", sub)
        for dirpath, dirnames, filenames in os.walk(base):
            dirnames.sort()
            for name in sorted(filenames):
                path = os.path.join(dirpath, name)
                h.update(os.path.relpath(path, root).encode() + b"\0")
                with open(path, "rb") as f:
                    h.update(f.read())
    return h.hexdigest()


def _local_digest(root: str) -> str:
    """The project's own headers (firmware/*.h, firmware/weights/*.h) that the top function and the bridge include."""
    h = hashlib.sha256()
    for sub in ("firmware", os.path.join("firmware", "weights")):
        base = os.path.join(root, sub)
        for name in sorted(os.listdir(base)) if os.path.isdir(base) else []:
            path = os.path.join(base, name)
            if name.endswith(".h") and os.path.isfile(path):
                h.update(os.path.join(sub, name).encode() + b"\0")
                with open(path, "rb") as f:
                    h.update(f.read())
    return h.hexdigest()


def _compiler(cc: str) -> str:
    out = subprocess.run([cc, "--version"], capture_output=True, timeout=60, check=False)
    return out.stdout.decode(errors="replace").splitlines()[0] if out.returncode == 0 else cc


def _run(args: list[str], cwd: str, what: str, timeout: float = COMPILE_TIMEOUT_S) -> tuple[int, str]:
    """A compiler's exit code and output, within `timeout` (CompileTimeout, naming `what`, past it)."""
    proc = subprocess.Popen(args, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True)
    out = communicate_bounded(proc, timeout, what)
    return proc.returncode, out.decode(errors="replace")


def _store(cache: str, key: str, suffix: str, produce) -> str:
    """The cached file of this key, made by produce(tmp_path) when absent (atomically: concurrent builds race
    harmlessly). Returns its path; raises NotSplit with the compiler's output when produce fails."""
    path = os.path.join(cache, key + suffix)
    if os.path.isfile(path):
        return path
    fd, tmp = tempfile.mkstemp(dir=cache, suffix=suffix + ".tmp")
    os.close(fd)
    try:
        produce(tmp)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
    return path


def build(tree_dir: str, cache_dir: str, jobs: int | None = None, log=print) -> LibraryBuild:
    """Compile and link tree_dir split (see the module's doc); the library's path and what was compiled or found
    in the cache. NotSplit (with the reason, e.g. the compiler's output) when it cannot, with the sources the split
    rewrote (the top function's file, the bridge) put back: the caller builds unsplit, which also reports a real
    compile error the usual way (hls4ml's missing pointwise kernel) instead of a library with a hole in it."""
    tree_dir = os.path.abspath(tree_dir)
    script = read_script(tree_dir)
    rewritten = [
        os.path.join(tree_dir, name) for name in (f"firmware/{script.project}.cpp", f"{script.project}_bridge.cpp")
    ]
    originals = {path: Path(path).read_bytes() for path in rewritten if os.path.isfile(path)}
    try:
        return _build(tree_dir, cache_dir, script, jobs, log)
    except NotSplit:
        for path, text in originals.items():
            Path(path).write_bytes(text)
        raise


def _build(tree_dir: str, cache_dir: str, script: Script, jobs: int | None, log) -> LibraryBuild:
    start = time.monotonic()
    units, common = plan(tree_dir, script.project)
    os.makedirs(cache_dir, exist_ok=True)
    args = script.compile_args()
    compiler = _compiler(script.cc)
    pch_key = _digest("pch", compiler, args, common, _tree_digest(tree_dir))
    planned = time.monotonic()
    common_path = os.path.join(tree_dir, "firmware", COMMON)

    def make_pch(tmp: str) -> None:
        code, out = _run([*args, "-x", "c++-header", common_path, "-o", tmp], tree_dir, f"g++ of {COMMON}")
        if code:
            raise NotSplit(f"the precompiled header did not build: {out[-2000:]}")

    pch_hit = os.path.isfile(os.path.join(cache_dir, pch_key + ".gch"))
    pch = _store(cache_dir, pch_key, ".gch", make_pch)
    if os.path.lexists(common_path + ".gch"):
        os.remove(common_path + ".gch")
    os.symlink(pch, common_path + ".gch")
    pch_done = time.monotonic()
    local = _local_digest(tree_dir)
    for unit in units.units:
        unit.key = _digest("obj", pch_key, args, unit.name, unit.text, local if unit.local else "")
        unit.cached = os.path.isfile(os.path.join(cache_dir, unit.key + ".o"))

    def compile_unit(unit: Unit) -> str:
        def produce(tmp: str) -> None:
            code, out = _run([*args, "-Winvalid-pch", "-c", unit.name, "-o", tmp], tree_dir, f"g++ of {unit.name}")
            if code:
                raise NotSplit(f"{unit.name} did not compile: {out[-2000:]}")
            if "invalid-pch" in out or "not used because" in out:
                raise NotSplit(f"the precompiled header was not used for {unit.name}: {out[-500:]}")

        return _store(cache_dir, unit.key, ".o", produce)

    todo = sorted(units.units, key=lambda u: (u.cached, -len(u.text)))  # the misses first, the largest first
    workers = jobs or max(1, len(os.sched_getaffinity(0)))
    with ThreadPoolExecutor(max_workers=workers) as pool:
        objects = list(pool.map(compile_unit, todo))
    compiled = time.monotonic()
    lib = os.path.join(tree_dir, "firmware", f"{script.project}-{script.stamp}.so")
    if os.path.exists(lib):
        os.remove(lib)
    # build_lib.sh's link line, and no undefined symbol let through: a unit whose kernel hls4ml's library lacks (the
    # pointwise DenseResource_rf_gt_nin) compiles to nothing, and a shared library would only fail when loaded
    link = [script.cc, *script.cflags, *script.incflags, "-shared", "-Wl,--no-undefined", *objects, "-o", lib]
    code, out = _run(link, tree_dir, f"the link of {os.path.basename(lib)}")
    if code or not os.path.isfile(lib):
        raise NotSplit(f"the split objects did not link: {out[-2000:]}")
    misses = sum(1 for u in units.units if not u.cached)
    result = LibraryBuild(
        lib=lib,
        seconds=time.monotonic() - start,
        split=True,
        units=len(units.units),
        layers=units.layers,
        compiled=misses,
        from_cache=len(units.units) - misses,
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
            f"fastcsim: split build in {result.seconds:.1f} s: {misses} of {len(units.units)} units compiled "
            f"({units.layers} layers), the rest from the cache; precompiled header {'cached' if pch_hit else 'built'}"
        )
    return result
