"""Suite task: a CNN with batch norm on scikit-learn's 8x8 digits, plain SGD.

1x8x8 -> [conv 8, BN, ReLU, pool] -> [conv 16, BN, ReLU, pool] -> linear -> 10 logits (about
2k parameters). 1000 training images, 797 validation images. Offline (the `bench` extra).
"""

from _data import digits
from torch import nn

lr = 0.1
batch_size = 32
momentum = 0.0
optimizer = "sgd"


def build_model():
    return nn.Sequential(
        nn.Conv2d(1, 8, 3, padding=1, bias=False), nn.BatchNorm2d(8), nn.ReLU(), nn.MaxPool2d(2),  # 8x4x4
        nn.Conv2d(8, 16, 3, padding=1, bias=False), nn.BatchNorm2d(16), nn.ReLU(), nn.MaxPool2d(2),  # 16x2x2
        nn.Flatten(), nn.Linear(16 * 2 * 2, 10),
    )


def build_data():
    return digits(n_train=1000, seed=0)
