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

from hlsbox.core.contract import CsimBuild, LibraryBuild
from hlsbox.steps.fastcsim import split as splitting
from hlsbox.steps.fastcsim.recognise import Unrecognised, recognise, unrecognised
from hlsbox.steps.fastcsim.tree import make_fast_tree
from hlsbox.steps.fastcsim.verify import verify_cxx

_COMPILE_LINE = re.compile(r"^\$\{CC\} .* -c \S+ -o \S+\s*$")
_LINK_LINE = re.compile(r"^\$\{CC\} .* -shared .*$")


def _script_value(script, var):
    m = re.search(rf"^{var}=(\S+)\s*$", script, re.M)
    return m.group(1) if m else None


def lib_path(tree_dir):
    with open(os.path.join(tree_dir, "build_lib.sh")) as f:
        s = f.read()
    return os.path.join(
        os.path.abspath(tree_dir), "firmware", f"{_script_value(s, 'PROJECT')}-{_script_value(s, 'LIB_STAMP')}.so"
    )


def make_parallel_script(script):
    """build_lib.sh -> same script with the '-c' compile lines run as parallel background jobs (each
    waited for, failures propagate) and prefixed by $FASTCSIM_LAUNCHER (e.g. 'ccache').  Returns None if
    the script does not have the expected shape (then run it unchanged)."""
    lines = script.split("\n")
    comp = [i for i, line in enumerate(lines) if _COMPILE_LINE.match(line)]
    link = [i for i, line in enumerate(lines) if _LINK_LINE.match(line)]
    if len(comp) < 1 or len(link) != 1 or max(comp) > link[0]:
        return None
    for i in comp:
        lines[i] = "${FASTCSIM_LAUNCHER} " + lines[i].rstrip() + ' &\nFASTCSIM_PIDS="$FASTCSIM_PIDS $!"'
    lines[link[0]] = "for p in $FASTCSIM_PIDS; do wait $p; done\n" + lines[link[0]]
    return "\n".join(lines)


class BuildFailed(Exception):
    """g++ failed on the C-simulation sources (the output names the error)."""

    def __init__(self, output: str) -> None:
        super().__init__(output[-3000:])
        self.output = output


def split_cache(ccache_dir):
    """Where the split build keeps its precompiled headers and objects: beside ccache's, else in /tmp."""
    return (
        os.path.join(ccache_dir, "fastcsim") if ccache_dir else os.path.join(tempfile.gettempdir(), "hlsbox-fastcsim")
    )


def build(
    tree_dir,
    parallel=True,
    ccache_dir=None,
    log=print,
    split=False,
    choice: str | None = None,
    progress: Callable[[str], None] | None = None,
) -> LibraryBuild:
    """Compile tree_dir (a fast tree or any written project) as its build_lib.sh does: same compiler, flags and
    library name. parallel: the translation units run concurrently. split: each layer in its own unit, against one
    precompiled header, objects cached by content (split.py; the same sources, cut at the layer calls), else
    (or when split.py does not know the project's shape, or its build fails) build_lib.sh's own two units.
    ccache_dir: compile through ccache with its cache there (when ccache is installed); the split build's cache
    is beside it. choice: why split or not (recorded). progress: told when the split build falls back, and why.
    BuildFailed (with the compiler's output) when g++ fails."""
    tree_dir = os.path.abspath(tree_dir)
    not_split = None
    if split:
        try:
            return dataclasses.replace(splitting.build(tree_dir, split_cache(ccache_dir), log=log), choice=choice)
        except splitting.NotSplit as why:
            not_split = splitting.first_error(str(why))
            if log:
                log(f"fastcsim: the split build does not apply ({str(why)[:2000]}); building as build_lib.sh does")
            if progress:
                progress(f"compiling (g++, build_lib.sh's two units: the split build failed: {not_split})")
    return dataclasses.replace(_build_script(tree_dir, parallel, ccache_dir, log), not_split=not_split, choice=choice)


