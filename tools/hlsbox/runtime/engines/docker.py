"""The Docker engine (and, through its Docker-compatible API, the base of the Podman one).

Every call into the Docker SDK is here. Engine errors become one-paragraph HlsboxErrors: the engine
refusing a container's settings is bad input (exit 2, nothing was started), losing the engine mid-run
is a failed step (exit 1). A container is a context: created on entry, killed and removed on exit,
also on Ctrl-C (style of cibuildwheel's OCIContainer).
"""

from __future__ import annotations

import contextlib
import os
import queue
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

import docker
import requests
from docker.errors import APIError, DockerException, ImageNotFound, NotFound

from hlsbox.core.errors import EXIT_HUNG, BadInput, StepFailed
from hlsbox.runtime.engines.base import (
    CGROUP_MARK,
    LABEL,
    RUN_LABEL,
    WORKDIR_LABEL,
    ContainerSpec,
    EngineInfo,
    Outcome,
    Watch,
)
from hlsbox.runtime.engines.watchdog import DUMP_GRACE, HangDetector, cpu_total, format_processes

DUMP_WAIT = 15.0  # seconds at most for the process list and the stack dump of a hung container
PS_COMMAND = ("ps", "-eo", "pid,ppid,stat,etime,time,rss,args")  # procps is in the image
BUILD_SILENCE = 1800.0  # an image build silent this long is stuck (pip prints every package it fetches)
BUILD_TOTAL = 3 * 3600.0  # and no image build takes this long (from nothing: ~4 min here)


class EngineRefused(BadInput):
    """The engine refused to start a container with these settings: nothing ran."""


class EngineLost(StepFailed):
    """The engine went away (stopped, restarted, socket gone) while hlsbox was using it."""


def short_name(tag: str) -> str:
    """An image name as hlsbox writes it: Podman reports localhost/x:y or docker.io/library/x:y."""
    for prefix in ("localhost/", "docker.io/library/", "docker.io/"):
        if tag.startswith(prefix):
            return tag[len(prefix) :]
    return tag


