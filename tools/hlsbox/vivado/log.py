"""Reading Vivado HLS / Vitis HLS output as it streams: phases, the module being synthesised,
warnings and errors, phase times, and the known failures with their fixes.

Patterns were checked against real logs (Vivado HLS 2018.2 of the seed's design, shared/seed/author; Vivado HLS
2019.2, Vitis HLS 2022.2 and 2024.1, shared/reports/SOURCES.md): capitalisation differs between tools, so
matching ignores case. A few messages end a run's use (STOP_ON: the step stops the tool at once); a few
warnings are explained where they appear (EXPLAINED_WARNINGS).
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
    (re.compile(r"Finished Checking Pragmas", re.I), "pragmas checked"),
    (re.compile(r"Starting code transformations", re.I), "code transformations"),
    (re.compile(r"Finished Standard Transforms", re.I), "standard transforms done"),
    (re.compile(r"Finished Checking Synthesizability", re.I), "synthesizability checked"),
    (re.compile(r"\[HLS 200-10\] Checking synthesizability", re.I), "checking synthesizability"),
    (re.compile(r"Finished Pre-synthesis", re.I), "pre-synthesis done"),
    (re.compile(r"Starting hardware synthesis", re.I), "hardware synthesis"),
    (re.compile(r"Finished Architecture Synthesis", re.I), "architecture synthesis done"),
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
    explained: set[str] = field(default_factory=set)  # the explained warnings seen so far
    _notes: list[str] = field(default_factory=list)

    def read(self, line: str) -> bool:
        """Take one line; True when what a progress view shows has changed."""
        text = line.strip()
        for warning in EXPLAINED_WARNINGS:
            if warning.name not in self.explained and re.search(warning.pattern, text, re.I):
                self.explained.add(warning.name)
                self._notes.append(f"{warning.name} (a warning, synthesis goes on): {warning.explanation}")
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

    def notes(self) -> list[str]:
        """Explanations of warnings seen since the last call (each warning once per run)."""
        notes, self._notes = self._notes, []
        return notes

    def stall_hint(self) -> str:
        """What is known of a long silence in the current sub-step."""
        return SILENT_PHASES.get(self.detail, "")

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


@dataclass(frozen=True)
class ExplainedWarning:
    name: str
    pattern: str
    explanation: str


EXPLAINED_WARNINGS = (
    ExplainedWarning(
        "HLS 214-113",
        r"\[HLS 214-113\]",
        "Vivado HLS does not support variables defined outside a DATAFLOW region (the line it names). hls4ml's top "
        "function is a DATAFLOW region for strategy Resource and io_stream designs; what is defined outside it "
        "there is our guess, from the line: arrays the tool then cannot turn into channels between the layers. "
        "Alone it does not stop synthesis; with a design far too large for the part it came before SYNCHK "
        "200-77 in the seed's real run (Vivado HLS 2018.2).",
    ),
)
# Sub-steps known to run long without a line: what a stall there means.
SILENT_PHASES = {
    "checking synthesizability": "Vivado HLS prints nothing while it checks synthesizability; on the seed's "
    "io_parallel design (far larger than its part) 2018.2 spent 7 h 45 min here at full CPU, then found the top "
    "had no outputs (SYNCHK 200-77).",
    "code transformations": "Vivado HLS unrolls and inlines the layers' loops here, silently for a long time "
    "on large io_parallel designs.",
}


@dataclass(frozen=True)
class StopOn:
    """A message after which the tool's run is of no use: the step stops the tool at once (exit 1)."""

    name: str
    pattern: str


STOP_ON = (StopOn("SYNCHK 200-77", r"\[SYNCHK 200-77\]"),)

KNOWN_FAILURES = (
    KnownFailure(
        "SYNCHK 200-77",
        (r"\[SYNCHK 200-77\]",),
        "Vivado HLS found that the top function has no outputs (SYNCHK 200-77): the RTL of a top without outputs "
        "is optimised away to nothing, so hlsbox stopped the tool at once rather than let it synthesise nothing for "
        "hours. The tool's own possible causes (outputs passed by value, never written, infinite loops) do not fit "
        "hls4ml's generated top, which writes its outputs; in an hls4ml project the likely causes are guesses: an "
        "io_parallel design so large that the tool gives up partitioning its arrays and optimises the output "
        "writes away with them (the seed's design, hundreds of times its part's LUTs), or a layer whose kernel "
        "writes nothing for its settings (a ReuseFactor hls4ml's kernel does not handle: `hlsbox csim` checks that "
        "the outputs are computed). What to do: `hlsbox plan` and take a design that fits (io_stream, larger "
        "ReuseFactors, narrower types; `hlsbox fit` finds one), then synthesise that.",
    ),
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
