"""A model file for l2advisor: a small causal transformer written in the style of nanoGPT reads
each of scikit-learn's 8x8 digits row by row, top to bottom, and names the digit at the last
row. Trained with AdamW. Offline: the digits ship with scikit-learn.

    l2advisor train examples/gpt_digits.py --budget 6400 --advise

As such models are written from scratch: the rows embedded by a linear layer, positions looked
up in an `nn.Embedding` by `torch.arange(T)` (without the batch), heads of causal self-attention
written out with their mask kept as a buffer, pre-norm blocks with a feed-forward layer. Its
probes train as folded replicas (l2advisor/training/folded.py): the mask buffer is a constant
that every replica shares, and each replica's positions are added to its own rows.
"""

import torch
from torch import nn

from l2advisor.datasets import load_digits_split

lr = 0.002
batch_size = 32
optimizer = "adamw"

ROWS, WIDTH = 8, 32  # tokens (the image's rows) and the embedding width


class Head(nn.Module):
    """One head of causal self-attention: (B, T, WIDTH) -> (B, T, size)."""

    def __init__(self, size: int) -> None:
        super().__init__()
        self.key, self.query, self.value = (nn.Linear(WIDTH, size, bias=False) for _ in range(3))
        self.register_buffer("tril", torch.tril(torch.ones(ROWS, ROWS)))  # row t sees rows 0..t

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        t = h.shape[1]
        scores = self.query(h) @ self.key(h).transpose(-2, -1) * self.key.out_features ** -0.5  # (B, T, T)
        scores = scores.masked_fill(self.tril[:t, :t] == 0, float("-inf"))
        return torch.softmax(scores, dim=-1) @ self.value(h)


class Block(nn.Module):
    """Pre-norm: h + heads(norm(h)), then h + feed-forward(norm(h))."""

    def __init__(self, heads: int = 4) -> None:
        super().__init__()
        self.heads = nn.ModuleList(Head(WIDTH // heads) for _ in range(heads))
        self.mix = nn.Linear(WIDTH, WIDTH)
        self.feed = nn.Sequential(nn.Linear(WIDTH, 2 * WIDTH), nn.ReLU(), nn.Linear(2 * WIDTH, WIDTH))
        self.norm1, self.norm2 = nn.LayerNorm(WIDTH), nn.LayerNorm(WIDTH)

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        normed = self.norm1(h)
        h = h + self.mix(torch.cat([head(normed) for head in self.heads], dim=-1))
        return h + self.feed(self.norm2(h))


class RowGPT(nn.Module):
    """(B, 64) pixels -> 8 rows of 8 -> width 32, positions added -> 2 blocks -> layer norm of
    the last row -> 10 logits."""

    def __init__(self) -> None:
        super().__init__()
        self.embed = nn.Linear(8, WIDTH)
        self.positions = nn.Embedding(ROWS, WIDTH)
        self.blocks = nn.Sequential(Block(), Block())
        self.norm, self.head = nn.LayerNorm(WIDTH), nn.Linear(WIDTH, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        rows = x.view(-1, ROWS, 8)  # (B, T, 8)
        h = self.embed(rows) + self.positions(torch.arange(ROWS, device=x.device))  # (B, T, D) + (T, D)
        return self.head(self.norm(self.blocks(h))[:, -1])


def build_model():
    return RowGPT()


def build_data():
    return load_digits_split(n_train=1200, seed=0)  # (N, 64) pixels / 16; 1200 train, 597 validate
