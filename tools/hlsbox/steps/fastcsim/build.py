"""Build a fast tree exactly as the project's own build_lib.sh (same compiler, flags, sources, stamped library
name), the two translation units in parallel, through ccache when given a cache directory; load the library into
the hls4ml model the way ModelGraph._compile does, so predict() and trace() use it."""

from __future__ import annotations

import ctypes
import dataclasses
import os
import platform
import re
import shutil
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

from hlsbox.core.contract import CsimBuild, LibraryBuild
from hlsbox.steps.fastcsim import split as splitting
from hlsbox.steps.fastcsim.layers import count_layers
from hlsbox.steps.fastcsim.recognise import FillBufferClass, Unrecognised, recognise, unrecognised
from hlsbox.steps.fastcsim.split import Log
from hlsbox.steps.fastcsim.tree import make_fast_tree
from hlsbox.steps.fastcsim.verify import verify_cxx

_COMPILE_LINE = re.compile(r"^\$\{CC\} .* -c \S+ -o \S+\s*$")
_LINK_LINE = re.compile(r"^\$\{CC\} .* -shared .*$")
FAST_SCRIPT = "build_lib_fastcsim.sh"  # the script the unsplit build runs, beside build_lib.sh


def _script_variable(script: str, name: str) -> str | None:
    match = re.search(rf"^{name}=(\S+)\s*$", script, re.M)
    return match.group(1) if match else None


def lib_path(tree_dir: str | Path) -> str:
    """The library build_lib.sh makes: firmware/<PROJECT>-<LIB_STAMP>.so."""
    script = Path(tree_dir, "build_lib.sh").read_text()
    name = f"{_script_variable(script, 'PROJECT')}-{_script_variable(script, 'LIB_STAMP')}.so"
    return str(Path(tree_dir).absolute() / "firmware" / name)


def make_parallel_script(script: str) -> str | None:
    """build_lib.sh -> same script with the '-c' compile lines run as parallel background jobs (each
    waited for, failures propagate) and prefixed by $FASTCSIM_LAUNCHER (e.g. 'ccache').  Returns None if
    the script does not have the expected shape (then run it unchanged)."""
    lines = script.split("\n")
    compiles = [i for i, line in enumerate(lines) if _COMPILE_LINE.match(line)]
    links = [i for i, line in enumerate(lines) if _LINK_LINE.match(line)]
    if len(compiles) < 1 or len(links) != 1 or max(compiles) > links[0]:
        return None
    for i in compiles:
        lines[i] = "${FASTCSIM_LAUNCHER} " + lines[i].rstrip() + ' &\nFASTCSIM_PIDS="$FASTCSIM_PIDS $!"'
    lines[links[0]] = "for p in $FASTCSIM_PIDS; do wait $p; done\n" + lines[links[0]]
    return "\n".join(lines)


class BuildFailed(Exception):
    """g++ failed on the C-simulation sources (the output names the error)."""

    def __init__(self, output: str) -> None:
        super().__init__(output[-3000:])
        self.output = output


def split_cache(ccache_dir: str | Path | None) -> Path:
    """Where the split build keeps its precompiled headers and objects: beside ccache's, else in /tmp."""
    return Path(ccache_dir, "fastcsim") if ccache_dir else Path(tempfile.gettempdir(), "hlsbox-fastcsim")


def build(
    tree_dir: str | Path,
    parallel: bool = True,
    ccache_dir: str | Path | None = None,
    log: Log | None = print,
    split: bool = False,
    choice: str | None = None,
    progress: Log | None = None,
) -> LibraryBuild:
    """Compile tree_dir (a fast tree or any written project) as its build_lib.sh does: same compiler, flags and
    library name. parallel: the translation units run concurrently. split: each layer in its own unit, against one
    precompiled header, objects cached by content (split.py; the same sources, cut at the layer calls), else
    (or when split.py does not know the project's shape, or its build fails) build_lib.sh's own two units.
    ccache_dir: compile through ccache with its cache there (when ccache is installed); the split build's cache
    is beside it. choice: why split or not (recorded). progress: told when the split build falls back, and why.
    BuildFailed (with the compiler's output) when g++ fails."""
    tree = Path(tree_dir).absolute()
    not_split = None
    if split:
        try:
            return dataclasses.replace(splitting.build(tree, split_cache(ccache_dir), log=log), choice=choice)
        except splitting.NotSplit as why:
            not_split = splitting.first_error(str(why))
            if log:
                log(f"fastcsim: the split build does not apply ({str(why)[:2000]}); building as build_lib.sh does")
            if progress:
                progress(f"compiling (g++, build_lib.sh's two units: the split build failed: {not_split})")
    return dataclasses.replace(_build_script(tree, parallel, ccache_dir, log), not_split=not_split, choice=choice)


