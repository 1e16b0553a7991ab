"""Inputs for training and C simulation: scikit-learn's bundled digits, CIFAR-10 from a local copy, a folder
of labelled images, or random inputs. Shared by the model scripts in models/ and the csim step, so both use one
split."""

from __future__ import annotations

import pickle
import tarfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from hlsbox.core import imagefolder
from hlsbox.core.contract import ImageInputs
from hlsbox.steps.protocol import StepInputError


def digits_split() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """8x8 grey digits (1,797 real images, shipped inside scikit-learn), scaled to [0, 1]:
    a fixed, stratified 75/25 split -> x_train, y_train, x_test, y_test."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    digits = load_digits()
    x = (digits.images / 16.0).astype(np.float32)[..., np.newaxis]
    x_train, x_test, y_train, y_test = train_test_split(
        x, digits.target, test_size=0.25, random_state=0, stratify=digits.target
    )
    return x_train, y_train, x_test, y_test


def cifar10_test(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """The CIFAR-10 test batch from a local `cifar-10-batches-py` directory or its .tar.gz, in [0, 1]."""
    batch = _cifar_batch(path, "test_batch")
    x = batch[b"data"].reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1).astype(np.float32) / 255.0
    return x, np.asarray(batch[b"labels"])


def cifar10_train(path: Path) -> tuple[np.ndarray, np.ndarray]:
    xs, ys = [], []
    for i in range(1, 6):
        batch = _cifar_batch(path, f"data_batch_{i}")
        xs.append(batch[b"data"].reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1).astype(np.float32) / 255.0)
        ys.append(np.asarray(batch[b"labels"]))
    return np.concatenate(xs), np.concatenate(ys)


def _cifar_batch(path: Path, name: str) -> dict:
    try:
        if path.is_dir():
            with open(path / name, "rb") as f:
                return pickle.load(f, encoding="bytes")
        with tarfile.open(path) as tar:
            member = tar.extractfile(f"cifar-10-batches-py/{name}")
            if member is None:
                raise KeyError(name)
            return pickle.load(member, encoding="bytes")
    except ModuleNotFoundError as exc:  # a batch re-pickled by numpy 2 names numpy._core, which numpy 1 lacks
        raise StepInputError(
            f"Cannot read CIFAR-10 batch '{name}' from {path}: it was pickled with numpy arrays by a newer numpy "
            f"(it needs the module {exc.name}, which the image's numpy {np.__version__} does not have).",
            "Use the original python version of CIFAR-10 (cifar-10-python.tar.gz, plain lists and bytes), or "
            "re-save the batch with numpy < 2, or export the images as a folder of class subfolders and use "
            'dataset = "images".',
        ) from exc
    except (OSError, KeyError, EOFError, tarfile.TarError, pickle.UnpicklingError) as exc:
        raise StepInputError(
            f"Cannot read CIFAR-10 batch '{name}' from {path} ({exc}).",
            "Point at the python version of CIFAR-10: a cifar-10-batches-py directory or cifar-10-python.tar.gz.",
        ) from exc


def has_cifar10_train(path: Path) -> bool:
    """Whether a local CIFAR-10 has its training batches (a test batch alone is one set: fit splits it)."""
    if path.is_dir():
        return (path / "data_batch_1").is_file()
    try:
        with tarfile.open(path) as tar:
            return "cifar-10-batches-py/data_batch_1" in tar.getnames()
    except (OSError, tarfile.TarError):
        return False


MODES = {1: "L", 3: "RGB"}  # input channels -> the PIL mode images are converted to


@dataclass(frozen=True)
class ImageSet:
    """A folder of labelled images as the model's inputs (float32 pixels / scale), and how they were made so."""

    x: np.ndarray
    labels: np.ndarray
    inputs: ImageInputs


def image_folder(
    path: Path, input_shape: tuple[int, ...], scale: float, resize: str = imagefolder.NO_RESIZE
) -> ImageSet:
    """Labelled images in class subfolders (torchvision's ImageFolder layout: the classes sorted by name, a
    class's label its index), made the model's input height and width as csim.resize says (core.imagefolder),
    as float32 pixels / scale."""
    try:
        files = imagefolder.image_files(path)
        channels, target = input_shape[-1], tuple(input_shape[:2])
        if len(input_shape) != 3 or channels not in MODES:
            raise StepInputError(
                f"The model takes inputs of shape {input_shape}; images give height x width x 1 (grey) or 3 (RGB).",
                'Use dataset = "images" only with a model of grey or RGB image inputs.',
            )
        images = [_read_image(file, MODES[channels]) for file, _ in files]
        size = imagefolder.one_size(path, _sizes(images, files))
        imagefolder.check_fit(size, target, resize, path)
    except imagefolder.ImageFolderError as exc:
        raise StepInputError(exc.message, exc.hint) from None
    pixels = np.stack([_fit(image, target, resize) for image in images]).astype(np.float32)
    x = pixels.reshape(len(files), *target, channels) / np.float32(scale)
    labels = np.array([label for _, label in files])
    classes = tuple(imagefolder.class_names(files))
    return ImageSet(x.astype(np.float32), labels, ImageInputs(len(files), classes, size, target, resize, scale))


