"""Training batches: every epoch a new order of the examples, drawn from the seed alone, on the
resident path and the DataLoader path."""

from __future__ import annotations

import torch
from torch.utils.data import Dataset

from l2advisor.training.batches import ResidentBatches, loader_batches


def test_resident_batches_reshuffle_every_epoch_from_the_seed() -> None:
    inputs, targets = torch.arange(24).float().unsqueeze(1), torch.arange(24)
    batches = ResidentBatches(inputs, targets, 8, seed=5)
    generator = torch.Generator().manual_seed(5)  # torch's own permutations of the seed, epoch after epoch
    epochs = []
    for _ in range(3):
        seen = torch.cat([next(batches)[1] for _ in range(3)])
        assert torch.equal(seen, torch.randperm(24, generator=generator))
        epochs.append(seen)
    assert not torch.equal(epochs[0], epochs[1]) and not torch.equal(epochs[1], epochs[2])


class _Augmented(Dataset):  # not tensors: goes through a DataLoader
    def __len__(self) -> int:
        return 20

    def __getitem__(self, i: int) -> tuple[torch.Tensor, int]:
        return torch.tensor([float(i)]), i


def test_loader_batches_depend_on_the_seed_only() -> None:
    def first(seed: int) -> list[int]:
        stream = loader_batches(_Augmented(), 4, seed, torch.device("cpu"), workers=0)
        return [int(y) for _ in range(10) for y in next(stream)[1]]  # two epochs

    torch.manual_seed(1)
    one = first(3)
    torch.manual_seed(2)  # the global random state plays no part
    assert first(3) == one
    assert first(4) != one
    assert sorted(one[:20]) == list(range(20))