def _script_to_run(script: str, parallel: bool, launcher: str | None, log: Log | None) -> str:
    """build_lib.sh made parallel (make_parallel_script), or as it is (its compiles through the launcher, if any)
    when not asked for or not of the expected shape."""
    fast = make_parallel_script(script) if parallel else None
    if fast is not None:
        return fast
    if parallel and log:
        log("fastcsim: build_lib.sh has an unexpected shape, running it unchanged (serial)")
    return script.replace("\n${CC} ", "\n${FASTCSIM_LAUNCHER} ${CC} ") if launcher else script


def _build_script(tree: Path, parallel: bool, ccache_dir: str | Path | None, log: Log | None) -> LibraryBuild:
    """Run build_lib.sh's compiles (through ccache, given its directory and the program) as _script_to_run has it."""
    env = dict(os.environ)
    launcher = shutil.which("ccache") if ccache_dir else None
    if launcher:
        env.update(FASTCSIM_LAUNCHER=launcher, CCACHE_DIR=str(ccache_dir))
    fast_script = tree / FAST_SCRIPT
    fast_script.write_text(_script_to_run((tree / "build_lib.sh").read_text(), parallel, launcher, log))
    fast_script.chmod(0o755)
    lib = Path(lib_path(tree))
    lib.unlink(missing_ok=True)
    run = measure(["bash", FAST_SCRIPT], cwd=tree, env=env)
    if run.returncode != 0 or not lib.is_file():
        raise BuildFailed(run.output)
    if log:
        log(
            f"fastcsim: built {lib.name} in {run.seconds:.1f} s, peak memory of the compilers "
            f"{run.peak_tree_rss_mb:.0f} MB{' (through ccache)' if launcher else ''}"
        )
    return LibraryBuild(
        lib=str(lib),
        seconds=run.seconds,
        split=False,
        parallel=parallel,
        ccache=bool(launcher),
        peak_tree_rss_mb=run.peak_tree_rss_mb,
        max_rss_mb=run.max_rss_mb,
    )


class TreeMemory(NamedTuple):
    """A process tree's resident memory at one moment: all its processes', and its largest one's."""

    total_kb: int
    largest_kb: int


def _tree_memory(root_pid: int) -> TreeMemory:
    """The VmRSS of root_pid and all its descendants (Linux /proc)."""
    children: dict[int, list[int]] = {}
    rss_kb: dict[int, int] = {}
    page_kb = os.sysconf("SC_PAGE_SIZE") // 1024
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            parent = int(stat[stat.rfind(")") + 2 :].split()[1])
            pages = int((entry / "statm").read_text().split()[1])
        except (OSError, ValueError, IndexError):
            continue
        children.setdefault(parent, []).append(int(entry.name))
        rss_kb[int(entry.name)] = pages * page_kb
    total, largest, stack = 0, 0, [root_pid]
    while stack:
        pid = stack.pop()
        total += rss_kb.get(pid, 0)
        largest = max(largest, rss_kb.get(pid, 0))
        stack.extend(children.get(pid, []))
    return TreeMemory(total, largest)


@dataclass(frozen=True)
class Measured:
    """A command's run: wall seconds, its process tree's peak memory (summed, and its largest process), its exit
    code and output."""

    seconds: float
    peak_tree_rss_mb: float
    max_rss_mb: float
    returncode: int
    output: str


class _PeakSampler:
    """Samples a process tree's memory every `interval` s on a thread of its own until stopped, keeping the peaks."""

    def __init__(self, pid: int, interval: float) -> None:
        self.pid, self.interval = pid, interval
        self.peak_total_kb = self.peak_largest_kb = 0
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()

    def _sample(self) -> None:
        while not self._done.is_set():
            memory = _tree_memory(self.pid)
            self.peak_total_kb = max(self.peak_total_kb, memory.total_kb)
            self.peak_largest_kb = max(self.peak_largest_kb, memory.largest_kb)
            self._done.wait(self.interval)

    def stop(self) -> None:
        self._done.set()
        self._thread.join()


