"""Suite task: a plain MLP on scikit-learn's 8x8 digits with SGD, momentum 0.9.

64 -> [linear 64, ReLU] x 2 -> linear -> 10 logits (about 9k parameters).
1000 training images, 797 validation images. Offline (the `bench` extra).
"""

from _data import digits
from torch import nn

lr = 0.01
batch_size = 32
momentum = 0.9
optimizer = "sgd"


def build_model():
    return nn.Sequential(
        nn.Flatten(), nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 10),
    )


def build_data():
    return digits(n_train=1000, seed=1)
