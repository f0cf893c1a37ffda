"""A model file for l2advisor: a residual MLP with batch norms on scikit-learn's 8x8 digits, SGD with
momentum and a label-smoothed loss. Offline: the digits ship with scikit-learn.

    l2advisor train examples/resmlp_digits.py --budget 6400 --advise

A custom module (not an `nn.Sequential`) of linear layers and batch norms, so its probes train as
folded replicas: the K probes' batches go through one copy of the layers together, each batch norm
normalizing each replica over its own examples and keeping its running statistics apart
(l2advisor/training/folded_layers.py). A stacked step of 6 replicas costs under half of what the 6
cost one after another, and 1.3-1.5x less than through vmap at 2-6 replicas (`python
benchmarks/stacked_step.py --models resmlp_digits`).
"""

import torch
from torch import nn

from l2advisor.datasets import load_digits_split

lr = 0.05
batch_size = 64
momentum = 0.9
loss = nn.CrossEntropyLoss(label_smoothing=0.1)


class Block(nn.Module):
    """x + fc2(gelu(fc1(norm(x)))): a pre-norm residual block, (B, width) -> (B, width)."""

    def __init__(self, width: int) -> None:
        super().__init__()
        self.norm = nn.BatchNorm1d(width)
        self.fc1, self.fc2 = nn.Linear(width, 2 * width), nn.Linear(2 * width, width)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.fc2(nn.functional.gelu(self.fc1(self.norm(x))))


class ResMLP(nn.Module):
    """(B, 64) pixels -> linear stem -> 3 residual blocks -> linear head -> 10 logits."""

    def __init__(self, width: int = 64, depth: int = 3) -> None:
        super().__init__()
        self.stem = nn.Linear(64, width)
        self.blocks = nn.Sequential(*[Block(width) for _ in range(depth)])
        self.head = nn.Linear(width, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.blocks(self.stem(x)))


def build_model():
    return ResMLP()


def build_data():
    return load_digits_split(n_train=1200, seed=0)  # (N, 64) pixels / 16; 1200 train, 597 validate
