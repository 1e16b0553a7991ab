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
`fastcsim_layer_N.cpp`, which holds only the typedefs and config structs that call reaches, so its text changes only
when that layer's types change; myproject.cpp calls the wrappers and includes the weights, not the configs; what
parameters.h defines with external linkage is defined once, in the first unit that needs it (layers.py cuts the
sources so). The project's own files are never changed: this is the fast tree, a copy.
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

from hlsbox.core.contract import LibraryBuild, SplitPhases
from hlsbox.steps.fastcsim.layers import COMMON, NotSplit, Unit, plan

Log = Callable[[str], None]

_SCRIPT_VARS = ("CC", "CFLAGS", "INCFLAGS", "LDFLAGS", "PROJECT", "LIB_STAMP", "WEIGHTS_DIR")
_LINES = (
    '${CC} ${CFLAGS} ${INCFLAGS} -D WEIGHTS_DIR="${WEIGHTS_DIR}" -c firmware/${PROJECT}.cpp -o ${PROJECT}.o',
    '${CC} ${CFLAGS} ${INCFLAGS} -D WEIGHTS_DIR="${WEIGHTS_DIR}" -c ${PROJECT}_bridge.cpp -o ${PROJECT}_bridge.o',
    "${CC} ${CFLAGS} ${INCFLAGS} -shared ${PROJECT}.o ${PROJECT}_bridge.o -o firmware/${PROJECT}-${LIB_STAMP}.so",
)


# the bound of one compile: hls4ml's own unsplit build of the seed's Mini-ResNet takes ~15 min at -O3 (7 GB)
COMPILE_TIMEOUT_S = 3 * 3600


def first_error(message: str, limit: int = 300) -> str:
    """A NotSplit's reason in one line: its lead ("the split objects did not link") and the compiler's or linker's
    first error line (``multiple definition of `config75::perm'``), not the whole output."""
    lead, _, output = message.partition(": ")
    lines = [line.strip() for line in output.splitlines() if line.strip()]
    error = next((line for line in lines if _ERROR_LINE.search(line)), lines[0] if lines else "")
    return (f"{lead}: {error}" if error else lead)[:limit]


_ERROR_LINE = re.compile(r"\berror\b|multiple definition|undefined reference", re.I)


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
