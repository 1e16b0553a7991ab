"""Which toolchain reads a model file, decided on the host from the file itself (no TensorFlow, h5py or onnx).

The .h5 files in tests/data/toolchains/ were written in the keras2 image by make_h5.py there (real HDF5 files
from h5py and tf.keras 2.15); the .keras files are written here as Keras writes them (a zip with metadata.json).
"""

import json
import zipfile
from pathlib import Path

import pytest

from hlsbox.core.errors import BadInput
from hlsbox.runtime import toolchains
from hlsbox.runtime.modelfiles import origin_of
from tests.conftest import REPO, assert_clean_error, run_cli, write_flow

DATA = Path(__file__).parent.parent / "data" / "toolchains"
SEED_MODEL = (
    next(
        (
            p
            for p in (REPO.parent / "shared", Path("/work/shared"))
            if (p / "seed" / "author" / "model_2_15.keras").is_file()
        ),
        REPO.parent / "shared",
    )
    / "seed"
    / "author"
    / "model_2_15.keras"
)


def keras_zip(path: Path, version: str | None) -> Path:
    with zipfile.ZipFile(path, "w") as z:
        if version is not None:
            z.writestr("metadata.json", json.dumps({"keras_version": version, "date_saved": "2026-01-01@00:00:00"}))
        z.writestr("config.json", "{}")
        z.writestr("model.weights.h5", b"\x00" * 64)
    return path


def docker_with(tmp_path: Path, *names: str) -> Path:
    """A docker/ dir with the locks of the named toolchains."""
    docker = tmp_path / "docker"
    for name in names:
        directory = toolchains.build_dir(toolchains.by_name(name), docker)
        directory.mkdir(parents=True, exist_ok=True)
        (directory / "requirements.lock").write_text("")
    return docker


# ---- protobuf, as onnx writes it (field numbers of onnx.proto: ModelProto, GraphProto, NodeProto) ----


def _varint(n: int) -> bytes:
    out = b""
    while True:
        out += bytes([(n & 0x7F) | (0x80 if n > 0x7F else 0)])
        n >>= 7
        if not n:
            return out


def _field(number: int, value: bytes | int) -> bytes:
    if isinstance(value, int):
        return _varint(number << 3) + _varint(value)
    return _varint(number << 3 | 2) + _varint(len(value)) + value


def onnx_model(path: Path, ops: list[str], producer: str = "qonnx") -> Path:
    nodes = b"".join(_field(1, _field(1, b"x") + _field(2, b"y") + _field(4, op.encode())) for op in ops)
    graph = nodes + _field(2, b"g")
    opset = _field(1, b"") + _field(2, 13)
    path.write_bytes(
        _field(1, 8) + _field(2, producer.encode()) + _field(3, b"0.4") + _field(7, graph) + _field(8, opset)
    )
    return path


def test_keras_files_name_their_version(tmp_path: Path):
    assert origin_of(keras_zip(tmp_path / "a.keras", "3.10.0")).describe() == "saved by Keras 3.10.0"
    assert origin_of(keras_zip(tmp_path / "b.keras", None)).keras_version is None
    assert origin_of(DATA / "keras_2_15.h5").keras_version == "2.15.0"  # tf.keras 2.15's own h5
    assert origin_of(DATA / "keras_3_10.h5").keras_version == "3.10.0"


@pytest.mark.skipif(not SEED_MODEL.is_file(), reason="needs ../shared/seed/author/")
def test_the_seed_authors_model_is_keras_2_15(tmp_path: Path):
    assert origin_of(SEED_MODEL).describe() == "saved by Keras 2.15.0"
    assert toolchains.for_model(SEED_MODEL, None, docker_with(tmp_path, "keras2")).name == "keras2"


def test_onnx_files_by_their_nodes(tmp_path: Path):
    quantised = origin_of(onnx_model(tmp_path / "q.onnx", ["Quant", "Conv", "Quant", "BipolarQuant", "Relu"]))
    assert (quantised.format, quantised.quant_ops) == ("qonnx", {"Quant": 2, "BipolarQuant": 1})
    assert "QONNX" in quantised.describe() and "qonnx 0.4" in quantised.describe()
    plain = origin_of(onnx_model(tmp_path / "p.onnx", ["Conv", "Relu", "Gemm"], producer="pytorch"))
    assert plain.format == "onnx" and "plain ONNX" in plain.describe()


