"""Probe setup: a three-hidden-layer MLP on 512 MNIST images, where the relations fail.

Reproduces the MLP of the project's own measurements on a 2-core CPU (see the README): 3 hidden ReLU layers of 512 units,
standard parameterization (PyTorch's default initialisation), cross-entropy; 512 training and
1000 validation images of the shipped MNIST subset; plain SGD, lr 0.1, batch 64. There the
validation accuracy peaked after about 100 steps whatever lam was: t* does not scale as
1/(lr*lam), and the right advice is that lam barely matters. A check that the advisor detects
failure instead of assuming success. Runs offline on a CPU.
"""

import torch.nn.functional as F

from l2advisor.datasets import load_mnist_subset, load_mnist_subset_test
from l2advisor.zoo import mlp

lr = 0.1
batch_size = 64
momentum = 0.0
optimizer = "sgd"
loss = F.cross_entropy
metric = "accuracy"


def build_model():
    return mlp(in_features=784, hidden=512, depth=3)


def build_data():
    return load_mnist_subset(n_train=512, n_val=1000, seed=0, flatten=True)


def build_test():
    return load_mnist_subset_test(flatten=True)
