"""Suite task: a plain MLP on only 300 images (MNIST subset at 14x14), plain SGD.

196 -> [linear 128, ReLU] -> linear -> 10 logits (about 27k parameters) on 300 training
images: it fits them within a few hundred steps and then overfits, so the peak comes early and
the relations of the paper (which assume the peak is set by the tau clock) are expected to fail.
1000 validation images. Offline.
"""

from _data import mnist14
from torch import nn

lr = 0.1
batch_size = 32
momentum = 0.0
optimizer = "sgd"


def build_model():
    return nn.Sequential(nn.Flatten(), nn.Linear(196, 128), nn.ReLU(), nn.Linear(128, 10))


def build_data():
    return mnist14(n_train=300, n_val=1000, seed=1, flatten=True)
