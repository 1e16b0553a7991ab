"""Where a C simulation crashed: a signal handler (glibc's backtrace, built once per container with the compiler csim
already uses) prints the crashing thread's frames to stderr, and the first frame of an hls4ml kernel names the
layer through its config struct (`nnet::global_pooling2d_cl<..., config75>` is the layer of index 75)."""

from __future__ import annotations

import ctypes
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

from hlsbox.core.contract import LayerRow

HANDLER_SOURCE = r"""
#include <execinfo.h>
#include <signal.h>
#include <unistd.h>
static void hlsbox_report(int sig) {
    void *frames[64];
    int n = backtrace(frames, 64);
    static const char head[] = "hlsbox backtrace:\n";
    write(2, head, sizeof(head) - 1);
    backtrace_symbols_fd(frames, n, 2);
    signal(sig, SIG_DFL);
    raise(sig);
}
void hlsbox_install(void) {
    signal(SIGSEGV, hlsbox_report);
    signal(SIGFPE, hlsbox_report);
    signal(SIGILL, hlsbox_report);
    signal(SIGBUS, hlsbox_report);
}
"""
LIBRARY = Path("/tmp/hlsbox-crashsite.so")
BOUND_S = 60  # building the handler or demangling never holds the step up longer
_FRAME = re.compile(r"\((?P<symbol>_Z[^+)]+)")
_CONFIG = re.compile(r"\bconfig(?P<index>\d+)\b")
_KERNEL = re.compile(r"nnet::(?P<kernel>\w+)")


@dataclass(frozen=True)
class CrashSite:
    layer: LayerRow | None
    kernel: str


def install() -> None:
    """In the process about to run the library (csim's forked child): frames to stderr on a crash. Best effort: a
    handler that cannot be built leaves the crash as it was."""
    try:
        if not LIBRARY.is_file():
            source = LIBRARY.with_suffix(".c")
            source.write_text(HANDLER_SOURCE)
            subprocess.run(
                ["gcc", "-shared", "-fPIC", "-O1", str(source), "-o", str(LIBRARY)],
                check=True,
                capture_output=True,
                timeout=BOUND_S,
            )
        ctypes.CDLL(str(LIBRARY)).hlsbox_install()
    except (OSError, subprocess.SubprocessError):
        return


def locate(stderr: str, layers: list[LayerRow]) -> CrashSite | None:
    """The first frame of an hls4ml kernel in the backtrace, and the layer whose config it was instantiated with."""
    if "hlsbox backtrace:" not in stderr:
        return None
    symbols = [m.group("symbol") for m in map(_FRAME.search, stderr.split("hlsbox backtrace:", 1)[1].splitlines()) if m]
    for name in _demangle(symbols):
        kernel = _KERNEL.search(name)
        if kernel is None:
            continue
        config = _CONFIG.search(name)
        index = int(config.group("index")) if config else None
        layer = next((row for row in layers if row.index == index), None)
        return CrashSite(layer, kernel.group("kernel"))
    return None


def _demangle(symbols: list[str]) -> list[str]:
    if not symbols:
        return []
    try:
        done = subprocess.run(
            ["c++filt"], input="\n".join(symbols), capture_output=True, text=True, timeout=BOUND_S, check=True
        )
    except (OSError, subprocess.SubprocessError):
        return symbols
    return done.stdout.splitlines()