def short(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return text[:300]


class DockerEngine:
    name = "docker"
    title = "Docker"
    start_hint = (
        "Start it (e.g. `sudo systemctl start docker`, or `dockerd &` as root) and check DOCKER_HOST, or use "
        "Podman (--engine podman / HLSBOX_ENGINE=podman); `hlsbox doctor` checks this."
    )

    def __init__(self, base_url: str | None = None) -> None:
        self.base_url = base_url
        self._client: docker.DockerClient | None = None

    # ---------- connection and errors ----------

    @property
    def client(self) -> docker.DockerClient:
        if self._client is None:
            self._client = self.connect()
        return self._client

    def connect(self) -> docker.DockerClient:
        try:
            client = (
                docker.DockerClient(base_url=self.base_url, timeout=120)
                if self.base_url
                else docker.from_env(timeout=120)
            )
            client.ping()
        except (DockerException, OSError, requests.exceptions.RequestException) as exc:
            raise self.unreachable(exc) from None
        return client

    def unreachable(self, exc: BaseException) -> BadInput:
        if "Permission denied" in str(exc) or isinstance(exc, PermissionError):
            return BadInput(
                f"No permission to use the {self.title} socket ({short(exc)}).",
                f"Add your user to the '{self.name}' group and log in again, run as a user who may use it, or use "
                "a rootless engine (--engine podman); `hlsbox doctor` checks this.",
            )
        return BadInput(f"Cannot reach the {self.title} daemon ({short(exc)}).", self.start_hint)

    @contextlib.contextmanager
    def guard(self, what: str) -> Iterator[None]:
        """Engine errors during `what` as one-paragraph errors (no traceback)."""
        try:
            yield
        except ImageNotFound as exc:
            raise BadInput(f"{self.title} has no such image ({short(exc)}).", "Build it with `make image`.") from None
        except NotFound as exc:  # a container removed under us: `hlsbox clean`, `docker rm -f`, a daemon restart
            raise EngineLost(
                f"The container disappeared while hlsbox was using it ({short(exc)}): it was removed outside "
                "hlsbox (`hlsbox clean`, `docker rm`) or the engine restarted.",
                "Run the step again; do not clean while steps are running.",
            ) from None
        except APIError as exc:
            detail = (exc.explanation or short(exc)).strip()
            if exc.is_client_error():
                raise EngineRefused(
                    f"{self.title} refused to {what}: {detail}.",
                    "Check the limits given (--mem at least 64m, --cpus within the machine's cores, --pids >= 16) "
                    "and the paths mounted; nothing was started.",
                ) from None
            raise EngineLost(f"{self.title} failed to {what}: {detail}.", self.start_hint) from None
        except (requests.exceptions.RequestException, DockerException, ConnectionError) as exc:
            raise EngineLost(
                f"Lost the connection to {self.title} while trying to {what} ({short(exc)}); the daemon stopped "
                "or restarted.",
                self.start_hint,
            ) from None

    def info(self) -> EngineInfo:
        with self.guard("describe itself"):
            version = self.client.version()
        return EngineInfo(self.name, str(version.get("Version")), str(version.get("ApiVersion")), self.endpoint)

    @property
    def endpoint(self) -> str:
        return self.base_url or os.environ.get("DOCKER_HOST", "unix:///var/run/docker.sock")

    # ---------- containers ----------

    def create_options(self, spec: ContainerSpec) -> dict:
        """The arguments of `containers.create` for one hardened, limited container (pure: unit-tested)."""
        limits = spec.limits
        return {
            "image": spec.image,
            "command": list(spec.command),
            "user": spec.user or f"{os.getuid()}:{os.getgid()}",
            "environment": dict(spec.env),
            "working_dir": str(spec.workdir) if spec.workdir else None,
            "volumes": {
                str(m.host): {"bind": str(m.container), "mode": "ro" if m.read_only else "rw"} for m in spec.mounts
            },
            "labels": {LABEL: "step", **({WORKDIR_LABEL: str(spec.workdir)} if spec.workdir else {}), **spec.labels},
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

    def run(self, spec: ContainerSpec, watch: Watch) -> Outcome:
        """Run one container to its end, its time limit, or a stall; it is gone afterwards in every case."""
        options = self.create_options(spec)
        with self.guard("run the container"), RunningContainer(self, options) as box:
            return box.follow(watch, spec.limits.timeout)

    def check_created(self, container: docker.models.containers.Container, options: dict) -> None:
        """What to verify of a created container before it starts (nothing on Docker: it refuses at create)."""

    def containers(self, label: str, running: bool = False, under: Path | None = None) -> list[str]:
        """The ids of containers with this label (`key` or `key=value`); only running ones with `running`, only
        those working under a folder with `under` (their WORKDIR_LABEL)."""
        return [c.id for c in self._listed(label, running, under)]

    def remove_containers(self, label: str, under: Path | None = None) -> int:
        removed = 0
        with self.guard("remove containers"):
            for container in self._listed(label, False, under):
                with contextlib.suppress(NotFound):  # gone meanwhile: fine
                    container.remove(force=True)
                    removed += 1
        return removed

    def _listed(self, label: str, running: bool, under: Path | None) -> list:
        filters = {"label": label, **({"status": "running"} if running else {})}
        with self.guard("list containers"):
            found = self.client.containers.list(all=not running, sparse=True, filters=filters)
        if under is None:
            return found
        return [c for c in found if _is_under((c.attrs.get("Labels") or {}).get(WORKDIR_LABEL), under)]

    # ---------- images ----------

    def image_id(self, ref: str) -> str | None:
        with self.guard(f"look up image {ref}"):
            try:
                return self.client.images.get(ref).id
            except ImageNotFound:
                return None

    def image_size(self, ref: str) -> int:
        with self.guard(f"look up image {ref}"):
            return int(self.client.images.get(ref).attrs.get("Size") or 0)

    def pull(self, ref: str) -> None:
        with self.guard(f"pull {ref}"):
            self.client.images.pull(ref)

    def import_rootfs(self, archive: Path, ref: str, changes: list[str]) -> None:
        # The reference as the repository, tag included: Podman's import ignores a separate tag.
        with self.guard(f"import {ref}"):
            self.client.api.import_image_from_file(str(archive), repository=ref, changes=changes)

    def build(
        self,
        context: BinaryIO,
        tag: str,
        buildargs: Mapping[str, str],
        labels: Mapping[str, str],
        on_line: Callable[[str], None],
    ) -> None:
        """Build from a tar context; each output line to on_line; a failed build raises with its last lines.
        Bounded: BUILD_SILENCE without a line (the HTTP read timeout) or BUILD_TOTAL in all ends it."""
        tail: list[str] = []
        start = last = time.monotonic()
        with self.guard(f"build {tag}"):
            stream = self.client.api.build(
                fileobj=context,
                custom_context=True,
                tag=tag,
                buildargs=dict(buildargs),
                rm=True,
                forcerm=True,
                pull=False,
                decode=True,
                labels=dict(labels),
                timeout=BUILD_SILENCE,
            )
            try:
                for chunk in stream:
                    last = time.monotonic()
                    if last - start > BUILD_TOTAL:
                        raise BuildFailed(f"the build ran past {BUILD_TOTAL / 3600:.0f} h and was abandoned", tail)
                    if "error" in chunk:
                        detail = chunk.get("errorDetail", {}).get("message", chunk["error"]).strip()
                        raise BuildFailed(detail, tail)
                    for line in chunk.get("stream", "").splitlines():
                        if line.strip():
                            tail.append(line)
                            on_line(line)
            except (requests.exceptions.ConnectionError, requests.exceptions.Timeout):
                if time.monotonic() - last < BUILD_SILENCE - 5:
                    raise  # the engine went away: the guard says so
                raise BuildFailed(
                    f"the build printed nothing for {BUILD_SILENCE / 60:.0f} min and was abandoned", tail
                ) from None
            finally:
                with contextlib.suppress(Exception):
                    stream.close()  # closes the request: the engine stops a build whose client is gone

    def remove_images(self, label: str, keep: set[str]) -> list[str]:
        removed: list[str] = []
        with self.guard("remove images"):
            for image in self.client.images.list(filters={"label": label}):
                tags = [short_name(tag) for tag in image.tags] or [image.short_id]
                if keep & set(tags):
                    continue
                with contextlib.suppress(APIError):
                    self.client.images.remove(image.id, force=True)
                    removed.extend(tags)
        return removed


class BuildFailed(Exception):
    def __init__(self, detail: str, tail: list[str]) -> None:
        super().__init__(detail)
        self.detail, self.tail = detail, tail


@dataclass
class RunningContainer:
    """`with RunningContainer(engine, options) as c: outcome = c.follow(watch, timeout)`."""

    engine: DockerEngine
    options: dict
    container: docker.models.containers.Container | None = field(default=None, init=False)
    output: object = field(default=None, init=False)  # the attached output stream
    run_id: str = field(default_factory=lambda: uuid.uuid4().hex, init=False)

    @property
    def client(self) -> docker.DockerClient:
        return self.engine.client

    def __enter__(self) -> RunningContainer:
        # The run label finds the container even when Ctrl-C lands while create() or start() is in flight.
        labels = {**self.options.get("labels", {}), RUN_LABEL: self.run_id}
        try:
            self.container = self.client.containers.create(**{**self.options, "labels": labels})
            self.engine.check_created(self.container, self.options)
            # Attached before start: every byte, on both engines (Podman's followed logs lose lines, Docker's
            # may drop a last unterminated one).
            self.output = self.container.attach(stdout=True, stderr=True, stream=True, logs=False)
            self.container.start()
        except BaseException:
            self.remove()
            raise
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.remove()

    def remove(self) -> None:
        """Kill and remove this run's container; safe to call twice and when it (or the engine) is gone."""
        quiet = (NotFound, APIError, requests.exceptions.RequestException, DockerException)
        with contextlib.suppress(*quiet):
            if self.container is not None:
                self.container.remove(force=True)  # SIGKILL to every process in it, then delete
        # sparse: the list alone, no inspect of each (one removed meanwhile would raise NotFound)
        with contextlib.suppress(*quiet):
            for stray in self.client.containers.list(
                all=True, sparse=True, filters={"label": f"{RUN_LABEL}={self.run_id}"}
            ):
                with contextlib.suppress(*quiet):
                    stray.remove(force=True)
        self.container = None

    def exited(self) -> bool:
        assert self.container is not None
        self.container.reload()
        return self.container.status in ("exited", "dead", "stopped")

    def follow(self, watch: Watch, timeout: float) -> Outcome:
        """Stream the log line by line until the container exits or `timeout` seconds pass. With no output
        for `stall_after` seconds, `on_stall` is called (again after each further such period), and with
        `stop_on_stall` the container is stopped. Silent and idle for `hang_after` seconds, it is hung: its
        stacks are dumped (`hang_dump`), its processes listed, and it is stopped. When the log stream ends
        early, the wait for the container is still bounded by the deadline."""
        assert self.container is not None
        container = self.container
        lines: queue.Queue[str | None] = queue.Queue()
        start = last_output = last_warning = time.monotonic()
        detector = HangDetector(watch.hang_after or 0.0, start)
        stats = ContainerStats(container, detector)
        threading.Thread(target=pump_output, args=(self.output, lines), daemon=True).start()
        threading.Thread(target=stats.watch, daemon=True).start()
        deadline = start + timeout
        streaming, cgroup = True, {}
        while True:
            line = ""
            if streaming:
                with contextlib.suppress(queue.Empty):
                    line = lines.get(timeout=0.25)
                if line is None:  # the log stream ended: the container has exited, or the stream broke
                    streaming, line = False, ""
            elif self.exited():
                break
            else:
                time.sleep(0.25)
            now = time.monotonic()
            if line.startswith(CGROUP_MARK):
                cgroup = dict(item.split("=", 1) for item in line[len(CGROUP_MARK) :].split() if "=" in item)
            elif line:
                watch.on_line(line)
                last_output = last_warning = now
                detector.output(now)
            if watch.on_tick:
                watch.on_tick()
            if watch.stall_after and now - last_warning > watch.stall_after:
                last_warning = now
                if watch.on_stall:
                    watch.on_stall(now - last_output)
                if watch.stop_on_stall:
                    self.remove()
                    return Outcome(124, now - start, peak_memory=stats.peak, stalled=now - last_output)
            if watch.hang_after and (hung := detector.hung(now)):
                processes = self.dump_hung(watch.hang_dump)
                self.remove()
                return Outcome(EXIT_HUNG, now - start, peak_memory=stats.peak, hung=hung, processes=processes)
            if now > deadline:
                self.remove()
                return Outcome(124, now - start, timed_out=True, peak_memory=stats.peak)
        state = container.attrs["State"]
        return Outcome(
            exit_code=int(state.get("ExitCode", 1)),
            duration=time.monotonic() - start,
            oom_killed=bool(state.get("OOMKilled")) or _count(cgroup.get("oom_kills")) > 0,
            peak_memory=max(stats.peak, _count(cgroup.get("peak"))),
        )

    def dump_hung(self, dump: tuple[str, ...]) -> str:
        """Before a hung container is stopped: its process list, and `dump` run in it (each bounded)."""
        assert self.container is not None
        container = self.container
        taken: dict[str, str] = {}

        def take() -> None:
            with contextlib.suppress(Exception):  # a hung engine or a container gone: keep what there is
                taken["processes"] = format_processes(container.top())
            if not taken.get("processes"):  # Podman 4.3's top answers no JSON: the image's own ps
                with contextlib.suppress(Exception):
                    result = container.exec_run(list(PS_COMMAND), stdout=True, stderr=True)
                    taken["processes"] = result.output.decode("utf-8", "replace")
            if dump:
                with contextlib.suppress(Exception):
                    container.exec_run(list(dump), stdout=False, stderr=False, detach=True)
                time.sleep(DUMP_GRACE)  # the step writes its stacks from its signal handler

        worker = threading.Thread(target=take, daemon=True)
        worker.start()
        worker.join(timeout=DUMP_WAIT)
        return taken.get("processes", "")


def _count(text: str | None) -> int:
    return int(text) if text and text.isdigit() else 0


def pump_output(output, lines: queue.Queue[str | None]) -> None:
    """The attached stream, line by line, into `lines`; None at its end."""
    pending = b""
    try:
        for chunk in output:
            pending += chunk
            *complete, pending = pending.split(b"\n")
            for raw in complete:
                lines.put(raw.decode("utf-8", "replace").rstrip("\r"))
    except Exception:  # any end of the stream (removed container, engine gone, a broken chunk)
        pass  # is the end of the output; the caller confirms the container's state with the engine
    finally:
        if pending:
            lines.put(pending.decode("utf-8", "replace"))
        lines.put(None)


class ContainerStats:
    """What the engine's stats stream tells of a running container: the highest memory use (cgroup max_usage
    on v1) and, for the hang watchdog, its cumulative CPU time."""

    def __init__(self, container: docker.models.containers.Container, detector: HangDetector) -> None:
        self.container, self.detector = container, detector
        self.peak = 0

    def watch(self) -> None:
        try:
            for stats in self.container.stats(stream=True, decode=True):
                memory = stats.get("memory_stats") or {}
                self.peak = max(self.peak, int(memory.get("max_usage") or 0), int(memory.get("usage") or 0))
                if (total := cpu_total(stats)) is not None:
                    self.detector.cpu(time.monotonic(), total)
        except Exception:  # stats end with the container, in engine-specific ways (e.g. Podman's
            return  # stream breaks off with a urllib3 ProtocolError); a watcher thread never shows a traceback


def _is_under(workdir: str | None, folder: Path) -> bool:
    return workdir is not None and Path(workdir).is_relative_to(folder)
