import re
import shutil
import tarfile
from pathlib import Path

import pytest

from hlsbox.runtime import image
from tests.conftest import REPO


@pytest.fixture
def docker_copy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    copy = tmp_path / "docker"
    shutil.copytree(REPO / "docker", copy)
    monkeypatch.setenv("HLSBOX_DOCKER_DIR", str(copy))
    return copy


def test_tag_follows_the_build_inputs_and_the_base_image(docker_copy: Path):
    before = image.tag_for("sha256:base1")
    assert re.fullmatch(r"hlsbox:[0-9a-f]{12}", before)
    assert image.tag_for("sha256:base1") == before  # stable
    assert image.tag_for("sha256:base2") != before  # a new base image makes a new image
    (docker_copy / "README.txt").write_text("not a build input")
    assert image.tag_for("sha256:base1") == before
    with (docker_copy / "requirements.lock").open("a") as f:
        f.write("\n# changed\n")
    assert image.tag_for("sha256:base1") != before


def test_a_rebuild_says_which_packages_changed(tmp_path: Path):
    first = {"debian": {"g++": "12.2", "ccache": "4.7"}, "python": {"numpy": "1.25.0"}}
    assert image.record_packages(tmp_path, "hlsbox:aaa", first) is None  # nothing to compare with yet
    second = {"debian": {"g++": "12.3", "faketime": "0.9"}, "python": {"numpy": "1.25.0"}}
    assert image.record_packages(tmp_path, "hlsbox:bbb", second) == [
        "debian: removed ccache 4.7",
        "debian: added faketime 0.9",
        "debian: g++ 12.2 -> 12.3",
    ]


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
    for pin in ("tensorflow-cpu==2.15.0", "numpy==1.25.0", "hls4ml==1.3.0", "keras==2.15.0", "qkeras==0.9.0"):
        assert pin in lock
    packages = re.findall(r"^([a-z0-9_.-]+)==\S+ \\\n\s+--hash=sha256:", lock, flags=re.M)
    assert len(packages) == len(re.findall(r"^[a-z0-9_.-]+==", lock, flags=re.M)) > 40


def test_the_lock_has_one_tensorflow():
    """HGQ asks for `tensorflow`; the image's TensorFlow is tensorflow-cpu (docker/overrides.txt drops the edge)."""
    lock = (REPO / "docker" / "requirements.lock").read_text()
    assert re.search(r"^tensorflow-cpu==", lock, flags=re.M)
    assert not re.search(r"^tensorflow==", lock, flags=re.M)
