"""The hang watchdog: a step whose whole container uses (almost) no CPU and prints nothing for a set time is hung.

A step that prints nothing but computes (Vivado HLS's "Checking synthesizability" ran 7 h 45 min silent at
100% CPU on the seed's design) is slow, not hung: that is the stall warning's business. A step that prints
nothing and uses under CPU_IDLE of one core (a deadlocked pool, a process waiting on a pipe nobody reads) will
not finish by itself: it is stopped after `hang_after` seconds, its Python stacks dumped first (SIGUSR1 ->
faulthandler, registered by hlsbox.steps) and its process list kept, exit 123.

The CPU figure is the container cgroup's cumulative CPU time from the engine's stats (Docker and Podman serve
the same API), sampled by the engine; this module is the pure bookkeeping, unit-tested without an engine.
"""

from __future__ import annotations

from dataclasses import dataclass, field

CPU_IDLE = 0.02  # share of one core below which an interval counts as idle
DEFAULT_HANG_AFTER = 300.0  # seconds idle and silent before a step is hung
STALE_SAMPLES = 15.0  # seconds after which the last CPU sample no longer vouches for the present
DUMP_GRACE = 1.5  # seconds given to the step to write its stacks before it is stopped


@dataclass
class HangDetector:
    """Feed it output times and CPU samples (monotonic seconds, cumulative CPU nanoseconds); `hung(now)` says
    how long the container has been silent and idle (0.0 while it is not hung)."""

    hang_after: float
    start: float
    last_output: float = field(init=False)
    last_busy: float = field(init=False)  # the end of the last interval with CPU use at or above CPU_IDLE
    last_sample: tuple[float, int] | None = field(default=None, init=False)
    idle_seen: bool = field(default=False, init=False)  # at least one idle interval measured since last_busy

    def __post_init__(self) -> None:
        self.last_output = self.last_busy = self.start

    def output(self, now: float) -> None:
        self.last_output = now

    def cpu(self, now: float, total_ns: int) -> None:
        """One sample of the container's cumulative CPU time."""
        if self.last_sample is not None:
            then, before = self.last_sample
            if now > then:
                share = (total_ns - before) / 1e9 / (now - then)
                if share >= CPU_IDLE:
                    self.last_busy, self.idle_seen = now, False
                else:
                    self.idle_seen = True
        self.last_sample = (now, total_ns)

    def quiet_for(self, now: float) -> float:
        """Seconds without output and without CPU use (as far as the samples tell)."""
        return now - max(self.last_output, self.last_busy)

    def hung(self, now: float) -> float:
        """Seconds silent and idle when that reaches hang_after, with fresh samples to prove the idleness."""
        if self.last_sample is None or not self.idle_seen or now - self.last_sample[0] > STALE_SAMPLES:
            return 0.0  # no evidence of idleness: a step the stats cannot see is never called hung
        quiet = self.quiet_for(now)
        return quiet if quiet >= self.hang_after else 0.0


def cpu_total(stats: dict) -> int | None:
    """The cumulative CPU nanoseconds in one engine stats record (Docker's and Podman's compatible API)."""
    usage = (stats.get("cpu_stats") or {}).get("cpu_usage") or {}
    total = usage.get("total_usage")
    return int(total) if isinstance(total, int | float) else None


def format_processes(top: dict) -> str:
    """The engine's `top` of a container as a table (its own columns: UID PID PPID C STIME TTY TIME CMD)."""
    titles = top.get("Titles") or []
    rows = [titles, *(top.get("Processes") or [])]
    return "\n".join("  ".join(str(cell) for cell in row) for row in rows if row) + "\n"