def _build_script(tree_dir: str, parallel: bool, ccache_dir: str | None, log) -> LibraryBuild:
    with open(os.path.join(tree_dir, "build_lib.sh")) as f:
        script = f.read()
    env = dict(os.environ)
    launcher = shutil.which("ccache") if ccache_dir else None
    if launcher:
        env.update(FASTCSIM_LAUNCHER=launcher, CCACHE_DIR=ccache_dir)
    fast = make_parallel_script(script) if parallel else None
    if fast is None:
        if parallel and log:
            log("fastcsim: build_lib.sh has an unexpected shape, running it unchanged (serial)")
        fast = script.replace("\n${CC} ", "\n${FASTCSIM_LAUNCHER} ${CC} ") if launcher else script
    name = "build_lib_fastcsim.sh"
    with open(os.path.join(tree_dir, name), "w") as f:
        f.write(fast)
    os.chmod(os.path.join(tree_dir, name), 0o755)
    lib = lib_path(tree_dir)
    if os.path.exists(lib):
        os.remove(lib)
    run = measure(["bash", name], cwd=tree_dir, env=env)
    if run.returncode != 0 or not os.path.isfile(lib):
        raise BuildFailed(run.output)
    if log:
        log(
            f"fastcsim: built {os.path.basename(lib)} in {run.seconds:.1f} s, peak memory of the compilers "
            f"{run.peak_tree_rss_mb:.0f} MB{' (through ccache)' if launcher else ''}"
        )
    return LibraryBuild(
        lib=lib,
        seconds=run.seconds,
        split=False,
        parallel=parallel,
        ccache=bool(launcher),
        peak_tree_rss_mb=run.peak_tree_rss_mb,
        max_rss_mb=run.max_rss_mb,
    )


def _tree_rss_kb(root_pid):
    """(sum, max) of VmRSS in kB over root_pid and all its descendants (Linux /proc)."""
    children, rss = {}, {}
    page_kb = os.sysconf("SC_PAGE_SIZE") // 1024
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/stat") as f:
                st = f.read()
            ppid = int(st[st.rfind(")") + 2 :].split()[1])
            with open(f"/proc/{d}/statm") as f:
                pages = int(f.read().split()[1])
        except (OSError, ValueError, IndexError):
            continue
        children.setdefault(ppid, []).append(int(d))
        rss[int(d)] = pages * page_kb
    total, largest, stack = 0, 0, [root_pid]
    while stack:
        p = stack.pop()
        total += rss.get(p, 0)
        largest = max(largest, rss.get(p, 0))
        stack.extend(children.get(p, []))
    return total, largest


@dataclass(frozen=True)
class Measured:
    """A command's run: wall seconds, its process tree's peak memory (summed, and its largest process), its exit
    code and output."""

    seconds: float
    peak_tree_rss_mb: float
    max_rss_mb: float
    returncode: int
    output: str


def measure(cmd, cwd=None, env=None, interval=0.05, timeout=splitting.COMPILE_TIMEOUT_S) -> Measured:
    """Run cmd; return wall seconds, the peak of the summed RSS of its process tree (sampled from /proc
    every `interval` s, so parallel compilers count together), the largest single-process RSS seen, the
    exit code and the output.  (wait4's ru_maxrss is not used: on Linux a forked child inherits the
    parent's high-water mark, so it reports the calling Python's RSS for small builds.)"""
    t0 = time.time()
    proc = subprocess.Popen(
        cmd, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True
    )
    peak = [0, 0]
    done = threading.Event()

    def sampler():
        while not done.is_set():
            tot, big = _tree_rss_kb(proc.pid)
            peak[0], peak[1] = max(peak[0], tot), max(peak[1], big)
            done.wait(interval)

    th = threading.Thread(target=sampler, daemon=True)
    th.start()
    try:
        out = splitting.communicate_bounded(proc, timeout, " ".join(cmd))
    finally:
        done.set()
        th.join()
    return Measured(time.time() - t0, peak[0] / 1024, peak[1] / 1024, proc.returncode, out.decode(errors="replace"))


