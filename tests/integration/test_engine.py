"""The engine seam against the real engine: what a step's container really is (hardening and limits seen
from inside it), and engine errors as one-paragraph errors with nothing left behind."""

from __future__ import annotations

import contextlib
import os
import sys
from pathlib import Path

import pytest

from hlsbox.runtime import image
from hlsbox.runtime.engines import ContainerSpec, EngineRefused, Limits, Mount, Watch
from tests.conftest import assert_clean_error, hlsbox_containers, run_cli, session_roots, start_cli

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


def test_a_container_says_whose_it_is_by_where_it_works(engine, tmp_path: Path):
    """Its org.hlsbox.workdir label lets a test session (or a user's second checkout) tell its containers from
    another's on the same engine: listed under its own folder, not under another."""
    from hlsbox.runtime.engines import CONTAINERS

    mine, other = tmp_path / "mine", tmp_path / "other"
    mine.mkdir(), other.mkdir()
    seen: dict[str, list[str]] = {}

    def look(line: str) -> None:
        if line == "up" and not seen:
            seen["mine"] = engine.containers(CONTAINERS, running=True, under=mine)
            seen["other"] = engine.containers(CONTAINERS, running=True, under=other)

    spec = ContainerSpec(
        image.find_image(engine).id,
        ("sh", "-c", "echo up; sleep 1"),
        Limits(memory=300 << 20, cpus=1, timeout=60),
        mounts=(Mount(mine, mine, read_only=False),),
        workdir=mine,
        labels={"org.hlsbox.step": "probe"},
    )
    assert engine.run(spec, Watch(on_line=look)).exit_code == 0
    assert len(seen["mine"]) == 1 and seen["other"] == [], seen


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


class SocketProxy:
    """A Unix socket that forwards to the engine's: hlsbox talks to it, and killing it is the engine going away
    mid-run (as a stopped daemon is, seen from the client)."""

    def __init__(self, target: str, path: Path) -> None:
        import socket
        import threading

        self.target, self.path, self.links, self.dead = target, path, [], False
        self.server = socket.socket(socket.AF_UNIX)
        self.server.bind(str(path))
        self.server.listen(16)
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        import socket
        import threading

        while True:
            try:
                client, _ = self.server.accept()
            except OSError:
                return
            if self.dead:
                client.close()
                return
            upstream = socket.socket(socket.AF_UNIX)
            upstream.connect(self.target)
            self.links += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    @staticmethod
    def _pipe(source, sink) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for end in (source, sink):
                with contextlib.suppress(OSError):
                    end.shutdown(2)

    def kill(self) -> None:
        self.dead = True
        with contextlib.suppress(OSError):
            self.server.shutdown(2)  # wakes the accept() blocked in the other thread (close alone would not)
        self.server.close()
        self.path.unlink(missing_ok=True)
        for link in self.links:
            with contextlib.suppress(OSError):
                link.shutdown(2)


def _socket_of(engine) -> str:
    url = engine.endpoint if engine.name == "podman" else os.environ.get("DOCKER_HOST", "unix:///var/run/docker.sock")
    return url.removeprefix("unix://")


def test_the_engine_going_away_mid_run_is_a_clean_error(workspace: Path, engine, tmp_path: Path):
    good = workspace / "build" / "digits" / "xc7z020clg400-1" / "csim" / "result.json"
    if not good.is_file():
        assert run_cli("csim", "--flow", "flows/digits.toml", cwd=workspace).exit_code == 0
    before = good.read_bytes()
    proxy = SocketProxy(_socket_of(engine), tmp_path / "engine.sock")
    variable = "CONTAINER_HOST" if engine.name == "podman" else "DOCKER_HOST"
    env = {variable: f"unix://{tmp_path / 'engine.sock'}", "HLSBOX_ENGINE": engine.name}
    proc = start_cli("csim", "--flow", "flows/digits.toml", "--force", cwd=workspace, env=env)
    try:
        for line in proc.stdout:
            if "compiling" in line or "predicting" in line:
                break
        proxy.kill()
        output = proc.communicate(timeout=60)[0]
    finally:
        for root in session_roots():  # the daemon itself lives on here: clear what ran
            engine.remove_containers("org.hlsbox.step=csim", under=root)
    assert proc.returncode == 1, output
    flat = " ".join(output.split())
    assert "Traceback" not in output and "Lost the connection to" in flat, output
    run_dir = workspace / "build" / "digits" / "xc7z020clg400-1"
    assert not list(run_dir.glob(".csim.tmp-*")) and (run_dir / "csim.failed").is_dir()
    assert good.read_bytes() == before  # the last good result is untouched


def test_no_permission_on_the_engine_socket_is_bad_input(engine, tmp_path: Path):
    """hlsbox as a user who may not use the engine's socket (the kernel refuses, not a mock): exit 2, the fix."""
    from hlsbox.cli import app as cli
    from hlsbox.runtime import engines

    if engine.name != "docker":
        pytest.skip("the Podman service socket here is this test session's own (root only by its directory)")
    err = tmp_path / "stderr.txt"
    pid = os.fork()
    if pid == 0:  # the child: everything is imported; only the socket is reached as another user
        code = 99
        try:
            sys.stderr = err.open("w", buffering=1)  # rich writes to sys.stderr (pytest's capture in the parent)
            os.setgroups([])
            os.setgid(65534)
            os.setuid(65534)
            engines._chosen.clear()
            os.environ["HLSBOX_ENGINE"] = "docker"
            try:
                code = int(cli.app(["clean"], standalone_mode=False) or 0)  # click returns the exit code
            except SystemExit as exit_:
                code = int(exit_.code or 0)
            except Exception as exc:  # click's Exit carries the code
                code = int(getattr(exc, "exit_code", 98))
        finally:
            sys.stderr.flush()
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    text = " ".join(err.read_text().split())
    assert os.WEXITSTATUS(status) == 2, text
    assert "No permission to use the Docker socket" in text and "group" in text and "Traceback" not in text
