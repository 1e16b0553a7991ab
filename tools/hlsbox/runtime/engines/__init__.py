"""Container engines: the one seam between hlsbox and Docker or Podman.

`select()` gives the engine to use: `--engine` / HLSBOX_ENGINE, else Docker when its daemon answers,
else Podman when it is installed. Adding an engine: a module here with a class that has the verbs of
`base.Engine`, and one line in ENGINES.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable

from hlsbox.core.errors import BadInput, HlsboxError
from hlsbox.runtime.engines.base import (
    CGROUP_MARK,
    CONTAINERS,
    LABEL,
    MIN_MEMORY,
    RUN_LABEL,
    WORKDIR_LABEL,
    ContainerSpec,
    Engine,
    EngineInfo,
    Limits,
    Mount,
    Outcome,
    Watch,
)
from hlsbox.runtime.engines.docker import BuildFailed, DockerEngine, EngineLost, EngineRefused
from hlsbox.runtime.engines.podman import PodmanEngine

__all__ = [
    "CGROUP_MARK",
    "CONTAINERS",
    "LABEL",
    "MIN_MEMORY",
    "RUN_LABEL",
    "WORKDIR_LABEL",
    "BuildFailed",
    "ContainerSpec",
    "Engine",
    "EngineInfo",
    "EngineLost",
    "EngineRefused",
    "Limits",
    "Mount",
    "Outcome",
    "Watch",
    "select",
]

ENGINES: dict[str, Callable[[], Engine]] = {"docker": DockerEngine, "podman": PodmanEngine}
_chosen: dict[str, Engine] = {}


def select(name: str | None = None) -> Engine:
    """The engine asked for (--engine, HLSBOX_ENGINE), or the one this host has; one per process."""
    asked = (name or os.environ.get("HLSBOX_ENGINE") or "auto").strip().lower()
    if asked not in (*ENGINES, "auto"):
        raise BadInput(f"Unknown container engine '{asked}'.", f"Give one of: {', '.join(ENGINES)} (or auto).")
    if asked not in _chosen:
        _chosen[asked] = ENGINES[asked]() if asked != "auto" else _discover()
    return _chosen[asked]


def _discover() -> Engine:
    """Docker when it answers (or DOCKER_HOST names it), else Podman when installed, else Docker's own error."""
    docker_engine = DockerEngine()
    if os.environ.get("DOCKER_HOST") or shutil.which("podman") is None:
        return docker_engine
    try:
        docker_engine.connect()
        return docker_engine
    except HlsboxError:
        return PodmanEngine()
