"""The connection to the Docker engine, with one clear error when there is none."""

from __future__ import annotations

import docker
from docker.errors import DockerException

from hlsbox.errors import BadInput

# Every container and image hlsbox makes carries this label, so `hlsbox clean` can find strays.
LABEL = "org.hlsbox.managed"


def connect() -> docker.DockerClient:
    try:
        client = docker.from_env(timeout=120)
        client.ping()
    except (DockerException, OSError) as exc:
        raise BadInput(
            f"Cannot reach the Docker daemon ({_short(exc)}).",
            "Start it (e.g. `sudo systemctl start docker`, or `dockerd &` as root), check DOCKER_HOST, "
            "and make sure your user may use it (member of the 'docker' group); `hlsbox doctor` checks this.",
        ) from exc
    return client


def _short(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return text[:200]
