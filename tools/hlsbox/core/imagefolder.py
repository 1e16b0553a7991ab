"""A folder of labelled images (torchvision's ImageFolder layout) and how its images become the model's inputs
(the flow's csim.resize), without PIL or numpy: the host checks a folder before any container with it, the image
reads the pixels (steps.datasets) with the same file list and the same geometry.

csim.resize:
- "none" (the default): the images must already be the model's input size;
- "center_crop": the centre of each image, model-sized, pixels exact (an odd margin's extra pixel is cut at the
  bottom / right);
- a PIL resampling filter ("nearest", "box", "bilinear", "hamming", "bicubic", "lanczos"): PIL's Image.resize of
  the 8-bit image to the model's height and width with that filter (the aspect ratio is not kept).
"""

from __future__ import annotations

import struct
from pathlib import Path

from hlsbox.core.contract.results import ImageInputs
from hlsbox.core.errors import BadInput

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")
NO_RESIZE = "none"
CENTER_CROP = "center_crop"
FILTERS = ("nearest", "box", "bilinear", "hamming", "bicubic", "lanczos")  # PIL's Image.Resampling, lower case
RESIZE_MODES = (NO_RESIZE, CENTER_CROP, *FILTERS)

Size = tuple[int, int]  # height, width


class ImageFolderError(BadInput):
    """The folder or its images cannot give the model's inputs (the image side re-raises it as a step's input
    error)."""


def image_files(path: Path) -> list[tuple[Path, int]]:
    """Every image with its label: the class subfolders sorted by name, a class's label its index."""
    if not path.is_dir():
        raise ImageFolderError(
            f"The flow's images folder '{path}' does not exist or is not a folder.",
            "Set csim.images to a folder with one subfolder of PNG/JPEG images per class (ImageFolder layout).",
        )
    classes = sorted(d.name for d in path.iterdir() if d.is_dir() and not d.name.startswith("."))
    files = [
        (file, label)
        for label, name in enumerate(classes)
        for file in sorted((path / name).iterdir())
        if file.suffix.lower() in IMAGE_SUFFIXES
    ]
    if not files:
        raise ImageFolderError(
            f"The images folder '{path}' has no PNG/JPEG images in class subfolders ({len(classes)} subfolders found).",
            "Put each class's images in a subfolder named after the class (ImageFolder layout: "
            "<folder>/<class>/*.png).",
        )
    return files


def class_names(files: list[tuple[Path, int]]) -> list[str]:
    return sorted({file.parent.name for file, _ in files})


def header_size(file: Path) -> Size | None:
    """A PNG's or JPEG's height and width from its header; None when the header cannot be read (the image side
    then names the file)."""
    try:
        with file.open("rb") as f:
            head = f.read(24)
            if head[:8] == b"\x89PNG\r\n\x1a\n" and head[12:16] == b"IHDR":
                width, height = struct.unpack(">II", head[16:24])
                return height, width
            if head[:2] == b"\xff\xd8":
                f.seek(2)
                return _jpeg_size(f)
    except (OSError, struct.error):
        return None
    return None


# JPEG start-of-frame markers (baseline, progressive, lossless...): not DHT (C4), JPG (C8) or DAC (CC).
_SOF = {0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF}


def _jpeg_size(f) -> Size | None:
    """The frame header's height and width: the segments after SOI are walked by their lengths."""
    while True:
        if f.read(1) != b"\xff":
            return None
        marker = f.read(1)
        while marker == b"\xff":  # fill bytes before a marker
            marker = f.read(1)
        if not marker or marker in (b"\xd9", b"\xda"):  # end of image, start of scan: no frame header before
            return None
        if 0xD0 <= marker[0] <= 0xD7 or marker == b"\x01":  # RSTn, TEM: no length
            continue
        length = struct.unpack(">H", f.read(2))[0]
        if marker[0] in _SOF:
            height, width = struct.unpack(">xHH", f.read(5))
            return height, width
        f.seek(length - 2, 1)