def _sizes(images: list, files: list[tuple[Path, int]]) -> dict[imagefolder.Size, list[Path]]:
    sizes: dict[imagefolder.Size, list[Path]] = {}
    for image, (file, _) in zip(images, files, strict=True):
        sizes.setdefault((image.height, image.width), []).append(file)
    return sizes


def _fit(image, target: imagefolder.Size, resize: str) -> np.ndarray:
    """One image (PIL, 8-bit) as the model's input size: as it is, its centre, or PIL's resize with a filter."""
    if resize in imagefolder.FILTERS:
        from PIL import Image

        filter_ = Image.Resampling[resize.upper()]
        image = image.resize((target[1], target[0]), resample=filter_)  # PIL sizes are width, height
    pixels = np.asarray(image, dtype=np.float32)
    if resize == imagefolder.CENTER_CROP:
        top, left, bottom, right = imagefolder.crop_box(pixels.shape[:2], target)
        pixels = pixels[top:bottom, left:right]
    return pixels


def _read_image(file: Path, mode: str):
    from PIL import Image

    try:
        with Image.open(file) as image:
            return image.convert(mode)
    except (OSError, ValueError, SyntaxError) as exc:  # PIL: unidentified, truncated or corrupt files
        raise StepInputError(
            f"Image '{file}' cannot be read: {exc}.",
            "Replace or remove it: every file of the class folders must be a complete PNG or JPEG image.",
        ) from exc


def stratified(labels: np.ndarray, n: int, seed: int) -> np.ndarray:
    """The indices of n samples drawn class by class in turn (a stratified subset; all when n >= len)."""
    rank, position = _rank_in_class(labels, seed)
    return np.sort(np.lexsort((position, rank))[:n])


def halves(labels: np.ndarray, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """A stratified 50/50 split of one set: the indices of each half (every class split evenly)."""
    rank, _ = _rank_in_class(labels, seed)
    return np.flatnonzero(rank % 2 == 0), np.flatnonzero(rank % 2 == 1)


def _rank_in_class(labels: np.ndarray, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Per sample, (its position in its class, its position overall) in one seeded shuffle."""
    order = np.random.default_rng(seed).permutation(len(labels))
    position = np.empty(len(labels), dtype=int)
    position[order] = np.arange(len(labels))
    rank = np.empty(len(labels), dtype=int)
    for label in np.unique(labels):
        members = order[labels[order] == label]
        rank[members] = np.arange(len(members))
    return rank, position


def random_inputs(shape: tuple[int, ...], samples: int, seed: int) -> np.ndarray:
    """Uniform inputs in [0, 1), the range of normalised images."""
    return np.random.default_rng(seed).random((samples, *shape), dtype=np.float32)


def synthetic_cifar(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """The seed model's stand-in for CIFAR-10 (models/mini_resnet.py trains on it without a local CIFAR-10): 10
    fixed random 32x32x3 class templates (seed 2015) blended with noise drawn from `seed`. Training uses seeds
    0 and 1; seeds from 1000 on are never trained on (the held-out split of csim and fit)."""
    templates = np.random.default_rng(2015).random((10, 32, 32, 3), dtype=np.float32)
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 10, n)
    images = np.clip(0.6 * templates[labels] + 0.4 * rng.random((n, 32, 32, 3), dtype=np.float32), 0, 1)
    return images.astype(np.float32), labels


HELD_OUT_SEED = 1000


def jets(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """A stand-in for the hls4ml jet-tagging data (16 high-level features, 5 classes: g, q, W, Z, t): each class a
    fixed Gaussian cloud (means and correlations from seed 16) in standardised feature space, samples drawn
    from `seed`. Training uses seeds below 1000; from 1000 on, held out."""
    shape_rng = np.random.default_rng(16)
    means = shape_rng.normal(0.0, 0.45, (5, 16)).astype(np.float32)
    mixes = shape_rng.normal(0.0, 0.5, (5, 16, 16)).astype(np.float32) + np.eye(16, dtype=np.float32)
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 5, n)
    noise = rng.normal(0.0, 1.0, (n, 16)).astype(np.float32)
    x = means[labels] + np.einsum("nij,nj->ni", mixes[labels], noise)
    return x.astype(np.float32), labels
