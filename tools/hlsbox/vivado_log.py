"""Reading Vivado HLS / Vitis HLS output as it streams: phases, the module being synthesised,
warnings and errors, phase times, and the known failures with their fixes.

Patterns were checked against real logs (Vivado HLS 2019.2, Vitis HLS 2022.2 and 2024.1; see
shared/reports/SOURCES.md): capitalisation differs between tools, so matching ignores case.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

# hls4ml's build_prj.tcl prints a banner per phase and "***** <PHASE> COMPLETED IN 0h1m2s *****".
_BANNER = re.compile(
    r"^\*{5} (C SIMULATION|C/RTL SYNTHESIS|C/RTL SIMULATION|C/RTL VALIDATION|EXPORT IP|"
    r"VIVADO SYNTHESIS) \*{5}\s*$"
)
_COMPLETED = re.compile(r"^\*{5} (.+) COMPLETED IN (\d+)h(\d+)m(\d+)s \*{5}")
PHASE_NAMES = {
    "C SIMULATION": "C simulation",
    "C/RTL SYNTHESIS": "C synthesis",
    "C/RTL SIMULATION": "co-simulation",
    "C/RTL VALIDATION": "validation",
    "EXPORT IP": "export",
    "VIVADO SYNTHESIS": "Vivado synthesis",
}
# Sub-steps inside a phase: (pattern, what to show); a group, when present, is the module.
_DETAILS = [
    (re.compile(r"\[HLS 200-10\] Analyzing design file", re.I), "elaboration"),
    (re.compile(r"Finished Linking", re.I), "linking done"),
    (re.compile(r"Starting code transformations", re.I), "code transformations"),
    (re.compile(r"Implementing module '([^']+)'", re.I), "scheduling/binding"),
    (re.compile(r"\[SCHED 204-11\] Starting scheduling", re.I), "scheduling"),
    (re.compile(r"\[BIND 205-100\] Starting micro-architecture generation", re.I), "binding"),
    (re.compile(r"Generating RTL for module '([^']+)'", re.I), "RTL generation"),
    (re.compile(r"Finished generating all RTL models", re.I), "RTL done"),
    (re.compile(r"\[IMPL 213-8\] Exporting RTL", re.I), "exporting IP"),
    (re.compile(r"// RTL Simulation : (\d+ / \d+)", re.I), "RTL simulation"),
    (re.compile(r"Running synth_design|Starting synth_design", re.I), "synth_design"),
]


@dataclass
class LogState:
    phase: str | None = None
    detail: str = ""
    module: str = ""
    warnings: int = 0
    errors: list[str] = field(default_factory=list)
    completed: dict[str, int] = field(default_factory=dict)  # phase -> seconds, as the tool reported

    def read(self, line: str) -> bool:
        """Take one line; True when what a progress view shows has changed."""
        text = line.strip()
        if match := _BANNER.match(text):
            self.phase, self.detail, self.module = PHASE_NAMES[match.group(1)], "", ""
            return True
        if match := _COMPLETED.match(text):
            name = PHASE_NAMES.get(match.group(1), match.group(1).lower())
            h, m, s = (int(g) for g in match.groups()[1:])
            self.completed[name] = h * 3600 + m * 60 + s
            return True
        upper = text.upper()
        if upper.startswith("WARNING:"):
            self.warnings += 1
        elif upper.startswith("ERROR:") or text.startswith("@E "):
            self.errors.append(text)
            return True
        for pattern, detail in _DETAILS:
            if match := pattern.search(text):
                self.detail = detail
                if match.groups():
                    self.module = match.group(1)
                return True
        return False

    def summary(self) -> str:
        parts = [self.phase or "starting"]
        if self.detail:
            parts.append(self.detail + (f" {self.module}" if self.module else ""))
        parts.append(f"{self.warnings} warnings" + (f", {len(self.errors)} errors" if self.errors else ""))
        return " · ".join(parts)


@dataclass(frozen=True)
class KnownFailure:
    name: str
    patterns: tuple[str, ...]  # any of them, case-insensitive
    explanation: str


KNOWN_FAILURES = (
    KnownFailure(
        "Y2K22",
        (
            r"bad lexical cast",
            r"is an invalid argument\. Please specify an integer value",
            r"\[IMPL 213-28\] Failed to generate IP",
        ),
        "export_design of Vivado HLS / Vitis HLS up to 2021.2 builds the IP revision from the date "
        "(YYMMDDHHMM), which overflows a 32-bit integer since 2022-01-01 (the Y2K22 bug). Apply Xilinx's Y2K22 "
        "patch to the install (AR 76960: run its patch script in the Xilinx root); hls4ml's `Version` setting "
        "only sets the IP's version string and does not avoid it. Synthesis results are not affected.",
    ),
    KnownFailure(
        "unroll limit",
        (r"\[XFORM 203-504\]", r"Stop unrolling loop"),
        "The design is too large to unroll (XFORM 203-504): a layer's loops exceed Vivado HLS's unroll limit. "
        "Run `hlsbox plan` to see which layer, then raise its ReuseFactor (strategy Resource) or use "
        'io_type = "io_stream" for conv nets.',
    ),
    KnownFailure(
        "licence",
        (r"\[Common 17-345\] A valid license was not found", r"License checkout failed", r"FLEXnet"),
        "No licence was found for the tool. Set XILINXD_LICENSE_FILE (a licence file, or port@server with "
        "--network for a licence server) in the environment hlsbox runs in.",
    ),
    KnownFailure(
        "memory",
        (r"std::bad_alloc", r"out of memory", r"Unable to allocate", r"Cannot allocate memory"),
        "The tool ran out of memory. Give the step more with --mem / MEM=, or make the design smaller "
        "(`hlsbox plan`: a larger ReuseFactor, io_stream).",
    ),
    KnownFailure(
        "C simulation",
        (r"\[SIM 211-100\] CSim failed", r"Simulation failed: SIG"),
        "The C simulation inside Vivado HLS failed (the testbench crashed or mismatched). Run `hlsbox csim` to "
        "check the model with hls4ml's own emulation; for large io_parallel designs the testbench can run out "
        "of stack: use io_stream or run csynth without C simulation.",
    ),
    KnownFailure(
        "shared libraries",
        (r"error while loading shared libraries",),
        "The tool could not load a system library inside the image. Report which one: the image carries those "
        "Vivado HLS 2018-2020 needs (libtinfo5, libncurses5, X11 client libraries).",
    ),
)


def diagnose(lines: list[str]) -> list[KnownFailure]:
    """The known failures whose patterns appear in the log."""
    text = "\n".join(lines)
    return [f for f in KNOWN_FAILURES if any(re.search(p, text, re.I) for p in f.patterns)]
