"""Suite task: a one-block MLP-mixer with LayerNorm on scikit-learn's 8x8 digits, AdamW.

The 8 rows of an image are 8 tokens of 8 pixels: embed to 16 channels, one mixer block (LayerNorm,
token-mixing MLP 8->16->8, LayerNorm, channel MLP 16->32->16, both residual), LayerNorm, mean over
tokens, linear -> 10 logits (about 1.8k parameters). 1000 training images, 797 validation images.
AdamW's weight decay is decoupled: each step shrinks the weights by (1 - lr*lam).
"""

import torch
from _data import digits
from torch import nn

lr = 3e-3
batch_size = 32
momentum = 0.0
optimizer = "adamw"


class MixerBlock(nn.Module):
    def __init__(self, tokens: int, channels: int):
        super().__init__()
        self.norm1, self.norm2 = nn.LayerNorm(channels), nn.LayerNorm(channels)
        self.token_mlp = nn.Sequential(nn.Linear(tokens, 2 * tokens), nn.GELU(), nn.Linear(2 * tokens, tokens))
        self.channel_mlp = nn.Sequential(nn.Linear(channels, 2 * channels), nn.GELU(), nn.Linear(2 * channels, channels))

    def forward(self, h: torch.Tensor) -> torch.Tensor:  # (B, tokens, channels)
        h = h + self.token_mlp(self.norm1(h).transpose(1, 2)).transpose(1, 2)
        return h + self.channel_mlp(self.norm2(h))


class TinyMixer(nn.Module):
    def __init__(self, tokens: int = 8, pixels: int = 8, channels: int = 16, classes: int = 10):
        super().__init__()
        self.embed = nn.Linear(pixels, channels)
        self.block = MixerBlock(tokens, channels)
        self.norm = nn.LayerNorm(channels)
        self.head = nn.Linear(channels, classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (B, 1, 8, 8) -> (B, 10)
        h = self.block(self.embed(x.flatten(1, 2)))  # (B, 8 rows, 16)
        return self.head(self.norm(h).mean(1))


def build_model():
    return TinyMixer()


def build_data():
    return digits(n_train=1000, seed=2)