def test_the_model_picks_its_toolchain(tmp_path: Path):
    docker = docker_with(tmp_path, "keras2", "keras3", "qonnx")
    assert toolchains.for_model(keras_zip(tmp_path / "a.keras", "2.15.0"), None, docker).name == "keras2"
    assert toolchains.for_model(keras_zip(tmp_path / "b.keras", "3.10.0"), None, docker).name == "keras3"
    assert toolchains.for_model(DATA / "keras_3_10.h5", None, docker).name == "keras3"
    assert toolchains.for_model(onnx_model(tmp_path / "q.onnx", ["Quant"]), None, docker).name == "qonnx"
    assert toolchains.for_model(onnx_model(tmp_path / "p.onnx", ["Conv"]), None, docker).name == "qonnx"
    assert toolchains.for_model(keras_zip(tmp_path / "c.keras", "3.8.0"), "keras3", docker).name == "keras3"


def test_a_model_no_toolchain_here_reads_names_its_origin(tmp_path: Path):
    keras3 = keras_zip(tmp_path / "cifar.keras", "3.10.0")
    with pytest.raises(BadInput, match=r"saved by Keras 3\.10\.0: the keras3 toolchain reads it") as caught:
        toolchains.for_model(keras3, None, docker_with(tmp_path, "keras2"))
    assert "keras3/requirements.lock" in caught.value.message
    with pytest.raises(BadInput, match=r"saved by Keras 1\.2\.2, which none of hlsbox's toolchains reads"):
        toolchains.for_model(keras_zip(tmp_path / "old.keras", "1.2.2"), None, docker_with(tmp_path, "keras2"))


def test_a_pin_that_does_not_read_the_model_says_which_would(tmp_path: Path):
    docker = docker_with(tmp_path, "keras2", "keras3", "qonnx")
    with pytest.raises(BadInput, match=r"pins toolchain 'keras2'.*saved by Keras 3\.10\.0") as caught:
        toolchains.for_model(keras_zip(tmp_path / "m.keras", "3.10.0"), "keras2", docker)
    assert "toolchain = 'keras3'" in caught.value.hint
    with pytest.raises(BadInput, match="not a toolchain"):
        toolchains.for_model(keras_zip(tmp_path / "n.keras", "2.15.0"), "keras4", docker)


def test_files_that_are_no_model_are_named(tmp_path: Path):
    docker = docker_with(tmp_path, "keras2", "qonnx")
    with pytest.raises(BadInput, match="without a keras_version attribute"):
        toolchains.for_model(DATA / "plain.h5", None, docker)
    truncated = tmp_path / "t.onnx"
    truncated.write_bytes(onnx_model(tmp_path / "full.onnx", ["Quant", "Conv"]).read_bytes()[:-9])
    with pytest.raises(BadInput, match="truncated"):
        toolchains.for_model(truncated, None, docker)


def test_the_cli_names_a_keras_3_model_before_any_container(tmp_path: Path):
    """Through the real CLI, with a checkout whose docker/ has the keras2 toolchain only."""
    (tmp_path / "models").mkdir()
    keras_zip(tmp_path / "models" / "m.keras", "3.10.0")
    docker = tmp_path / "docker"
    docker.mkdir()
    for name in ("Dockerfile", "requirements.lock", "hlsbox-entry"):
        (docker / name).write_bytes((REPO / "docker" / name).read_bytes())
    result = run_cli("plan", "--flow", str(write_flow(tmp_path)), cwd=tmp_path, env={"HLSBOX_DOCKER_DIR": str(docker)})
    assert_clean_error(result, 2, "saved by Keras 3.10.0", "the keras3 toolchain reads it", "keras3/requirements.lock")


