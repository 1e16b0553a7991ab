"""One container run under limits: created on entry, killed and removed on exit (also on Ctrl-C).

The rest of hlsbox talks to the engine only through `StepContainer` (style of cibuildwheel's
OCIContainer). `container_options` is pure, so the hardening and limits are unit-tested.
"""

from __future__ import annotations

import contextlib
import os
import queue
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import docker
from docker.errors import APIError, NotFound

from hlsbox.engine import LABEL

RUN_LABEL = "org.hlsbox.run"  # unique per container run


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
class Outcome:
    exit_code: int
    duration: float
    timed_out: bool = False
    oom_killed: bool = False
    peak_memory: int = 0  # bytes, from the engine's stats (0 when none were seen)
    stalled: float = 0.0  # seconds without output when the stall watchdog stopped the step (0: it did not)


def container_options(
    image: str,
    command: list[str],
    mounts: list[Mount],
    limits: Limits,
    *,
    env: dict[str, str] | None = None,
    workdir: Path | None = None,
    labels: dict[str, str] | None = None,
    user: str | None = None,
) -> dict:
    """The arguments of `containers.create` for one hardened, limited step."""
    return {
        "image": image,
        "command": command,
        "user": user or f"{os.getuid()}:{os.getgid()}",
        "environment": env or {},
        "working_dir": str(workdir) if workdir else None,
        "volumes": {str(m.host): {"bind": str(m.container), "mode": "ro" if m.read_only else "rw"} for m in mounts},
        "labels": {LABEL: "step", **(labels or {})},
        "init": True,  # reaps the many children of g++ or Vivado; Vivado is known to hang without one
        "mem_limit": limits.memory,
        "memswap_limit": limits.memory,
        "nano_cpus": int(limits.cpus * 1e9),
        "pids_limit": limits.pids,
        "network_mode": "bridge" if limits.network else "none",
        "cap_drop": ["ALL"],
        "security_opt": ["no-new-privileges"],
        "read_only": True,
        # Scratch and HOME; its size counts against the memory limit.
        "tmpfs": {"/tmp": "rw,exec,nosuid,nodev,size=4g"},
        "detach": True,
    }


@dataclass
class StepContainer:
    """`with StepContainer(client, options) as c: outcome = c.follow(on_line)`."""

    client: docker.DockerClient
    options: dict
    container: docker.models.containers.Container | None = field(default=None, init=False)

    run_id: str = field(default_factory=lambda: uuid.uuid4().hex, init=False)

    def __enter__(self) -> StepContainer:
        # The run label finds the container even when Ctrl-C lands while create() or start() is in flight.
        labels = {**self.options.get("labels", {}), RUN_LABEL: self.run_id}
        try:
            self.container = self.client.containers.create(**{**self.options, "labels": labels})
            self.container.start()
        except BaseException:
            self.remove()
            raise
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.remove()

    def remove(self) -> None:
        """Kill and remove this run's container; safe to call twice and when it is already gone."""
        with contextlib.suppress(NotFound, APIError):
            if self.container is not None:
                self.container.remove(force=True)  # SIGKILL to every process in it, then delete
        # sparse: the list alone, no inspect of each (one removed meanwhile would raise NotFound)
        with contextlib.suppress(APIError):
            for stray in self.client.containers.list(
                all=True, sparse=True, filters={"label": f"{RUN_LABEL}={self.run_id}"}
            ):
                with contextlib.suppress(NotFound, APIError):
                    stray.remove(force=True)
        self.container = None

    def follow(
        self,
        on_line: Callable[[str], None],
        timeout: float,
        on_tick: Callable[[], None] | None = None,
        stall_after: float | None = None,
        on_stall: Callable[[float], None] | None = None,
        stop_on_stall: bool = False,
    ) -> Outcome:
        """Stream the log line by line until the container exits or `timeout` seconds pass. With no output for
        `stall_after` seconds, `on_stall` is called (again after each further such period), and with
        `stop_on_stall` the step is stopped."""
        assert self.container is not None
        container = self.container
        lines: queue.Queue[str | None] = queue.Queue()
        peak = _PeakMemory(container)
        threading.Thread(target=_pump_logs, args=(container, lines), daemon=True).start()
        threading.Thread(target=peak.watch, daemon=True).start()
        start = last_output = last_warning = time.monotonic()
        deadline = start + timeout
        while True:
            try:
                line = lines.get(timeout=0.25)
            except queue.Empty:
                line = ""
            if line is None:  # the log stream ended: the container has exited
                break
            now = time.monotonic()
            if line:
                on_line(line)
                last_output = last_warning = now
            if on_tick:
                on_tick()
            if stall_after and now - last_warning > stall_after:
                last_warning = now
                if on_stall:
                    on_stall(now - last_output)
                if stop_on_stall:
                    self.remove()
                    return Outcome(124, now - start, peak_memory=peak.value, stalled=now - last_output)
            if now > deadline:
                self.remove()
                return Outcome(124, now - start, timed_out=True, peak_memory=peak.value)
        status = container.wait()
        container.reload()
        return Outcome(
            exit_code=int(status.get("StatusCode", 1)),
            duration=time.monotonic() - start,
            oom_killed=bool(container.attrs["State"].get("OOMKilled")),
            peak_memory=peak.value,
        )


def _pump_logs(container: docker.models.containers.Container, lines: queue.Queue[str | None]) -> None:
    pending = b""
    try:
        for chunk in container.logs(stream=True, follow=True, stdout=True, stderr=True):
            pending += chunk
            *complete, pending = pending.split(b"\n")
            for raw in complete:
                lines.put(raw.decode("utf-8", "replace").rstrip("\r"))
    except (APIError, NotFound, OSError, ValueError):
        pass  # the container was removed under us (timeout, Ctrl-C)
    finally:
        if pending:
            lines.put(pending.decode("utf-8", "replace"))
        lines.put(None)


class _PeakMemory:
    """The highest memory use the engine reports for the container (cgroup max_usage on v1)."""

    def __init__(self, container: docker.models.containers.Container) -> None:
        self.container = container
        self.value = 0

    def watch(self) -> None:
        try:
            for stats in self.container.stats(stream=True, decode=True):
                memory = stats.get("memory_stats") or {}
                self.value = max(self.value, int(memory.get("max_usage") or 0), int(memory.get("usage") or 0))
        except (APIError, NotFound, OSError, ValueError):
            return