def folder_sizes(path: Path) -> dict[Size, list[Path]]:
    """The folder's images by size (those whose header reads)."""
    sizes: dict[Size, list[Path]] = {}
    for file, _ in image_files(path):
        size = header_size(file)
        if size is not None:
            sizes.setdefault(size, []).append(file)
    return sizes


def one_size(path: Path, sizes: dict[Size, list[Path]]) -> Size:
    """The one size of a folder's images; images of several sizes are bad input naming them."""
    if len(sizes) > 1:
        listed = ", ".join(f"{len(files)} of {text(size)} (e.g. {files[0].name})" for size, files in sizes.items())
        raise ImageFolderError(
            f"The images in '{path}' differ in size ({listed}); hlsbox makes one image size the model's input "
            "size (csim.resize), not several.",
            "Make every image of the folder one size first (e.g. crop or resize them with PIL), then set "
            f"csim.resize ({', '.join(RESIZE_MODES)}) to fit that size to the model's input.",
        )
    return next(iter(sizes))


def check_folder(path: Path) -> Size | None:
    """The host's check of the flow's images before any container: the folder, its images, one size (None when
    no header reads: the image side says which file is broken)."""
    sizes = folder_sizes(path)
    return one_size(path, sizes) if sizes else None


def text(size: Size) -> str:
    return f"{size[0]}x{size[1]}"


def crop_box(image: Size, target: Size) -> tuple[int, int, int, int]:
    """The center crop's (top, left, bottom, right) in an image: the rows top:bottom and columns left:right."""
    top, left = (image[0] - target[0]) // 2, (image[1] - target[1]) // 2
    return top, left, top + target[0], left + target[1]


def check_fit(image: Size, target: Size, resize: str, folder: Path) -> None:
    """Whether csim.resize makes images of this size the model's input size; bad input naming both and the key
    to set when not."""
    if resize not in RESIZE_MODES:
        raise ImageFolderError(
            f"csim.resize is '{resize}', not a way hlsbox knows to fit images to the model's input.",
            f"Set csim.resize to one of {', '.join(RESIZE_MODES)}.",
        )
    smaller = image[0] < target[0] or image[1] < target[1]
    if resize in FILTERS or image == target or (resize == CENTER_CROP and not smaller):
        return
    scale = f'a PIL resampling filter (resize = "bilinear", or any of {", ".join(FILTERS)})'
    if resize == NO_RESIZE:
        crop = "" if smaller else f'resize = "{CENTER_CROP}" (the center {text(target)}, pixels exact) or '
        raise ImageFolderError(
            f"The model takes {text(target)} images; the images in '{folder}' are {text(image)}, and csim.resize "
            f'is "{NO_RESIZE}" (the images as they are).',
            f"Set {crop}{scale} in the flow's [csim] section, or give images of the model's input size.",
        )
    raise ImageFolderError(
        f"The model takes {text(target)} images; the images in '{folder}' are {text(image)}: a center crop "
        f'(csim.resize = "{CENTER_CROP}") cannot make them larger.',
        f"Set {scale} in the flow's [csim] section to scale them to the model's input, or give larger images.",
    )


def describe(image: Size, target: Size, resize: str) -> str:
    """What was done to the images, e.g. '32x32 center-cropped to 28x28'."""
    if image == target or resize == NO_RESIZE:
        return text(image)
    if resize == CENTER_CROP:
        return f"{text(image)} center-cropped to {text(target)}"
    return f"{text(image)} resized to {text(target)} (PIL {resize})"


def summary(inputs: ImageInputs) -> str:
    """How a folder of images became the model's inputs, e.g. '100 in 10 classes (airplane, ...), 32x32
    center-cropped to 28x28, pixels / 255'."""
    shown = ", ".join(inputs.classes[:10]) + (", ..." if len(inputs.classes) > 10 else "")
    made = describe(tuple(inputs.size), tuple(inputs.input_size), inputs.resize)  # type: ignore[arg-type]
    return f"{inputs.images} in {len(inputs.classes)} classes ({shown}), {made}, pixels / {inputs.scale:g}"
