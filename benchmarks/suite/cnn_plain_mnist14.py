"""Suite task: a CNN without any normalization on the shipped MNIST subset at 14x14, plain SGD.

1x14x14 -> [conv 8, ReLU, pool] -> [conv 16, ReLU, pool] -> linear -> 10 logits (about 2.7k
parameters). 2000 training images, 1000 validation images. Offline.
"""

from _data import mnist14
from torch import nn

lr = 0.05
batch_size = 32
momentum = 0.0
optimizer = "sgd"


def build_model():
    return nn.Sequential(
        nn.Conv2d(1, 8, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),  # 8x7x7
        nn.Conv2d(8, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),  # 16x3x3
        nn.Flatten(), nn.Linear(16 * 3 * 3, 10),
    )


def build_data():
    return mnist14(n_train=2000, n_val=1000, seed=0)
