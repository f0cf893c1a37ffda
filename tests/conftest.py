"""Shared fixtures: tiny model files on generated data (tests never need ../shared or a network)."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
import torch

torch.set_num_threads(1)

TINY_MODEL = '''
"""A tiny generated classification task: Gaussian blobs, a small MLP."""
import torch
from torch import nn
from torch.utils.data import TensorDataset

lr = 0.1
batch_size = 32

def _blobs(n, seed):
    g = torch.Generator().manual_seed(seed)
    centers = torch.randn(4, 8, generator=torch.Generator().manual_seed(123)) * 1.5
    y = torch.randint(0, 4, (n,), generator=g)
    x = centers[y] + torch.randn(n, 8, generator=g)
    return TensorDataset(x, y)

def build_model():
    return nn.Sequential(nn.Linear(8, 32), nn.ReLU(), nn.Linear(32, 4))

def build_data():
    return _blobs(256, 1), _blobs(128, 2)

def build_test():
    return _blobs(128, 3)
'''


def write_model(directory: Path, body: str, name: str = "model.py") -> Path:
    """Write a model file and return its path."""
    path = directory / name
    path.write_text(textwrap.dedent(body))
    return path


@pytest.fixture
def tiny_model(tmp_path: Path) -> Path:
    return write_model(tmp_path, TINY_MODEL, "tiny.py")
