"""Where training batches come from: device-resident tensors, or a DataLoader.

Small datasets given as tensors (a `TensorDataset`, or a `Subset` of one) are moved to the
device once; a batch is then an index selection, with no per-step host-to-device copy and
no DataLoader round trip. Any other dataset may apply random augmentation per access, so
it is never frozen into a tensor: it goes through a DataLoader (workers, pinned memory).
The order of examples depends on the seed only, so every lam sees the same batches.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import torch
from torch.utils.data import DataLoader, Dataset

from l2advisor.modelfile.tensors import as_tensors


@dataclass
class ResidentBatches:
    """An endless stream of shuffled batches drawn from tensors that live on the device."""

    inputs: torch.Tensor  # (N, ...) on device
    targets: torch.Tensor  # (N,) or (N, ...) on device
    batch_size: int
    seed: int

    def __post_init__(self) -> None:
        self.generator = torch.Generator().manual_seed(self.seed)  # CPU: identical on any device
        self.order = torch.empty(0, dtype=torch.long)
        self.position = 0
        size = len(self.targets)
        # Equal batch sizes keep batch-norm statistics comparable; a tiny set uses all of it.
        self.per_epoch = max(1, size // self.batch_size) if size >= self.batch_size else 1

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        return self

    def __next__(self) -> tuple[torch.Tensor, torch.Tensor]:
        index = self.next_index()  # index_select: 9.5 -> 3.4 us for 32 MNIST images against x[index]
        return self.inputs.index_select(0, index), self.targets.index_select(0, index)

    def next_index(self) -> torch.Tensor:
        """The rows of the next batch, (B,) on the device (what `next` would select)."""
        if self.position >= self.per_epoch:
            self.position = 0
        if self.position == 0:
            order = torch.randperm(len(self.targets), generator=self.generator)
            self.order = order.to(self.inputs.device)
        start = self.position * self.batch_size
        self.position += 1
        return self.order[start:start + self.batch_size]


def loader_batches(dataset: Dataset, batch_size: int, seed: int, device: torch.device,
                   workers: int = 2) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """An endless stream of batches through a DataLoader (augmenting or large datasets)."""
    generator = torch.Generator().manual_seed(seed)
    pin = device.type == "cuda"
    loader = DataLoader(dataset, batch_size=batch_size, shuffle=True, drop_last=len(dataset) >= batch_size,
                        generator=generator, num_workers=workers, pin_memory=pin,
                        persistent_workers=workers > 0)
    while True:
        for inputs, targets in loader:
            yield inputs.to(device, non_blocking=pin), targets.to(device, non_blocking=pin)


def train_batches(dataset: Dataset, batch_size: int, seed: int, device: torch.device,
                  workers: int = 2) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """The fast resident path when the dataset is tensors, else the DataLoader path."""
    tensors = as_tensors(dataset)
    if tensors is None:
        return loader_batches(dataset, batch_size, seed, device, workers)
    inputs, targets = tensors
    return ResidentBatches(inputs.to(device), targets.to(device), batch_size, seed)


def eval_chunks(dataset: Dataset, device: torch.device, chunk: int = 1024) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """The validation split as a list of on-device chunks, built once (evaluation is deterministic)."""
    tensors = as_tensors(dataset)
    if tensors is None:
        loader = DataLoader(dataset, batch_size=chunk, shuffle=False)
        return [(x.to(device), y.to(device)) for x, y in loader]
    inputs, targets = (t.to(device) for t in tensors)
    return [(inputs[i:i + chunk], targets[i:i + chunk]) for i in range(0, len(targets), chunk)]
