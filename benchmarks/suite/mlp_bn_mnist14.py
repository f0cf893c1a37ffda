"""Suite task: an MLP with batch norm on the shipped MNIST subset at 14x14, plain SGD.

196 -> [linear 64, BN, ReLU] x 2 -> linear -> 10 logits (about 17k parameters).
2000 training images, 1000 validation images. Offline.
"""

from _data import mnist14
from torch import nn

lr = 0.1
batch_size = 32
momentum = 0.0
optimizer = "sgd"


def build_model():
    return nn.Sequential(
        nn.Flatten(),
        nn.Linear(196, 64, bias=False), nn.BatchNorm1d(64), nn.ReLU(),
        nn.Linear(64, 64, bias=False), nn.BatchNorm1d(64), nn.ReLU(),
        nn.Linear(64, 10),
    )


def build_data():
    return mnist14(n_train=2000, n_val=1000, seed=0, flatten=True)
