"""Probe setup: WRN-16-4 on CIFAR-10 with standard augmentation (the paper's main setting).

The paper (Lewkowycz and Gur-Ari, 2020) and its code (google/autol2) use Wide ResNets on
CIFAR-10 with SGD and momentum at a constant learning rate; this file sets up a WRN-16-4
(pre-activation, about 2.7M parameters) with lr 0.2, momentum 0.9, batch 128, random crops with
4-pixel padding and horizontal flips. 45,000 training images, 5,000 held out for validation;
the CIFAR-10 test set only for the final report.

Needs a network (or a directory that already holds CIFAR-10: set L2ADVISOR_DATA) and, to be
practical, a GPU. Without either, build_data() raises a RuntimeError saying so.
"""

from l2advisor.datasets import load_torchvision, load_torchvision_test
from l2advisor.zoo import wide_resnet

lr = 0.2
batch_size = 128
momentum = 0.9
optimizer = "sgd"
metric = "accuracy"


def build_model():
    return wide_resnet(depth=16, width=4, num_classes=10)


def build_data():
    # Root: $L2ADVISOR_DATA, else ~/.cache/l2advisor/data; downloads there if missing.
    return load_torchvision("cifar10", augment=True, n_val=5000, seed=0)


def build_test():
    return load_torchvision_test("cifar10")
