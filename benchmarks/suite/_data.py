"""Datasets shared by the suite's model files: all offline, all small.

- `digits`: scikit-learn's bundled 8x8 digits (1797 images, the `bench` extra), standardised.
- `mnist14`: the MNIST subset that ships with l2advisor, 2x2-average-pooled to 14x14 (4x cheaper).

Both return class-stratified, disjoint (train, val) `TensorDataset`s; the same arguments give
the same split. Imported by the model files as a neighbour (`from _data import ...`).
"""

from __future__ import annotations

import numpy as np
import torch
from torch.nn import functional as F
from torch.utils.data import TensorDataset

from l2advisor.datasets import load_mnist_subset, stratified_order


def digits(n_train: int = 1000, seed: int = 0) -> tuple[TensorDataset, TensorDataset]:
    """(N, 1, 8, 8) float32 images (pixel/16, then standardised with the training mean/std),
    int64 labels; `n_train` stratified images for training, the other 1797 - n_train for val."""
    from sklearn.datasets import load_digits  # the `bench` extra

    data = load_digits()
    x, y = data.images.astype(np.float32) / 16.0, data.target.astype(np.int64)
    order = stratified_order(y, seed)
    train_idx, val_idx = order[:n_train], order[n_train:]
    mean, std = x[train_idx].mean(), x[train_idx].std()
    x = (x - mean) / std
    as_set = lambda idx: TensorDataset(torch.from_numpy(x[idx]).unsqueeze(1), torch.from_numpy(y[idx]))  # noqa: E731
    return as_set(train_idx), as_set(val_idx)


def mnist14(n_train: int, n_val: int, seed: int = 0, flatten: bool = False) -> tuple[TensorDataset, TensorDataset]:
    """The shipped MNIST subset at 14x14: (N, 1, 14, 14), or (N, 196) when `flatten`."""
    train, val = load_mnist_subset(n_train=n_train, n_val=n_val, seed=seed)
    return _pool(train, flatten), _pool(val, flatten)


def _pool(dataset: TensorDataset, flatten: bool) -> TensorDataset:
    x, y = dataset.tensors
    x = F.avg_pool2d(x, 2)  # (N, 1, 28, 28) -> (N, 1, 14, 14)
    return TensorDataset(x.reshape(len(x), -1) if flatten else x, y)

