"""Model files the benchmarks write next to the bundled default: MLPs of a chosen size on the
shipped MNIST subset, and the default CNN wrapped in a custom Module (so it takes the vmap
path of the batched trainer instead of the packed one). Each is a complete l2advisor model
file (build_model, build_data, lr, batch_size), as a user would write it.
"""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_CNN = ROOT / "examples" / "mnist_cnn.py"

_MLP = '''"""{doc}"""
from l2advisor.datasets import load_mnist_subset
from l2advisor.zoo import mlp
lr = 0.1
batch_size = 64
def build_model():
    return mlp(in_features=784, hidden={hidden}, depth={depth})
def build_data():
    return load_mnist_subset(n_train=1000, n_val=1000, seed=0, flatten=True)
'''

_CUSTOM_CNN = '''"""The bundled default CNN inside a custom nn.Module: batched through vmap."""
from torch import nn
from l2advisor.datasets import load_mnist_subset
from l2advisor.zoo import small_cnn
lr = 0.1
batch_size = 64
class Wrapped(nn.Module):
    def __init__(self):
        super().__init__()
        self.net = small_cnn(channels=(8, 16), batch_norm=True)
    def forward(self, x):
        return self.net(x)
def build_model():
    return Wrapped()
def build_data():
    return load_mnist_subset(n_train=1000, n_val=1000, seed=0)
'''


def write_mlp(folder: Path, hidden: int, depth: int) -> Path:
    """An MLP 784-(hidden x depth)-10 model file in `folder`; returns its path."""
    sizes = "-".join(["784"] + [str(hidden)] * depth + ["10"])
    doc = f"An MLP {sizes} on the shipped MNIST subset."
    path = folder / f"mlp_{hidden}x{depth}.py"
    path.write_text(_MLP.format(doc=doc, hidden=hidden, depth=depth))
    return path


def write_custom_cnn(folder: Path) -> Path:
    """The default CNN in a custom Module (the vmap path); returns its path."""
    path = folder / "custom_cnn.py"
    path.write_text(_CUSTOM_CNN)
    return path
