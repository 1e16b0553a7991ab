"""Shared fixtures. Integration tests (marked `integration`) use the real Docker engine and the
real image; they fail under CI (CI=true) when either is missing, and are skipped elsewhere."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def pytest_configure(config: pytest.Config) -> None:
    """Give the commands under test a terminal's Ctrl-C. A shell that starts the suite in the background
    (`bash .ci/run &`, nohup) ignores SIGINT for it, an ignored signal stays ignored through exec, and every
    signal test would then see its Ctrl-C do nothing. A caught signal resets to default on exec, so catching it
    here gives each child the default disposition."""
    if signal.getsignal(signal.SIGINT) == signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)


@dataclass
class CliResult:
    exit_code: int
    stdout: str
    stderr: str

    @property
    def output(self) -> str:
        return self.stdout + self.stderr


def run_cli(*args: str, cwd: Path = REPO, env: dict[str, str] | None = None, timeout: float = 900) -> CliResult:
    """The real `hlsbox` command in a subprocess: real exit codes, real signals, real output."""
    full_env = {**os.environ, "COLUMNS": "200", **(env or {})}
    proc = subprocess.run(
        [sys.executable, "-m", "hlsbox", *args], cwd=cwd, env=full_env, capture_output=True, text=True, timeout=timeout
    )
    return CliResult(proc.returncode, proc.stdout, proc.stderr)


def start_cli(*args: str, cwd: Path = REPO, env: dict[str, str] | None = None) -> subprocess.Popen:
    """The real `hlsbox` command started in the background (to signal or race it): its output and errors in one
    pipe, `stdout`, read by the caller with a bound (`communicate(timeout=…)`)."""
    return subprocess.Popen(
        [sys.executable, "-m", "hlsbox", *args],
        cwd=cwd,
        env={**os.environ, "COLUMNS": "200", **(env or {})},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def assert_clean_error(result: CliResult, exit_code: int, *phrases: str) -> None:
    assert result.exit_code == exit_code, result.output
    assert "Traceback" not in result.output, result.output
    flat = " ".join(result.output.split())
    for phrase in phrases:
        assert phrase in flat, f"{phrase!r} not in: {flat}"


def write_flow(directory: Path, name: str = "t", **fields: object) -> Path:
    """A flow file from keyword fields (tables as dicts)."""
    import tomli_w

    path = directory / f"{name}.toml"
    path.write_text(tomli_w.dumps({"name": name, "model": "models/m.keras", **fields}))
    return path


# ---------- integration: the real engine and image ----------


def make_model(workspace: Path, script: str, out: str, *script_args: str, toolchain: str = "keras2") -> Path:
    """models/<out> made by `hlsbox model models/<script>` (skipped when it exists), the script's own options after."""
    path = workspace / "models" / out
    if not path.exists():
        extra = ("--", *script_args) if script_args else ()
        chain = ("--toolchain", toolchain) if toolchain != "keras2" else ()
        result = run_cli("model", f"models/{script}", "--out", f"models/{out}", *chain, *extra, cwd=workspace)
        assert result.exit_code == 0, result.output
    return path


def _need(condition: bool, why: str) -> None:
    if not condition:
        (pytest.fail if os.environ.get("CI") else pytest.skip)(why)


@pytest.fixture(scope="session")
def engine():
    """The engine the product selects (HLSBOX_ENGINE=docker|podman picks one), with the image built."""
    from hlsbox.core.errors import HlsboxError
    from hlsbox.runtime import engines, image

    try:
        selected = engines.select()
        selected.info()
        image.find_image(selected)
    except HlsboxError as exc:
        _need(False, f"no engine or image: {exc}")
    yield selected
    left = hlsbox_containers(selected)
    for root in session_roots():
        selected.remove_containers(engines.CONTAINERS, under=root)
    assert not left, f"containers left behind by the tests: {left}"


