"""Inputs for training and C simulation: scikit-learn's bundled digits, CIFAR-10 from a local copy,
or random inputs. Shared by the model scripts in models/ and the csim step, so both use one split."""

from __future__ import annotations

import pickle
import tarfile
from pathlib import Path

import numpy as np

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
    except (OSError, KeyError, tarfile.TarError, pickle.UnpicklingError) as exc:
        raise StepInputError(
            f"Cannot read CIFAR-10 batch '{name}' from {path} ({exc}).",
            "Point at the python version of CIFAR-10: a cifar-10-batches-py directory or cifar-10-python.tar.gz.",
        ) from exc


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
