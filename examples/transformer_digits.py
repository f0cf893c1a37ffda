"""A model file for l2advisor: a small transformer encoder reading scikit-learn's 8x8 digits
row by row (8 tokens of 8 pixels), trained with AdamW. Offline: the digits ship with scikit-learn.

    l2advisor train examples/transformer_digits.py --budget 6400 --advise

Built from torch's own layers (linear embedding, `nn.TransformerEncoderLayer`, linear head),
with no parameter or buffer outside them, so its probes train as folded replicas: the K probes' batches
go through one copy of the layers together (l2advisor/training/folded_attention.py). A learned
position added as a bare `nn.Parameter`, or a buffer, would send them through vmap instead, slower.
"""

import torch
from torch import nn

from l2advisor.datasets import load_digits_split

lr = 0.002
batch_size = 32
optimizer = "adamw"


class RowTransformer(nn.Module):
    """(B, 64) pixels -> 8 row tokens of width 32 (row index one-hot in the embedding's input)
    -> 2 encoder layers -> mean over tokens -> 10 logits."""

    def __init__(self) -> None:
        super().__init__()
        self.embed = nn.Linear(8 + 8, 32)  # 8 pixels + a one-hot of the row: the position, learned in the embedding
        layer = nn.TransformerEncoderLayer(32, nhead=4, dim_feedforward=64, dropout=0.0, batch_first=True)
        self.encoder = nn.TransformerEncoder(layer, num_layers=2, enable_nested_tensor=False)
        self.head = nn.Linear(32, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        tokens = x.view(-1, 8, 8)  # (B, 8 rows, 8 pixels)
        rows = torch.eye(8, device=x.device).expand(len(tokens), 8, 8)  # a constant, not a buffer: folds
        h = self.embed(torch.cat([tokens, rows], dim=-1))  # (B, 8, 32)
        return self.head(self.encoder(h).mean(1))


def build_model():
    return RowTransformer()


def build_data():
    return load_digits_split(n_train=1200, seed=0)  # (N, 64) pixels / 16; 1200 train, 597 validate
