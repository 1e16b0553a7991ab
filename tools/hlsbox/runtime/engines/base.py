"""What every container engine takes and gives: a container spec, limits, mounts, an outcome.

The engines (engines/docker.py, engines/podman.py) are the only code that talks to a container engine;
the rest of hlsbox describes a container with `ContainerSpec` and gets an `Outcome` back.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO, Protocol

# Every container and image hlsbox makes carries this label, so `hlsbox clean` can find strays.
LABEL = "org.hlsbox.managed"
# hlsbox's own containers carry LABEL=step; a container someone starts by hand from the image inherits the
# image's LABEL=image, so lists of our containers filter on the value.
CONTAINERS = f"{LABEL}=step"
RUN_LABEL = "org.hlsbox.run"  # unique per container run
WORKDIR_LABEL = "org.hlsbox.workdir"  # where its step works (a run dir in a workspace): whose container it is
# The image's entry prints this line after the command: the cgroup's OOM-kill count and peak memory, e.g.
# "@@hlsbox cgroup oom_kills=1 peak=209715200" (see docker/hlsbox-entry).
CGROUP_MARK = "@@hlsbox cgroup "
# The smallest memory limit a step can start with (the engines refuse less than a few MB; TF needs far more).
MIN_MEMORY = 64 * 1024**2


@dataclass(frozen=True)
class Limits:
    memory: int = 8 * 1024**3  # bytes; swap is set equal, so the limit is a real OOM kill
    cpus: float = 2.0
    pids: int = 4096
    timeout: float = 3600.0  # wall-clock seconds
    network: bool = False  # off unless a licence server needs it


@dataclass(frozen=True)
class Mount:
    host: Path
    container: Path
    read_only: bool = True


@dataclass(frozen=True)
class ContainerSpec:
    """One container run: hardened and limited the same way on every engine."""

    image: str  # id or tag
    command: tuple[str, ...]
    limits: Limits
    mounts: tuple[Mount, ...] = ()
    env: Mapping[str, str] = field(default_factory=dict)
    workdir: Path | None = None
    labels: Mapping[str, str] = field(default_factory=dict)
    user: str | None = None  # default: the host's uid:gid


@dataclass(frozen=True)
class Watch:
    """What the caller wants to see of a running container."""

    on_line: Callable[[str], None]
    on_tick: Callable[[], None] | None = None
    stall_after: float | None = None  # seconds without output before on_stall
    on_stall: Callable[[float], None] | None = None
    stop_on_stall: bool = False
    hang_after: float | None = None  # seconds silent and idle (engines/watchdog.py) before the step is hung
    hang_dump: tuple[str, ...] = ()  # run in the container before a hung one is stopped (dumps the stacks)


@dataclass(frozen=True)
class Outcome:
    exit_code: int
    duration: float
    timed_out: bool = False
    oom_killed: bool = False
    peak_memory: int = 0  # bytes, from the engine's stats (0 when none were seen)
    stalled: float = 0.0  # seconds without output when the stall watchdog stopped the step (0: it did not)
    hung: float = 0.0  # seconds silent and idle when the hang watchdog stopped the step (0: it did not)
    processes: str = ""  # the container's process list, taken before a hung step was stopped


@dataclass(frozen=True)
class EngineInfo:
    name: str  # docker or podman
    version: str
    api_version: str
    endpoint: str


class Engine(Protocol):
    """The verbs hlsbox needs of a container engine."""

    name: str

    def info(self) -> EngineInfo: ...

    def run(self, spec: ContainerSpec, watch: Watch) -> Outcome: ...

    def image_id(self, ref: str) -> str | None: ...

    def image_size(self, ref: str) -> int: ...

    def pull(self, ref: str) -> None: ...

    def import_rootfs(self, archive: Path, ref: str, changes: list[str]) -> None: ...

    def build(
        self,
        context: BinaryIO,
        tag: str,
        buildargs: Mapping[str, str],
        labels: Mapping[str, str],
        on_line: Callable[[str], None],
    ) -> None: ...

    def containers(self, label: str, running: bool = False, under: Path | None = None) -> list[str]: ...

    def remove_containers(self, label: str, under: Path | None = None) -> int: ...

    def remove_images(self, label: str, keep: set[str]) -> list[str]: ...
