"""The Podman engine: Podman's Docker-compatible API service, found or started, with what this host needs.

Where it connects: CONTAINER_HOST (Podman's own variable) when set, else the conventional service socket
(/run/podman/podman.sock as root, $XDG_RUNTIME_DIR/podman/podman.sock rootless) when it answers, else a
private service that hlsbox starts for this process and stops when it ends. The private service reads its own
containers.conf: no default rlimits (root here lacks CAP_SYS_RESOURCE, so Podman's defaults fail every start),
catatonit as init, no process limit but the one asked for, no proxy variables copied into containers, and
cgroupfs / file events where there is no systemd.

What Podman 4.3 does differently and hlsbox allows for (see docs/engines.md): OOM kills are counted by the
container's own cgroup (the image's entry prints them; Podman sets no OOMKilled), output is attached before
start (its followed logs lose lines), a memory limit it cannot enforce (rootless on cgroup v1) is refused.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import shutil
import subprocess
import time
from pathlib import Path

import docker
import requests
from docker.errors import DockerException

from hlsbox.core.errors import BadInput
from hlsbox.runtime.engines.docker import DockerEngine, short

CONTAINERS_CONF = """# Written by hlsbox for the Podman service it starts (CONTAINERS_CONF replaces the system files).
[containers]
default_ulimits = []
init_path = "{init}"
pids_limit = 0
http_proxy = false
log_driver = "k8s-file"

[engine]
cgroup_manager = "cgroupfs"
events_logger = "file"
"""
START_WAIT = 15.0  # seconds for a started service to answer


class PodmanEngine(DockerEngine):
    name = "podman"
    title = "Podman"
    start_hint = (
        "Install Podman (Debian: `apt-get install podman catatonit`), or point CONTAINER_HOST at a running Podman "
        "service (`podman system service --time=0 unix:///run/podman/podman.sock`); `hlsbox doctor` checks this."
    )

    def __init__(self, base_url: str | None = None) -> None:
        super().__init__(base_url)
        self.service: subprocess.Popen | None = None

    @property
    def endpoint(self) -> str:
        return self.base_url or "(not connected)"

    def connect(self) -> docker.DockerClient:
        if shutil.which("podman") is None and not os.environ.get("CONTAINER_HOST"):
            raise BadInput("Podman is not installed on this host.", self.start_hint)
        for url in _known_sockets():
            client = _answering(url)
            if client is not None:
                self.base_url = url
                return self._checked(client)
        self.base_url, client = self._start_service()
        return self._checked(client)

    def _start_service(self) -> tuple[str, docker.DockerClient]:
        """A private `podman system service` for this process, stopped when it ends."""
        state = _state_dir()
        conf = state / "containers.conf"
        init = shutil.which("catatonit") or "/usr/libexec/podman/catatonit"
        conf.write_text(CONTAINERS_CONF.format(init=init))
        socket = state / f"podman-{os.getpid()}.sock"
        url = f"unix://{socket}"
        env = {k: v for k, v in os.environ.items() if k != "CONTAINER_HOST"} | {"CONTAINERS_CONF": str(conf)}
        log = (state / f"podman-{os.getpid()}.log").open("w")
        try:
            # Its own working directory: conmon 2.1 drops a file named `oom` there on every OOM kill.
            self.service = subprocess.Popen(
                ["podman", "system", "service", "--time=0", url],
                env=env,
                cwd=state,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        except OSError as exc:
            raise BadInput(f"Cannot start the Podman service ({short(exc)}).", self.start_hint) from None
        finally:
            log.close()
        atexit.register(self.stop_service)
        deadline = time.monotonic() + START_WAIT
        while time.monotonic() < deadline:
            if self.service.poll() is not None:
                tail = (state / f"podman-{os.getpid()}.log").read_text(errors="replace").strip().splitlines()[-3:]
                raise BadInput(f"The Podman service stopped at start: {' / '.join(tail)}.", self.start_hint)
            client = _answering(url)
            if client is not None:
                return url, client
            time.sleep(0.1)
        self.stop_service()
        raise BadInput(f"The Podman service did not answer within {START_WAIT:.0f} s.", self.start_hint)

    def stop_service(self) -> None:
        """Stop the private service (its containers are already gone: every run removes its own)."""
        if self.service is None or self.service.poll() is not None:
            return
        self.service.terminate()
        try:
            self.service.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.service.kill()
        with contextlib.suppress(OSError):
            Path(self.base_url.removeprefix("unix://")).unlink(missing_ok=True)
            (_state_dir() / f"podman-{os.getpid()}.log").unlink(missing_ok=True)

    def _checked(self, client: docker.DockerClient) -> docker.DockerClient:
        """Refuse a Podman that cannot enforce the limits hlsbox promises (rootless on cgroup v1)."""
        info = _libpod_info(client)
        host = info.get("host") or {}
        rootless = (host.get("security") or {}).get("rootless", False)
        if rootless and "memory" not in (host.get("cgroupControllers") or []):
            raise BadInput(
                "This Podman runs rootless without the memory cgroup controller (cgroup v1, or v2 without "
                "delegation): it would silently ignore hlsbox's memory, CPU and process limits.",
                "Run hlsbox as root with rootful Podman, or on a cgroup v2 host with systemd delegating the memory, "
                "pids and cpu controllers to your user (docs/engines.md: rootless Podman).",
            )
        return client

    def check_created(self, container: docker.models.containers.Container, options: dict) -> None:
        """Podman accepts limits at create that it then cannot apply: compare what it recorded."""
        container.reload()
        recorded = (container.attrs.get("HostConfig") or {}).get("Memory") or 0
        if options.get("mem_limit") and int(recorded) != int(options["mem_limit"]):
            raise BadInput(
                f"Podman did not apply the memory limit ({options['mem_limit']} bytes asked, {recorded} recorded).",
                "Run with rootful Podman, or on a cgroup v2 host with delegated controllers (docs/engines.md).",
            )


def _known_sockets() -> list[str]:
    urls = [os.environ["CONTAINER_HOST"]] if os.environ.get("CONTAINER_HOST") else []
    if os.geteuid() == 0:
        urls.append("unix:///run/podman/podman.sock")
    elif os.environ.get("XDG_RUNTIME_DIR"):
        urls.append(f"unix://{os.environ['XDG_RUNTIME_DIR']}/podman/podman.sock")
    return urls


def _answering(url: str) -> docker.DockerClient | None:
    if url.startswith("unix://") and not Path(url.removeprefix("unix://")).exists():
        return None
    try:
        client = docker.DockerClient(base_url=url, timeout=120)
        client.ping()
        return client
    except (DockerException, OSError, requests.exceptions.RequestException):
        return None


def _state_dir() -> Path:
    """Where hlsbox keeps its Podman service's socket, config and log."""
    if os.geteuid() == 0:
        path = Path("/run/hlsbox")
    elif os.environ.get("XDG_RUNTIME_DIR"):
        path = Path(os.environ["XDG_RUNTIME_DIR"]) / "hlsbox"
    else:
        path = Path(f"/tmp/hlsbox-{os.getuid()}")
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    return path


def _libpod_info(client: docker.DockerClient) -> dict:
    """Podman's own /info (rootless, cgroup controllers), which the Docker-compatible one lacks."""
    try:
        response = client.api._get(f"{client.api.base_url}/v4.0.0/libpod/info")
        return response.json() if response.ok else {}
    except (requests.exceptions.RequestException, ValueError):
        return {}
