"""The Podman engine: Podman's Docker-compatible API service, found or started, with what it needs here.

(Completed once the Podman probe is in; see README, "Engines".)
"""

from __future__ import annotations

from hlsbox.engines.docker import DockerEngine


class PodmanEngine(DockerEngine):
    name = "podman"
    title = "Podman"