@pytest.fixture(scope="session")
def workspace(engine, tmp_path_factory) -> Path:
    """A workspace like a user's checkout: flows/ and models/ scripts, with the digits model made."""
    root = tmp_path_factory.mktemp("ws")
    shutil.copytree(REPO / "flows", root / "flows")
    (root / "models").mkdir()
    for script in (REPO / "models").glob("*.py"):
        shutil.copy(script, root / "models")
    make_model(root, "digits_cnn.py", "digits_cnn.keras", "--epochs", "30")
    return root


@pytest.fixture(scope="session")
def seed_model(workspace: Path) -> Path:
    """The seed's Mini-ResNet, trained briefly (1 epoch on 256 synthetic images): for plan and csim."""
    return make_model(workspace, "mini_resnet.py", "model_2_15.keras", "--epochs", "1", "--samples", "256")


_SESSION: dict[str, Path] = {}


@pytest.fixture(scope="session", autouse=True)
def _session_root(tmp_path_factory) -> None:
    _SESSION["root"] = tmp_path_factory.getbasetemp()


def session_roots() -> list[Path]:
    """Where this test session's containers work (their org.hlsbox.workdir label): its temporary folders and the
    repository. Containers of another session on the same engine (a second checkout's tests) are not ours."""
    return [root for root in (_SESSION.get("root"), REPO) if root is not None]


def hlsbox_containers(engine, running: bool = False) -> list[str]:
    """This session's hlsbox containers."""
    from hlsbox.runtime.engines import CONTAINERS

    return [cid for root in session_roots() for cid in engine.containers(CONTAINERS, running=running, under=root)]


def wait_for_running_container(engine, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not hlsbox_containers(engine, running=True):
        assert time.monotonic() < deadline, "the step's container never started"
        time.sleep(0.2)


@pytest.fixture(scope="session")
def slurm_cluster() -> None:
    """A real one-node Slurm cluster on this machine (tests/slurm/cluster.sh), started once."""
    _need(
        shutil.which("slurmctld") is not None and shutil.which("munged") is not None,
        "Slurm is not installed (apt-get install slurm-wlm munge; .ci/run does)",
    )
    _need(os.geteuid() == 0, "the test cluster runs its daemons as root")
    subprocess.run(["bash", str(REPO / "tests" / "slurm" / "cluster.sh"), "start"], check=True, timeout=180)


def run_in_image(engine, workspace: Path, script: str, timeout: float = 600, args: tuple[str, ...] = ()) -> list[str]:
    """A Python script in the real image (TF, hls4ml, hlsbox's step code), in the workspace; its output lines.
    Fails the test when the script fails."""
    from hlsbox.runtime import image
    from hlsbox.runtime.engines import ContainerSpec, Limits, Mount, Watch
    from hlsbox.runtime.runner import PACKAGE_DIR, PACKAGE_MOUNT

    (workspace / ".probe.py").write_text(script)
    lines: list[str] = []
    spec = ContainerSpec(
        image.find_image(engine).id,
        ("python", str(workspace / ".probe.py"), *args),
        Limits(memory=6 << 30, cpus=2, timeout=timeout),
        mounts=(Mount(workspace, workspace, read_only=False), Mount(PACKAGE_DIR, PACKAGE_MOUNT)),
        env={"PYTHONPATH": str(PACKAGE_MOUNT.parent)},
        workdir=workspace,
        labels={"org.hlsbox.step": "test-probe"},
    )
    try:
        outcome = engine.run(spec, Watch(on_line=lines.append))
    finally:
        (workspace / ".probe.py").unlink(
            missing_ok=True
        )  # nothing left in the workspace (make estimator-data: the repo)
    assert outcome.exit_code == 0, "\n".join(lines[-30:])
    return lines


@pytest.fixture(scope="session")
def jet_model(workspace: Path) -> Path:
    """The QKeras jet tagger (models/jet_tagger_qkeras.py), trained briefly."""
    return make_model(workspace, "jet_tagger_qkeras.py", "jet_tagger_qkeras.h5", "--epochs", "8")
