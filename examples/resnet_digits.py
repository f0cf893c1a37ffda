"""A model file for l2advisor: a small ResNet (a convolution stem and two residual blocks of 16-channel
3x3 convolutions with batch norms) on scikit-learn's 8x8 digits, SGD with momentum. Offline.

    l2advisor train examples/resnet_digits.py --budget 3200 --advise

Its probes train stacked through vmap: batch norms beside convolutions could fold too, but on a CPU
a folded step was no faster (0.93-1.07x) and its evaluation 1.2-1.8x slower (`python
benchmarks/stacked_step.py --models resnet_digits`), since each folded layer lays the replicas' rows
side by side and back. An `nn.Sequential` of the same
layers would train packed, faster (examples/mnist_cnn.py).
"""

import torch
from torch import nn

from l2advisor.datasets import load_digits_split

lr = 0.05
batch_size = 32
momentum = 0.9


class Block(nn.Module):
    """relu(x + bn(conv(relu(bn(conv(x)))))), (B, C, 8, 8) -> (B, C, 8, 8)."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.conv1, self.norm1 = nn.Conv2d(channels, channels, 3, padding=1, bias=False), nn.BatchNorm2d(channels)
        self.conv2, self.norm2 = nn.Conv2d(channels, channels, 3, padding=1, bias=False), nn.BatchNorm2d(channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = torch.relu(self.norm1(self.conv1(x)))
        return torch.relu(x + self.norm2(self.conv2(h)))


class ResNet(nn.Module):
    """(B, 64) pixels -> (B, 1, 8, 8) -> stem -> 2 blocks -> mean over the image -> 10 logits."""

    def __init__(self, channels: int = 16) -> None:
        super().__init__()
        self.stem, self.norm = nn.Conv2d(1, channels, 3, padding=1, bias=False), nn.BatchNorm2d(channels)
        self.blocks = nn.Sequential(Block(channels), Block(channels))
        self.head = nn.Linear(channels, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = torch.relu(self.norm(self.stem(x.view(-1, 1, 8, 8))))
        return self.head(self.blocks(h).mean((2, 3)))


def build_model():
    return ResNet()


def build_data():
    return load_digits_split(n_train=1200, seed=0)  # (N, 64) pixels / 16; 1200 train, 597 validate
