"""A model file for l2advisor: a small CNN with batch norm on a 1000-image MNIST subset.

Copy this file and replace the model and the data with yours. l2advisor executes it as
ordinary Python (like pytest's conftest.py), so only run model files you trust.

    l2advisor probe examples/mnist_cnn.py
    l2advisor recommend runs/mnist_cnn --budget 5000

Runs offline, on a CPU, in a few minutes: the images ship with l2advisor
(MNIST by LeCun, Cortes and Burges, CC BY-SA 3.0; see l2advisor/modelfile/data/README.md).
"""

from l2advisor.datasets import load_mnist_subset, load_mnist_subset_test
from l2advisor.zoo import small_cnn

# Training settings, all optional (each can be overridden on the command line).
# l2advisor chooses the weight decay; keep everything else as you would train.
lr = 0.1
batch_size = 64
momentum = 0.0
optimizer = "sgd"  # or "adamw"
metric = "accuracy"  # or a callable (outputs, targets) -> float, higher is better
# loss = torch.nn.functional.cross_entropy  # the default; any (outputs, targets) -> loss


def build_model():
    """Required: a fresh, freshly initialised model each call (one per probe run)."""
    # 1x28x28 -> [conv 8, BN, ReLU, pool] -> [conv 16, BN, ReLU, pool] -> linear -> 10 logits.
    # Any torch.nn.Module works here; l2advisor.zoo.small_cnn is a dozen lines of nn.Sequential.
    return small_cnn(channels=(8, 16), batch_norm=True)


def build_data():
    """Required: (train_dataset, val_dataset), map-style datasets yielding (x, y).

    The validation set picks the best weight decay; keep it disjoint from training.
    """
    return load_mnist_subset(n_train=1000, n_val=1000, seed=0)


def build_test():
    """Optional: a held-out set, only used for the final report, never for choosing."""
    return load_mnist_subset_test()