def measure(
    cmd: list[str],
    cwd: str | Path | None = None,
    env: dict[str, str] | None = None,
    interval: float = 0.05,
    timeout: float = splitting.COMPILE_TIMEOUT_S,
) -> Measured:
    """Run cmd; return wall seconds, the peak of the summed RSS of its process tree (sampled from /proc
    every `interval` s, so parallel compilers count together), the largest single-process RSS seen, the
    exit code and the output.  (wait4's ru_maxrss is not used: on Linux a forked child inherits the
    parent's high-water mark, so it reports the calling Python's RSS for small builds.)"""
    start = time.time()
    proc = subprocess.Popen(
        cmd, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True
    )
    sampler = _PeakSampler(proc.pid, interval)
    try:
        out = splitting.communicate_bounded(proc, timeout, " ".join(cmd))
    finally:
        sampler.stop()
    return Measured(
        time.time() - start,
        sampler.peak_total_kb / 1024,
        sampler.peak_largest_kb / 1024,
        proc.returncode,
        out.decode(errors="replace"),
    )


def _dlclose() -> Callable[[int], int]:
    """libdl's dlclose (libdl.so, else libdl.so.2)."""
    try:
        dlclose = ctypes.CDLL("libdl.so").dlclose
    except OSError:
        dlclose = ctypes.CDLL("libdl.so.2").dlclose
    dlclose.argtypes = [ctypes.c_void_p]
    dlclose.restype = ctypes.c_int
    return dlclose


def attach(hls_model, lib: str):
    """Load lib into hls_model exactly as ModelGraph._compile does (dlclose the previous one first), so
    that hls_model.predict / trace use it."""
    old = getattr(hls_model, "_top_function_lib", None)
    if old is not None and platform.system() == "Linux":
        _dlclose()(old._handle)
    hls_model._top_function_lib = ctypes.cdll.LoadLibrary(lib)
    return hls_model


# Which build a design gets (choose_build), from `make bench` part csim_builds (tests/in_image/csim_builds.py), cold
# caches, g++ 12 -O3, 2 cores shared with other work, one run each (tests/bench/results/bench-20261206-0456.json; the
# W4A4 ResNet, a qonnx model, by the same script in the qonnx image, the machine busier):
#   design                            layers  im2col copies  hls4ml's own  two units  split cold  split, all cached
#   digits CNN (flows/digits.toml)         7            324        5.8 s      5.5 s      10.8 s              1.2 s
#   Conv1D+BN (models/conv1d_bn.py)        6            516        6.0 s      6.0 s       7.5 s              0.8 s
#   seed_fit (io_stream Mini-ResNet)      23              0       14.5 s     14.5 s      23.6 s              2.3 s
#   seed author's W4A4 ResNet (parallel)  37        489,472    (not run)     25.8 s     106.7 s              4.2 s
# (two units: the fast tree, im2col classes as loops, as build_lib.sh's two units in parallel.) Built once, the two
# units win at every size measured, by 1.3x to 4.1x: each split unit reloads the precompiled header and instantiates
# again the templates the layers share, more work in all than two cores win back. The split build wins only when its
# objects are reused: a build repeated with a few layers' types changed (fit's probes, then fit's check of the chosen
# design) compiles only those layers.
UNSPLIT = "build_lib.sh's two units"


@dataclass(frozen=True)
class BuildChoice:
    """The build a design gets and why, in words result.json and the csim view show."""

    split: bool
    reason: str


def choose_build(layers: int, copies: int, repeated: bool = False) -> BuildChoice:
    """Split (a unit a layer, precompiled header, objects cached) for a build repeated with a few layers changed each
    time (fit's probes: each reuses the objects of the layers whose types did not change), build_lib.sh's two units
    for a design built once, whatever its size (the measurements above). `layers`: the top function's layer calls,
    `copies`: the im2col element copies fastcsim replaced, both stated in the reason."""
    size = f"{layers} layers, {copies:,} im2col copies"
    if repeated:
        return BuildChoice(True, f"split: {size}, built again for each probe (unchanged layers from the cache)")
    return BuildChoice(
        False, f"{UNSPLIT}: {size}, built once (cold, faster than a precompiled header and a unit a layer)"
    )


