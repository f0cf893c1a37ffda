"""Probe setup: two-layer CNN with batch norm on 1000 MNIST images (measured by the project on a 2-core CPU).

Reproduces the batch-norm CNN of the project's own measurements on a 2-core CPU (see the README): conv 8 and 16 channels,
batch norm, ReLU, max-pooling, a linear head; 1000 training and 1000 validation images of the
shipped MNIST subset; plain SGD, lr 0.1, batch 64. There the relations held: tau* stayed
between about 0.9 and 2.6 for lam from 0.08 down to 0.005, and the peak validation accuracy
rose and flattened (0.930 -> 0.958). Runs offline on a CPU.
"""

from l2advisor.datasets import load_mnist_subset, load_mnist_subset_test
from l2advisor.zoo import small_cnn

lr = 0.1
batch_size = 64
momentum = 0.0
optimizer = "sgd"
metric = "accuracy"


def build_model():
    return small_cnn(channels=(8, 16), batch_norm=True)


def build_data():
    return load_mnist_subset(n_train=1000, n_val=1000, seed=0)


def build_test():
    return load_mnist_subset_test()
