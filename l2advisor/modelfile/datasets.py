"""Datasets for model files: the shipped MNIST subset (offline) and torchvision downloads.

The shipped subset (``l2advisor/modelfile/data/mnist_subset.npz``, see the README beside it for how it
was built and for MNIST's credit and licence) holds a class-balanced pool of 6000 MNIST training
images and 2000 MNIST test images. ``load_mnist_subset`` splits the pool into disjoint,
class-stratified train and validation sets; ``load_mnist_subset_test`` gives the test images,
meant for final reports only.

``load_torchvision`` / ``load_torchvision_test`` wrap ``torchvision.datasets`` (MNIST, CIFAR-10)
for users with a network or a directory that already holds the data. Their root defaults to
the ``L2ADVISOR_DATA`` environment variable, else ``~/.cache/l2advisor/data``. When the data
are missing and cannot be downloaded they raise a ``RuntimeError`` saying so in one sentence.

Nothing here prints.
"""

from __future__ import annotations

import contextlib
import functools
import io
import os
import socket
from collections.abc import Callable, Iterator
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset, TensorDataset

__all__ = [
    "CIFAR10_MEAN",
    "CIFAR10_STD",
    "MNIST_MEAN",
    "MNIST_STD",
    "POOL_SIZE",
    "data_root",
    "stratified_order",
    "load_digits_split",
    "load_mnist_subset",
    "load_mnist_subset_test",
    "load_package_file",
    "load_torchvision",
    "load_torchvision_test",
]

MNIST_MEAN = 0.1307
MNIST_STD = 0.3081
CIFAR10_MEAN = (0.4914, 0.4822, 0.4465)
CIFAR10_STD = (0.2470, 0.2435, 0.2616)

SUBSET_FILE = "mnist_subset.npz"
POOL_SIZE = 6000  # images in the shipped training pool (600 per class)
TEST_SIZE = 2000  # images in the shipped test set (200 per class)

ENV_ROOT = "L2ADVISOR_DATA"
DOWNLOAD_TIMEOUT_S = 60.0  # per socket operation, so a dead network fails instead of hanging


# --------------------------------------------------------------------------- shipped subset


def load_package_file(name: str) -> bytes:
    """The bytes of ``l2advisor/modelfile/data/<name>``, read through importlib.resources.

    Works from a source checkout and from an installed wheel alike.
    """
    resource = resources.files("l2advisor.modelfile").joinpath("data", name)
    if not resource.is_file():
        raise FileNotFoundError(f"l2advisor/modelfile/data/{name} is not in the installed package")
    return resource.read_bytes()


@functools.lru_cache(maxsize=1)
def _subset_arrays() -> dict[str, np.ndarray]:
    with np.load(io.BytesIO(load_package_file(SUBSET_FILE))) as npz:
        arrays = {key: npz[key] for key in npz.files}
    for array in arrays.values():
        array.setflags(write=False)  # shared by every caller through the cache
    return arrays


def _images(x: np.ndarray, flatten: bool) -> torch.Tensor:
    """uint8 (N, 28, 28) -> normalised float32 (N, 1, 28, 28), or (N, 784) when flatten."""
    images = (torch.from_numpy(x.astype(np.float32)) / 255.0 - MNIST_MEAN) / MNIST_STD
    return images.reshape(len(x), -1) if flatten else images.unsqueeze(1)


