from pathlib import Path

from hlsbox.container import Limits, Mount, container_options
from hlsbox.engine import LABEL


def test_a_step_container_is_hardened_and_limited():
    limits = Limits(memory=2 << 30, cpus=1.5, pids=256, timeout=60)
    opts = container_options(
        "img",
        ["true"],
        [Mount(Path("/ws"), Path("/ws")), Mount(Path("/run"), Path("/run"), False)],
        limits,
        user="1000:1000",
    )
    assert opts["user"] == "1000:1000"
    assert opts["mem_limit"] == opts["memswap_limit"] == 2 << 30  # no swap: a real OOM kill at the limit
    assert opts["nano_cpus"] == 1_500_000_000 and opts["pids_limit"] == 256
    assert opts["network_mode"] == "none"
    assert opts["cap_drop"] == ["ALL"] and "no-new-privileges" in opts["security_opt"]
    assert opts["read_only"] is True and "/tmp" in opts["tmpfs"]
    assert opts["init"] is True
    assert opts["volumes"] == {"/ws": {"bind": "/ws", "mode": "ro"}, "/run": {"bind": "/run", "mode": "rw"}}
    assert opts["labels"][LABEL] == "step"
    assert not any("docker.sock" in host for host in opts["volumes"])


def test_network_only_on_request():
    assert container_options("i", [], [], Limits(network=True))["network_mode"] == "bridge"
