"""The host's view of a folder of images (core.imagefolder): sizes from PNG headers, one size per folder, how
csim.resize fits a size to the model's input, and the CLI refusing a bad folder before any container."""

from __future__ import annotations

import struct
import zipfile
import zlib
from pathlib import Path

import pytest

from hlsbox.core import imagefolder
from hlsbox.core.imagefolder import ImageFolderError
from tests.conftest import assert_clean_error, run_cli, write_flow
from tests.shared import seed_author


def write_png(path: Path, height: int, width: int, value: int = 0) -> Path:
    """A real 8-bit grey PNG (zlib, CRCs), written without PIL: the host has none."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    rows = b"".join(b"\x00" + bytes([value]) * width for _ in range(height))  # filter 0, then the row
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b"")
    )
    return path


def test_png_sizes_are_height_then_width(tmp_path: Path):
    assert imagefolder.header_size(write_png(tmp_path / "a.png", 12, 20)) == (12, 20)
    (tmp_path / "b.png").write_bytes(b"not an image")
    assert imagefolder.header_size(tmp_path / "b.png") is None  # the image side names an unreadable file


def test_the_authors_cifar_images_are_32x32():
    folder = seed_author("sample_images")
    assert imagefolder.check_folder(folder) == (32, 32)
    assert len(imagefolder.image_files(folder)) == 100


def test_images_of_several_sizes_are_refused_naming_the_sizes(tmp_path: Path):
    write_png(tmp_path / "cat" / "a.png", 32, 32)
    write_png(tmp_path / "dog" / "b.png", 28, 30)
    with pytest.raises(ImageFolderError) as info:
        imagefolder.check_folder(tmp_path)
    assert "1 of 32x32 (e.g. a.png), 1 of 28x30 (e.g. b.png)" in info.value.message
    assert "csim.resize" in info.value.hint


def test_the_centre_crop_box():
    assert imagefolder.crop_box((32, 32), (28, 28)) == (2, 2, 30, 30)
    assert imagefolder.crop_box((33, 30), (28, 28)) == (2, 1, 30, 29)  # an odd margin's extra row goes below


def test_what_each_mode_accepts_and_the_key_it_names(tmp_path: Path):
    for mode in ("center_crop", "bilinear", "lanczos"):
        imagefolder.check_fit((32, 32), (28, 28), mode, tmp_path)
    imagefolder.check_fit((28, 28), (28, 28), "none", tmp_path)
    imagefolder.check_fit((20, 24), (28, 28), "bicubic", tmp_path)
    with pytest.raises(ImageFolderError) as none:
        imagefolder.check_fit((32, 32), (28, 28), "none", tmp_path)
    assert "The model takes 28x28 images" in none.value.message and "are 32x32" in none.value.message
    assert 'resize = "center_crop" (the center 28x28' in none.value.hint
    with pytest.raises(ImageFolderError) as small:
        imagefolder.check_fit((24, 32), (28, 28), "none", tmp_path)
    assert (
        "center_crop" not in small.value.hint and 'resize = "bilinear"' in small.value.hint
    )  # a crop cannot grow them
    with pytest.raises(ImageFolderError) as crop:
        imagefolder.check_fit((24, 32), (28, 28), "center_crop", tmp_path)
    assert "a center crop" in crop.value.message and "cannot make them larger" in crop.value.message
    with pytest.raises(ImageFolderError, match=r"csim\.resize is 'crop', not a way"):
        imagefolder.check_fit((32, 32), (28, 28), "crop", tmp_path)
    assert imagefolder.describe((32, 32), (28, 28), "center_crop") == "32x32 center-cropped to 28x28"
    assert imagefolder.describe((32, 32), (28, 28), "bilinear") == "32x32 resized to 28x28 (PIL bilinear)"


@pytest.fixture
def ws(tmp_path: Path) -> Path:
    (tmp_path / "models").mkdir()
    with zipfile.ZipFile(tmp_path / "models" / "m.keras", "w") as z:
        z.writestr("config.json", "{}")
    return tmp_path


IMAGES = {"dataset": "images", "images": "data/imgs", "scale": 255, "resize": "center_crop"}


@pytest.mark.parametrize("step", ["csim", "sweep"])
def test_the_cli_refuses_mixed_sizes_before_any_container(ws: Path, step: str):
    """Exit 2, one message naming the sizes and the key, no traceback, no run directory."""
    write_png(ws / "data" / "imgs" / "cat" / "a.png", 32, 32)
    write_png(ws / "data" / "imgs" / "dog" / "b.png", 36, 36)
    flow = write_flow(ws, csim=IMAGES)
    extra = ("--grid", "reuse_factor=1,2") if step == "sweep" else ()
    result = run_cli(step, "--flow", str(flow), *extra, cwd=ws, env={"DOCKER_HOST": f"unix://{ws}/no-docker.sock"})
    assert_clean_error(result, 2, "differ in size (1 of 32x32 (e.g. a.png), 1 of 36x36 (e.g. b.png))", "csim.resize")
    left = [p.relative_to(ws).as_posix() for p in (ws / "build").rglob("*")] if (ws / "build").exists() else []
    assert left in ([], ["build/.ccache"]), left  # csim's shared compiler cache (made first) is no run dir


def test_the_cli_refuses_a_missing_images_folder_before_any_container(ws: Path):
    flow = write_flow(ws, csim=IMAGES)
    result = run_cli("csim", "--flow", str(flow), cwd=ws, env={"DOCKER_HOST": f"unix://{ws}/no-docker.sock"})
    assert_clean_error(result, 2, "images folder", "does not exist", "csim.images")
