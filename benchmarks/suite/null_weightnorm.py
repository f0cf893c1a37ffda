"""Suite task, the negative control: an MLP on which weight decay has (almost) no effect by construction.

196 -> [linear 64, ReLU] -> linear -> 10 logits, bias-free, and every layer uses its weight only
through the direction of each row: y = gain * (W_i / ||W_i||) . x, with the gain a fixed buffer
(no decayed vectors). Before every forward pass each row is rescaled back to its initial norm
(in place, no_grad). The loss is invariant to each row's scale, so its gradient g is orthogonal
to W, and one SGD step with decay, W' = (1 - lr*lam) W - lr g, has the direction of
W - lr/(1 - lr*lam) g: after the rescaling, decay lam is exactly plain SGD with the learning rate
multiplied by 1/(1 - lr*lam) (<= 1.0101 for lr*lam <= 0.01, the top of this task's grid).
So lam changes only the learning rate, by at most about 1%; nothing else. Plain SGD, no momentum.
MNIST subset at 14x14: 2000 training images, 1000 validation images. Offline.
"""

import torch
from _data import mnist14
from torch import nn

lr = 0.1
batch_size = 32
momentum = 0.0
optimizer = "sgd"


class DirectionLinear(nn.Module):
    """y = gain * x @ (W / ||W rows||).T, W rescaled to its initial row norms before each forward."""

    def __init__(self, n_in: int, n_out: int, gain: float):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(n_out, n_in) / n_in ** 0.5)
        self.register_buffer("gain", torch.tensor(float(gain)))
        self.register_buffer("row_norm", self.weight.detach().norm(dim=1, keepdim=True).clone())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():  # undo the decay's shrink (and SGD's growth): rows back to their initial norm
            self.weight.mul_(self.row_norm / self.weight.norm(dim=1, keepdim=True))
        direction = self.weight / self.weight.norm(dim=1, keepdim=True)
        return self.gain * x @ direction.T


def build_model():
    return nn.Sequential(nn.Flatten(), DirectionLinear(196, 64, gain=1.0), nn.ReLU(), DirectionLinear(64, 10, gain=2.0))


def build_data():
    return mnist14(n_train=2000, n_val=1000, seed=3, flatten=True)