def test_each_toolchain_has_its_own_tag_and_lock(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    import shutil
    import tarfile

    from hlsbox.runtime import image

    docker = tmp_path / "docker"
    shutil.copytree(REPO / "docker", docker)
    monkeypatch.setenv("HLSBOX_DOCKER_DIR", str(docker))
    keras2, keras3, qonnx = (toolchains.by_name(n) for n in ("keras2", "keras3", "qonnx"))
    tags = {t.name: image.tag_for("sha256:base", toolchain=t) for t in (keras2, keras3, qonnx)}
    assert tags["keras2"] == image.tag_for("sha256:base")  # keras2's tag is computed as it always was
    assert tags["keras3"].startswith("hlsbox:keras3-") and tags["qonnx"].startswith("hlsbox:qonnx-")
    with (docker / "keras3" / "requirements.lock").open("a") as f:
        f.write("\n# changed\n")
    assert image.tag_for("sha256:base", toolchain=keras3) != tags["keras3"]
    assert image.tag_for("sha256:base", toolchain=qonnx) == tags["qonnx"]  # another toolchain's lock: no rebuild
    assert image.tag_for("sha256:base") == tags["keras2"]
    with tarfile.open(fileobj=image.build_context(docker, None, qonnx)) as tar:
        lock = tar.extractfile("requirements.lock").read()
    assert lock == (docker / "qonnx" / "requirements.lock").read_bytes()


def test_every_toolchain_pins_the_same_hls4ml():
    import re

    pins = set()
    for toolchain in toolchains.TOOLCHAINS:
        lock = (toolchains.build_dir(toolchain, REPO / "docker") / "requirements.lock").read_text()
        pins.add(re.search(r"^hls4ml==(\S+)", lock, re.M).group(1))
    assert len(pins) == 1, pins


def test_a_graph_from_inside_finns_build_is_refused_with_what_would_work(tmp_path: Path):
    """After FINN's streamlining a graph has MultiThreshold nodes (and later FINN's hardware layers, of a finn.*
    domain) in place of its Quant nodes: hls4ml reads none of them, so the file is refused before any container,
    naming what it is and which file to give instead (before: 'Unsupported operation type: MultiThreshold')."""
    streamlined = onnx_model(tmp_path / "s.onnx", ["MultiThreshold", "Conv", "MultiThreshold", "MatMul"])
    assert origin_of(streamlined).finn_ops == {"MultiThreshold": 2}
    with pytest.raises(BadInput, match=r"a graph from inside FINN's build \(MultiThreshold x2\)") as caught:
        toolchains.for_model(streamlined, None, docker_with(tmp_path, "qonnx"))
    assert "QONNX export from before FINN's steps" in caught.value.hint
    quantised = onnx_model(tmp_path / "q.onnx", ["Quant", "Conv", "Quant"])
    assert origin_of(quantised).finn_ops == {}  # a QONNX export is read as before


FRONTENDS = REPO / "tools" / "hlsbox" / "steps" / "frontends"


def _frontend_classes(module: Path) -> dict[str, list[str]]:
    """The classes a module defines -> their bases' names, and what FRONTEND is made of (read, not imported: the
    frontends import their libraries, which only the images have)."""
    import ast

    tree = ast.parse(module.read_text())
    classes = {
        node.name: [ast.unparse(base) for base in node.bases] for node in tree.body if isinstance(node, ast.ClassDef)
    }
    made = [
        ast.unparse(node.value.func)
        for node in tree.body
        if isinstance(node, ast.Assign)
        and any(isinstance(t, ast.Name) and t.id == "FRONTEND" for t in node.targets)
        and isinstance(node.value, ast.Call)
    ]
    return {**classes, "FRONTEND": made}


@pytest.mark.parametrize("toolchain", toolchains.NAMES)
def test_every_toolchain_has_its_frontend_in_the_image(toolchain: str):
    """A toolchain is its docker folder, its host table entry and its frontend module: steps/frontends/<name>.py,
    whose FRONTEND is a Frontend (through the shared Keras one or directly) named as the toolchain."""
    module = FRONTENDS / f"{toolchain}.py"
    assert module.is_file(), f"no frontend for the {toolchain} toolchain: {module}"
    classes = _frontend_classes(module)
    assert len(classes["FRONTEND"]) == 1, classes
    made = classes["FRONTEND"][0]
    assert {"Frontend", "KerasFrontend"} & set(classes.get(made, [])), (made, classes)
    assert f'name = "{toolchain}"' in module.read_text()
    docker = REPO / "docker" / toolchains.by_name(toolchain).subdir
    assert (docker / "requirements.lock").is_file() and (docker / "requirements.in").is_file()


def test_no_step_asks_which_toolchain_it_runs_in():
    """Only the frontends (and their package's picker) read HLSBOX_TOOLCHAIN: the rest of the step code calls a
    frontend's methods."""
    steps = REPO / "tools" / "hlsbox" / "steps"
    asking = [
        str(path.relative_to(steps))
        for path in steps.rglob("*.py")
        if FRONTENDS not in path.parents and ("HLSBOX_TOOLCHAIN" in path.read_text() or "is_onnx" in path.read_text())
    ]
    assert not asking, asking
