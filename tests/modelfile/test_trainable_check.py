"""The up-front check that the loss reaches a trainable parameter uses the model file's own loss."""

from __future__ import annotations

from pathlib import Path

from l2advisor.modelfile.spec import load_spec
from l2advisor.modelfile.task import build_task
from tests.conftest import write_model

PER_POSITION = """
import torch
from torch import nn
from torch.utils.data import TensorDataset

lr = 0.1

def loss(outputs, targets):  # one label per position: (batch, 3 positions, 5 classes) against (batch, 3)
    return nn.functional.cross_entropy(outputs.flatten(0, 1), targets.flatten())

def metric(outputs, targets):
    return float((outputs.argmax(-1) == targets).float().mean())

class PerPosition(nn.Module):
    def __init__(self):
        super().__init__()
        self.lin = nn.Linear(8, 15)
    def forward(self, x):
        return self.lin(x).view(-1, 3, 5)

def build_model():
    return PerPosition()

def build_data():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(64, 8, generator=g)
    y = torch.randint(0, 5, (64, 3), generator=g)
    return TensorDataset(x[:48], y[:48]), TensorDataset(x[48:], y[48:])
"""


def test_the_trainable_check_uses_the_files_own_loss(tmp_path: Path) -> None:
    # cross_entropy itself cannot take (4, 3, 5) outputs against (4, 3) labels: only the file's loss can
    assert build_task(load_spec(write_model(tmp_path, PER_POSITION))).n_outputs is None