def layer_calls(tree_dir: str | Path) -> int:
    """The layer calls of the project's top function (layers.count_layers), which choose_build states."""
    project = _script_variable(Path(tree_dir, "build_lib.sh").read_text(), "PROJECT")
    return count_layers(Path(tree_dir, "firmware", f"{project}.cpp").read_text())


def _proven(project: Path, log: Log | None) -> list[FillBufferClass]:
    """The project's im2col classes, every one recognised, its mapping proven and the C++ template checked against
    its copies; Unrecognised otherwise."""
    fills = recognise(project)
    bad = unrecognised(fills)
    if bad:
        raise Unrecognised("; ".join(str(fill) for fill in bad))
    ok, message = verify_cxx(project, fills, log=log)
    if not ok:
        raise Unrecognised(message)
    return fills


def _exact_build(hls_model, reason: Unrecognised, start: float, log: Log | None, progress: Log | None) -> CsimBuild:
    """hls4ml's own build, for a project fastcsim does not recognise: said in the log, the progress and the result."""
    if log:
        log(
            f"WARNING: fastcsim does not recognise this project's generated im2col code ({reason}); building "
            "exactly as hls4ml does, which is slow for io_parallel convolutions."
        )
    if progress:
        progress(f"compiling (g++, exactly as hls4ml does: fastcsim does not recognise {str(reason)[:200]})")
    hls_model._compile()
    return CsimBuild("exact", time.time() - start, reason=str(reason)[:500])


def fast_compile(
    hls_model,
    tree_dir: str | Path,
    ccache_dir: str | Path | None = None,
    log: Log | None = print,
    split: bool | None = None,
    progress: Log | None = None,
    repeated: bool = False,
) -> CsimBuild:
    """Drop-in for hls_model.compile() after hls_model.write(): recognise and prove the generated classes,
    check the C++ template, make the fast tree in tree_dir, build it as hls4ml would, load it. Anything not
    recognised: hls4ml's own build (hls_model._compile()), and the reason in the result. tree_dir should be the
    same path every time: the weights directory is on the compiler's command line, so ccache hits only there.
    split: the split build or build_lib.sh's units (None: choose_build's rule; repeated: one of many builds of the
    design with a few layers changed each time, fit's probes). progress: told of a fallback."""
    project = Path(hls_model.config.get_output_dir()).absolute()
    start = time.time()
    try:
        fills = _proven(project, log)
        prepare = time.time() - start
        make_fast_tree(project, tree_dir, fills)
        replaced = [fill for fill in fills if fill.ok]
        choice = choose_build(layer_calls(tree_dir), sum(fill.n_copies for fill in replaced), repeated)
        if split is not None:
            choice = BuildChoice(split, ("split" if split else UNSPLIT) + ": asked for")
        library = build(
            tree_dir, ccache_dir=ccache_dir, log=log, split=choice.split, choice=choice.reason, progress=progress
        )
    except Unrecognised as reason:
        return _exact_build(hls_model, reason, start, log, progress)
    attach(hls_model, library.lib)
    return CsimBuild(
        "fast",
        time.time() - start,
        classes=len(replaced),
        copies_replaced=sum(fill.n_copies for fill in replaced),
        generated_bytes=sum(fill.src_bytes for fill in replaced),
        prepare_seconds=prepare,
        library=library,
    )


def patch_compile(
    hls_model,
    tree_dir: str | Path,
    ccache_dir: str | Path | None = None,
    progress: Log | None = None,
    repeated: bool = False,
):
    """Make this hls_model's compile() fast: compile() = write() + fast_compile(...).  ModelGraph.trace()
    and predict-before-compile call self.compile(), so they get the fast build too (trace() rewrites
    the project with trace_output=True; the fast tree is rebuilt from it)."""

    def compile() -> CsimBuild:
        hls_model.write()
        return fast_compile(hls_model, tree_dir, ccache_dir, progress=progress, repeated=repeated)

    hls_model.compile = compile
    return hls_model