def attach(hls_model, lib):
    """Load lib into hls_model exactly as ModelGraph._compile does (dlclose the previous one first), so
    that hls_model.predict / trace use it."""
    old = getattr(hls_model, "_top_function_lib", None)
    if old is not None and platform.system() == "Linux":
        for libdl in ("libdl.so", "libdl.so.2"):
            try:
                dlclose = ctypes.CDLL(libdl).dlclose
                break
            except OSError:
                continue
        dlclose.argtypes = [ctypes.c_void_p]
        dlclose.restype = ctypes.c_int
        dlclose(old._handle)
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


def _layer_calls(tree_dir: str) -> int:
    with open(os.path.join(tree_dir, "build_lib.sh")) as f:
        project = _script_value(f.read(), "PROJECT")
    with open(os.path.join(tree_dir, "firmware", f"{project}.cpp")) as f:
        return splitting.count_layers(f.read())


def fast_compile(
    hls_model,
    tree_dir,
    ccache_dir=None,
    log=print,
    split: bool | None = None,
    progress: Callable[[str], None] | None = None,
    repeated: bool = False,
) -> CsimBuild:
    """Drop-in for hls_model.compile() after hls_model.write(): recognise and prove the generated classes,
    check the C++ template, make the fast tree in tree_dir, build it as hls4ml would, load it. Anything not
    recognised: hls4ml's own build (hls_model._compile()), and the reason in the result. tree_dir should be the
    same path every time: the weights directory is on the compiler's command line, so ccache hits only there.
    split: the split build or build_lib.sh's units (None: choose_build's rule; repeated: one of many builds of the
    design with a few layers changed each time, fit's probes). progress: told of a fallback."""
    project = os.path.abspath(hls_model.config.get_output_dir())
    start = time.time()
    try:
        recs = recognise(project)
        bad = unrecognised(recs)
        if bad:
            raise Unrecognised("; ".join(str(r) for r in bad))
        ok, message = verify_cxx(project, recs, log=log)
        if not ok:
            raise Unrecognised(message)
        prepare = time.time() - start
        make_fast_tree(project, tree_dir, recs)
        replaced = [r for r in recs if r.ok]
        choice = choose_build(_layer_calls(tree_dir), sum(r.n_copies for r in replaced), repeated)
        if split is not None:
            choice = BuildChoice(split, ("split" if split else UNSPLIT) + ": asked for")
        library = build(
            tree_dir, ccache_dir=ccache_dir, log=log, split=choice.split, choice=choice.reason, progress=progress
        )
    except Unrecognised as exc:
        if log:
            log(
                f"WARNING: fastcsim does not recognise this project's generated im2col code ({exc}); building "
                "exactly as hls4ml does, which is slow for io_parallel convolutions."
            )
        if progress:
            progress(f"compiling (g++, exactly as hls4ml does: fastcsim does not recognise {str(exc)[:200]})")
        hls_model._compile()
        return CsimBuild("exact", time.time() - start, reason=str(exc)[:500])
    attach(hls_model, library.lib)
    return CsimBuild(
        "fast",
        time.time() - start,
        classes=len(replaced),
        copies_replaced=sum(r.n_copies for r in replaced),
        generated_bytes=sum(r.src_bytes for r in replaced),
        prepare_seconds=prepare,
        library=library,
    )


def patch_compile(hls_model, **kw):
    """Make this hls_model's compile() fast: compile() = write() + fast_compile(...).  ModelGraph.trace()
    and predict-before-compile call self.compile(), so they get the fast build too (trace() rewrites
    the project with trace_output=True; the fast tree is rebuilt from it)."""

    def compile():
        hls_model.write()
        return fast_compile(hls_model, **kw)

    hls_model.compile = compile
    return hls_model
