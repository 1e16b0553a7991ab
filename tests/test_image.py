import re
import shutil
import tarfile
from pathlib import Path

import pytest

from hlsbox import image
from tests.conftest import REPO


@pytest.fixture
def docker_copy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    copy = tmp_path / "docker"
    shutil.copytree(REPO / "docker", copy)
    monkeypatch.setenv("HLSBOX_DOCKER_DIR", str(copy))
    return copy


def test_tag_follows_the_build_inputs(docker_copy: Path):
    before = image.image_tag()
    assert re.fullmatch(r"hlsbox:[0-9a-f]{12}", before)
    assert image.image_tag() == before  # stable
    (docker_copy / "README.txt").write_text("not a build input")
    assert image.image_tag() == before
    with (docker_copy / "requirements.lock").open("a") as f:
        f.write("\n# changed\n")
    assert image.image_tag() != before


def test_build_context_carries_the_ca_bundle_only_as_a_file(docker_copy: Path, tmp_path: Path):
    with tarfile.open(fileobj=image.build_context(docker_copy, None)) as tar:
        assert sorted(tar.getnames()) == sorted([*image.BUILD_FILES, "extra-ca.pem"])
        assert tar.extractfile("extra-ca.pem").read() == b""
    ca = tmp_path / "ca.pem"
    ca.write_text("-----BEGIN CERTIFICATE-----\nX\n-----END CERTIFICATE-----\n")
    with tarfile.open(fileobj=image.build_context(docker_copy, ca)) as tar:
        assert tar.extractfile("extra-ca.pem").read() == ca.read_bytes()


def test_the_final_stage_never_sees_the_ca_bundle_or_index_url():
    dockerfile = (REPO / "docker" / "Dockerfile").read_text()
    stages = re.split(r"^FROM ", dockerfile, flags=re.M)
    final = stages[-1]
    assert "extra-ca.pem" in stages[-2] and "PIP_INDEX_URL" in stages[-2]
    assert "extra-ca.pem" not in final and "PIP_INDEX_URL" not in final and "PIP_CERT" not in final
    assert "COPY --from=builder /opt/venv /opt/venv" in final


def test_the_lock_pins_the_toolchain_with_hashes():
    lock = (REPO / "docker" / "requirements.lock").read_text()
    for pin in ("tensorflow-cpu==2.15.0", "numpy==1.25.0", "hls4ml==1.3.0", "keras==2.15.0"):
        assert pin in lock
    packages = re.findall(r"^([a-z0-9_.-]+)==\S+ \\\n\s+--hash=sha256:", lock, flags=re.M)
    assert len(packages) == len(re.findall(r"^[a-z0-9_.-]+==", lock, flags=re.M)) > 40
