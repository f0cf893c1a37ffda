"""What a run directory made from Python objects (the API's `probe(build_model, train, val)`)
records as its model's identity: without a file to hash, the probes must still notice a changed
model or changed data on resume, as a changed model file is noticed.

The fingerprint hashes build_model's source, the names and shapes of a freshly built model's
parameters and buffers, and each dataset's length with a sample of its items (SAMPLE evenly
spaced ones: inputs and targets, their values, dtypes and shapes). A sample, not every item: a
60,000-image set would take a second to hash in full; relabelled or reshuffled data changes the
sampled items with near certainty, an edit to one item among thousands may not.
"""

from __future__ import annotations

import hashlib
from typing import Any

import torch
from torch import nn

SAMPLE = 64  # items hashed per dataset, evenly spaced from the first to the last


def model_shapes(model: nn.Module) -> tuple[str, ...]:
    """`name:shape:dtype` of every parameter and buffer, in the model's order."""
    return tuple(f"{name}:{tuple(tensor.shape)}:{tensor.dtype}"
                 for name, tensor in [*model.named_parameters(), *model.named_buffers()])


def python_task_sha256(source: str, shapes: tuple[str, ...], train: Any, val: Any) -> str:
    """sha256 over build_model's `source`, the built model's `shapes` (`model_shapes`), and both datasets."""
    digest = hashlib.sha256(source.encode())
    for shape in shapes:
        digest.update(f"{shape};".encode())
    for dataset in (train, val):
        _add_dataset(digest, dataset)
    return digest.hexdigest()


def _add_dataset(digest: Any, dataset: Any) -> None:
    size = len(dataset)
    digest.update(f"len={size};".encode())
    picks = sorted({round(i * (size - 1) / max(SAMPLE - 1, 1)) for i in range(min(SAMPLE, size))})
    for index in picks:
        for part in dataset[index]:
            value = torch.as_tensor(part).detach().cpu().contiguous()
            digest.update(f"{value.dtype}{tuple(value.shape)}".encode())
            digest.update(value.numpy().tobytes() if value.dtype != torch.bfloat16 else value.float().numpy().tobytes())
