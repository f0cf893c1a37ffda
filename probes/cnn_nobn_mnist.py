"""Probe setup: the same two-layer CNN without batch norm on 1000 MNIST images (the project's measurements).

Reproduces the no-batch-norm CNN of the project's own measurements on a 2-core CPU (see the README): conv 8 and 16
channels (with biases), ReLU, max-pooling, a linear head; 1000 training and 1000 validation
images of the shipped MNIST subset; plain SGD, lr 0.1, batch 64. There t* grew more slowly than
1/lam (tau* 2.2, 1.2, 0.5 as lam fell): the relations hold only roughly, and the advisor
should say so. Runs offline on a CPU.
"""

from l2advisor.datasets import load_mnist_subset, load_mnist_subset_test
from l2advisor.zoo import small_cnn

lr = 0.1
batch_size = 64
momentum = 0.0
optimizer = "sgd"
metric = "accuracy"


def build_model():
    return small_cnn(channels=(8, 16), batch_norm=False)


def build_data():
    return load_mnist_subset(n_train=1000, n_val=1000, seed=0)


def build_test():
    return load_mnist_subset_test()
