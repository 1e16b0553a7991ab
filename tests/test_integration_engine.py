"""The engine seam against the real engine: what a step's container really is (hardening and limits seen
from inside it), and engine errors as one-paragraph errors with nothing left behind."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from hlsbox import image
from hlsbox.engines import ContainerSpec, EngineRefused, Limits, Mount, Watch
from tests.conftest import assert_clean_error, hlsbox_containers, run_cli

pytestmark = [pytest.mark.integration, pytest.mark.core]

PROBE = r"""
echo "uid=$(id -u):$(id -g)"
touch /root-is-writable 2>/dev/null && echo "root=rw" || echo "root=ro"
touch /tmp/scratch && echo "tmp=rw"
touch /ws/x 2>/dev/null && echo "ws=rw" || echo "ws=ro"
touch /run-dir/x && echo "run=rw"
echo "caps=$(sed -n 's/^CapEff:\s*//p' /proc/self/status)"
echo "nonewprivs=$(sed -n 's/^NoNewPrivs:\s*//p' /proc/self/status)"
echo "ifaces=$(ls /sys/class/net | tr '\n' ' ')"
echo "memory=$(cat /sys/fs/cgroup/memory/memory.limit_in_bytes 2>/dev/null || cat /sys/fs/cgroup/memory.max)"
echo "memsw=$(cat /sys/fs/cgroup/memory/memory.memsw.limit_in_bytes 2>/dev/null || cat /sys/fs/cgroup/memory.swap.max)"
echo "pids=$(cat /sys/fs/cgroup/pids/pids.max 2>/dev/null || cat /sys/fs/cgroup/pids.max)"
echo "pid1=$(tr '\0' ' ' < /proc/1/cmdline)"
"""


def _probe(engine, tmp_path: Path, limits: Limits) -> dict[str, str]:
    (tmp_path / "ws").mkdir()
    (tmp_path / "run").mkdir()
    lines: list[str] = []
    spec = ContainerSpec(
        image.find_image(engine).id,
        ("sh", "-c", PROBE),
        limits,
        mounts=(Mount(tmp_path / "ws", Path("/ws")), Mount(tmp_path / "run", Path("/run-dir"), read_only=False)),
        labels={"org.hlsbox.step": "probe"},
    )
    outcome = engine.run(spec, Watch(on_line=lines.append))
    assert outcome.exit_code == 0, lines
    return dict(line.split("=", 1) for line in lines if "=" in line)


def test_a_step_container_is_hardened_and_limited_as_seen_from_inside(engine, tmp_path: Path):
    seen = _probe(engine, tmp_path, Limits(memory=300 << 20, cpus=1, pids=128, timeout=60))
    assert seen["uid"] == f"{os.getuid()}:{os.getgid()}"
    assert seen["root"] == "ro" and seen["tmp"] == "rw" and seen["ws"] == "ro" and seen["run"] == "rw"
    assert int(seen["caps"], 16) == 0 and seen["nonewprivs"] == "1"
    assert seen["ifaces"].split() == ["lo"]  # network none
    assert int(seen["memory"]) == int(seen["memsw"]) == 300 << 20  # no swap: a real OOM kill at the limit
    assert seen["pids"] == "128"
    # PID 1 is an init (docker-init, catatonit) running the image's entry: it reaps g++'s and Vivado's children
    init, _, command = seen["pid1"].partition(" -- ")
    assert init.endswith("init") and command.startswith("/usr/local/bin/hlsbox-entry")
    assert not hlsbox_containers(engine)


def test_network_only_on_request(engine, tmp_path: Path):
    seen = _probe(engine, tmp_path, Limits(memory=300 << 20, cpus=1, pids=128, timeout=60, network=True))
    assert len(seen["ifaces"].split()) > 1


def test_a_child_killed_at_the_memory_limit_is_an_oom(engine, tmp_path: Path):
    """The step survives, its child (as g++ would be) is OOM-killed: still an out-of-memory outcome."""
    command = ("sh", "-c", "python3 -c 'x = bytearray(1 << 30)'; echo child exit $?; exit 1")
    spec = ContainerSpec(image.find_image(engine).id, command, Limits(memory=200 << 20, cpus=1, pids=64, timeout=60))
    lines: list[str] = []
    outcome = engine.run(spec, Watch(on_line=lines.append))
    assert "child exit 137" in lines
    assert outcome.exit_code == 1 and outcome.oom_killed


def test_the_engine_refusing_a_limit_is_bad_input(engine):
    spec = ContainerSpec(image.find_image(engine).id, ("true",), Limits(memory=1024, cpus=1, pids=64, timeout=60))
    with pytest.raises(EngineRefused):
        engine.run(spec, Watch(on_line=print))
    assert not hlsbox_containers(engine)


def test_mem_1k_is_a_clean_error_and_leaves_no_run_dir(workspace: Path, engine):
    result = run_cli("convert", "--flow", "flows/digits.toml", "--mem", "1k", "--force", cwd=workspace)
    assert_clean_error(result, 2, "--mem 1k is too little")
    leftovers = list((workspace / "build").glob("**/.convert.tmp-*"))
    assert not leftovers and not hlsbox_containers(engine)
