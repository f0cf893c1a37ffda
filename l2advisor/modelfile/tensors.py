"""Whether a dataset is plain tensors, which the training layer can keep on the device.

Lives with the model-file code because checking a user's datasets needs it too; the training
layer imports it from here (model-file code never imports training code).
"""

from __future__ import annotations

import torch
from torch.utils.data import Dataset, Subset, TensorDataset


def as_tensors(dataset: Dataset) -> tuple[torch.Tensor, torch.Tensor] | None:
    """(inputs, targets) when the dataset is plain tensors, else None (it may augment)."""
    indices = None
    while isinstance(dataset, Subset):
        sub = torch.as_tensor(list(dataset.indices), dtype=torch.long)
        indices = sub if indices is None else sub[indices]
        dataset = dataset.dataset
    if isinstance(dataset, TensorDataset) and len(dataset.tensors) == 2:
        inputs, targets = dataset.tensors
        if indices is not None:
            inputs, targets = inputs[indices], targets[indices]
        return inputs, targets
    return None
