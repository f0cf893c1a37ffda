"""A model file for l2advisor: a small vision transformer on scikit-learn's 8x8 digits, trained
with AdamW. Offline: the digits ship with scikit-learn.

    l2advisor train examples/vit_digits.py --budget 6400 --advise

As vision transformers are built: 2x2 patches cut and embedded by one strided convolution,
a learned class token and a learned positional table kept as bare parameters ((1, 1, D) and
(1, 17, D)), two of torch's encoder layers, and the class token's output read by a linear head.
Its probes train as folded replicas (l2advisor/training/folded_layers.py): the K probes' batches
go through one copy of the layers, each row with its replica's weights, class token and
positions.
"""

import torch
from torch import nn

from l2advisor.datasets import load_digits_split

lr = 0.002
batch_size = 32
optimizer = "adamw"


class TinyViT(nn.Module):
    """(B, 64) pixels -> 16 patches of 2x2 -> width 32, a class token in front, positions added
    -> 2 encoder layers -> layer norm of the class token -> 10 logits."""

    def __init__(self, width: int = 32) -> None:
        super().__init__()
        self.patches = nn.Conv2d(1, width, kernel_size=2, stride=2)  # (B, 1, 8, 8) -> (B, D, 4, 4)
        self.cls = nn.Parameter(torch.zeros(1, 1, width))
        self.positions = nn.Parameter(0.02 * torch.randn(1, 17, width))
        layer = nn.TransformerEncoderLayer(width, nhead=4, dim_feedforward=64, dropout=0.0, batch_first=True,
                                           norm_first=True)
        self.encoder = nn.TransformerEncoder(layer, num_layers=2, enable_nested_tensor=False)
        self.norm, self.head = nn.LayerNorm(width), nn.Linear(width, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        patches = self.patches(x.view(-1, 1, 8, 8)).flatten(2).transpose(1, 2)  # (B, 16, D)
        tokens = torch.cat([self.cls.expand(len(patches), -1, -1), patches], dim=1) + self.positions  # (B, 17, D)
        return self.head(self.norm(self.encoder(tokens)[:, 0]))


def build_model():
    return TinyViT()


def build_data():
    return load_digits_split(n_train=1200, seed=0)  # (N, 64) pixels / 16; 1200 train, 597 validate
