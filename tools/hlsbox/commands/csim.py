"""csim on the host: the step with the workspace's compiler cache mounted, so unchanged builds (a re-run, sweep
variants and fit candidates that share a build) skip g++."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from rich.console import Console

from hlsbox.core.contract import CsimCache, CsimResult
from hlsbox.runtime import runner
from hlsbox.runtime.engines import Mount
from hlsbox.runtime.request import RunRequest


def ccache_dir(request: RunRequest) -> Path:
    """One compiler cache per build directory, shared by every flow and variant in it."""
    path = request.workspace.build / ".ccache"
    path.mkdir(parents=True, exist_ok=True)
    return path


def with_ccache(request: RunRequest) -> RunRequest:
    cache = ccache_dir(request)
    extras = request.extras
    return request.replace(
        extras=replace(
            extras,
            spec=replace(extras.spec, csim_cache=CsimCache(str(cache))),
            mounts=(*extras.mounts, Mount(cache, cache, read_only=False)),
        )
    )


def run_csim(console: Console, request: RunRequest) -> tuple[CsimResult, Path]:
    """The csim step's host hook: the step with the compiler cache mounted."""
    return runner.run_step(console, with_ccache(request), CsimResult)