def _labels(y: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(y.astype(np.int64))


def stratified_order(labels: np.ndarray, seed: int) -> np.ndarray:
    """A seeded order of the positions in which every prefix is as class-balanced as it can be.

    Each class's positions are shuffled and ranked 0, 1, 2, ...; positions are then sorted by
    rank (random order within a rank), so the first 10*k hold exactly k images of each class.
    """
    rng = np.random.default_rng(seed)
    rank = np.empty(len(labels), dtype=np.int64)
    for c in np.unique(labels):
        where = np.flatnonzero(labels == c)
        rank[rng.permutation(where)] = np.arange(where.size)
    return np.lexsort((rng.random(len(labels)), rank))


def load_mnist_subset(
    n_train: int = 1000, n_val: int = 1000, seed: int = 0, flatten: bool = False
) -> tuple[TensorDataset, TensorDataset]:
    """Disjoint train and validation sets from the shipped 6000-image MNIST pool.

    Both are class-stratified (``n_train=1000`` gives exactly 100 images per digit), drawn with
    ``seed``, and returned as ``TensorDataset``s of ``(image, label)``: float32 images normalised
    with mean 0.1307 and std 0.3081, shape (N, 1, 28, 28), or (N, 784) when ``flatten``; int64
    labels in 0..9. The same arguments always give the same split.
    """
    for name, value in (("n_train", n_train), ("n_val", n_val)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{name} must be a positive integer, got {value!r}")
    if n_train + n_val > POOL_SIZE:
        raise ValueError(
            f"n_train + n_val = {n_train} + {n_val} = {n_train + n_val} exceeds the "
            f"{POOL_SIZE} images of the shipped MNIST pool; ask for fewer, or use "
            f"load_torchvision('mnist') for the full dataset"
        )
    arrays = _subset_arrays()
    x, y = arrays["x_pool"], arrays["y_pool"]
    order = stratified_order(y, seed)
    rng = np.random.default_rng([seed, 1])  # shuffle within each split, so no class runs
    train_idx = rng.permutation(order[:n_train])
    val_idx = rng.permutation(order[n_train : n_train + n_val])
    train = TensorDataset(_images(x[train_idx], flatten), _labels(y[train_idx]))
    val = TensorDataset(_images(x[val_idx], flatten), _labels(y[val_idx]))
    return train, val


def load_mnist_subset_test(n: int = TEST_SIZE, flatten: bool = False) -> TensorDataset:
    """The shipped held-out MNIST test images (2000, 200 per digit), for final reports only.

    ``n < 2000`` keeps a class-stratified part of them (the same part every time). Same format
    as ``load_mnist_subset``.
    """
    if isinstance(n, bool) or not isinstance(n, int) or not 1 <= n <= TEST_SIZE:
        raise ValueError(f"n must be an integer from 1 to {TEST_SIZE}, got {n!r}")
    arrays = _subset_arrays()
    x, y = arrays["x_test"], arrays["y_test"]
    idx = np.sort(stratified_order(y, 0)[:n]) if n < TEST_SIZE else np.arange(TEST_SIZE)
    return TensorDataset(_images(x[idx], flatten), _labels(y[idx]))


def load_digits_split(n_train: int = 1200, seed: int = 0) -> tuple[TensorDataset, TensorDataset]:
    """scikit-learn's bundled 8x8 digits (1797 images, offline): (N, 64) float32 pixels / 16 and
    int64 labels, shuffled by `seed`; the first `n_train` train, the others validate. Needs
    scikit-learn (the `bench` extra)."""
    try:
        from sklearn.datasets import load_digits
    except ImportError as err:
        raise ImportError("load_digits_split needs scikit-learn (pip install scikit-learn)") from err
    digits = load_digits()
    if isinstance(n_train, bool) or not isinstance(n_train, int) or not 1 <= n_train < len(digits.data):
        raise ValueError(f"n_train must be an integer from 1 to {len(digits.data) - 1}, got {n_train!r}")
    x = torch.tensor(digits.data, dtype=torch.float32) / 16.0
    y = torch.tensor(digits.target)
    order = torch.randperm(len(x), generator=torch.Generator().manual_seed(seed))
    train, val = order[:n_train], order[n_train:]
    return TensorDataset(x[train], y[train]), TensorDataset(x[val], y[val])


# --------------------------------------------------------------------------- torchvision

# name -> (torchvision class name, readable name, mean, std)
_TORCHVISION: dict[str, tuple[str, str, tuple[float, ...], tuple[float, ...]]] = {
    "mnist": ("MNIST", "MNIST", (MNIST_MEAN,), (MNIST_STD,)),
    "cifar10": ("CIFAR10", "CIFAR-10", CIFAR10_MEAN, CIFAR10_STD),
}


def _dataset_key(name: str) -> str:
    key = name.lower().replace("-", "").replace("_", "")
    if key not in _TORCHVISION:
        raise ValueError(f"unknown dataset {name!r}; known: {', '.join(sorted(_TORCHVISION))}")
    return key


def data_root(root: str | os.PathLike[str] | None = None) -> Path:
    """``root`` if given, else ``$L2ADVISOR_DATA``, else ``~/.cache/l2advisor/data``."""
    if root is None:
        root = os.environ.get(ENV_ROOT) or Path.home() / ".cache" / "l2advisor" / "data"
    return Path(root).expanduser()


def _default_transform(key: str, augment: bool) -> Callable[[Any], torch.Tensor]:
    from torchvision import transforms

    _, _, mean, std = _TORCHVISION[key]
    steps: list[Callable[[Any], Any]] = []
    if augment and key == "cifar10":  # the standard CIFAR recipe: pad-4 random crop, flip
        steps += [transforms.RandomCrop(32, padding=4), transforms.RandomHorizontalFlip()]
    steps += [transforms.ToTensor(), transforms.Normalize(mean, std)]
    return transforms.Compose(steps)


@contextlib.contextmanager
def _socket_timeout(seconds: float) -> Iterator[None]:
    """Bound blocking network calls (torchvision's urlopen has no timeout) unless one is set."""
    previous = socket.getdefaulttimeout()
    if previous is None:
        socket.setdefaulttimeout(seconds)
    try:
        yield
    finally:
        if previous is None:
            socket.setdefaulttimeout(None)


def _open_torchvision(key: str, root: Path, train: bool, download: bool) -> Dataset:
    import torchvision.datasets

    cls_name, pretty, _, _ = _TORCHVISION[key]
    cls = getattr(torchvision.datasets, cls_name)
    try:
        with _socket_timeout(DOWNLOAD_TIMEOUT_S):
            return cls(root=str(root), train=train, download=download)
    except Exception as exc:  # torchvision raises RuntimeError, URLError, OSError, ...
        text = str(exc).strip()
        reason = text.splitlines()[0].split(". ")[0].rstrip(".") if text else ""  # 1st sentence
        cause = f"{type(exc).__name__}: {reason}" if reason else type(exc).__name__
        how = "could not be downloaded" if download else "download=False was given"
        raise RuntimeError(
            f"{pretty} is not in {root} and {how} ({cause}); pass root= (or set {ENV_ROOT} to) "
            f"a directory that already contains it."
        ) from exc


class _Transformed(Dataset):
    """Selected items of a base dataset, with a transform applied to the input."""

    def __init__(self, base: Dataset, indices: np.ndarray, transform: Callable | None):
        self.base, self.indices, self.transform = base, indices, transform

    def __len__(self) -> int:
        return len(self.indices)

    def __getitem__(self, i: int) -> tuple[Any, int]:
        x, y = self.base[int(self.indices[i])]
        return (self.transform(x) if self.transform is not None else x), y


def load_torchvision(
    name: str,
    root: str | os.PathLike[str] | None = None,
    *,
    download: bool = True,
    augment: bool = False,
    train_transform: Callable | None = None,
    eval_transform: Callable | None = None,
    n_val: int = 5000,
    seed: int = 0,
) -> tuple[Dataset, Dataset]:
    """Disjoint train and validation sets from a torchvision dataset's training split.

    ``name`` is ``"mnist"`` or ``"cifar10"``. The validation set is ``n_val`` images held out
    of the training split with ``seed`` (the test split stays for ``load_torchvision_test``).
    Default transforms: to tensor and normalise with the dataset's channel statistics, plus,
    when ``augment``, the standard CIFAR augmentation (random crop with 4-pixel padding and
    horizontal flip) on the training set only. Pass ``train_transform`` / ``eval_transform``
    (applied to the PIL image) to replace them. Raises ``RuntimeError`` when the data are not
    in ``root`` and cannot be downloaded.
    """
    key = _dataset_key(name)
    base = _open_torchvision(key, data_root(root), train=True, download=download)
    if not 1 <= n_val < len(base):
        raise ValueError(f"n_val must be from 1 to {len(base) - 1}, got {n_val!r}")
    order = np.random.default_rng(seed).permutation(len(base))
    train_tf = train_transform or _default_transform(key, augment)
    eval_tf = eval_transform or _default_transform(key, augment=False)
    return _Transformed(base, order[n_val:], train_tf), _Transformed(base, order[:n_val], eval_tf)


def load_torchvision_test(
    name: str,
    root: str | os.PathLike[str] | None = None,
    *,
    download: bool = True,
    transform: Callable | None = None,
) -> Dataset:
    """A torchvision dataset's test split (normalised, no augmentation), for final reports."""
    key = _dataset_key(name)
    base = _open_torchvision(key, data_root(root), train=False, download=download)
    tf = transform or _default_transform(key, augment=False)
    return _Transformed(base, np.arange(len(base)), tf)
