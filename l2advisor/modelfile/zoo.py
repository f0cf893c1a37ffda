"""Small model builders shared by the examples and the ready-made probes.

Plain ``torch.nn`` modules, nothing l2advisor-specific: any ``nn.Module`` works in a model file.
"""

from __future__ import annotations

from collections.abc import Sequence

from torch import Tensor, nn

__all__ = ["mlp", "small_cnn", "wide_resnet"]


def small_cnn(
    channels: Sequence[int] = (8, 16),
    batch_norm: bool = True,
    in_channels: int = 1,
    image_size: int = 28,
    num_classes: int = 10,
) -> nn.Sequential:
    """Conv blocks (3x3 conv [+ batch norm] + ReLU + 2x2 max-pool), then one linear head.

    With the defaults: 1x28x28 -> 8x14x14 -> 16x7x7 -> 10 logits (about 9k parameters).
    """
    layers: list[nn.Module] = []
    c_in, size = in_channels, image_size
    for c_out in channels:
        layers.append(nn.Conv2d(c_in, c_out, 3, padding=1, bias=not batch_norm))
        if batch_norm:
            layers.append(nn.BatchNorm2d(c_out))
        layers += [nn.ReLU(), nn.MaxPool2d(2)]
        c_in, size = c_out, size // 2
    layers += [nn.Flatten(), nn.Linear(c_in * size * size, num_classes)]
    return nn.Sequential(*layers)


def mlp(
    in_features: int = 784,
    hidden: int = 512,
    depth: int = 3,
    num_classes: int = 10,
) -> nn.Sequential:
    """``depth`` hidden ReLU layers of ``hidden`` units, standard parameterization.

    Standard parameterization: PyTorch's default ``nn.Linear`` initialisation (the weights carry
    the 1/sqrt(fan_in) scale; no multiplier in the forward pass). Flattens its input first.
    """
    layers: list[nn.Module] = [nn.Flatten()]
    width = in_features
    for _ in range(depth):
        layers += [nn.Linear(width, hidden), nn.ReLU()]
        width = hidden
    layers.append(nn.Linear(width, num_classes))
    return nn.Sequential(*layers)


class _WideBlock(nn.Module):
    """Pre-activation residual block: BN-ReLU-conv3x3-BN-ReLU-conv3x3, plus the shortcut."""

    def __init__(self, c_in: int, c_out: int, stride: int):
        super().__init__()
        self.bn1 = nn.BatchNorm2d(c_in)
        self.conv1 = nn.Conv2d(c_in, c_out, 3, stride=stride, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(c_out)
        self.conv2 = nn.Conv2d(c_out, c_out, 3, padding=1, bias=False)
        self.relu = nn.ReLU()
        self.shortcut = (
            nn.Conv2d(c_in, c_out, 1, stride=stride, bias=False)
            if stride != 1 or c_in != c_out
            else None
        )

    def forward(self, x: Tensor) -> Tensor:
        o = self.relu(self.bn1(x))
        y = self.conv2(self.relu(self.bn2(self.conv1(o))))
        return y + (self.shortcut(o) if self.shortcut is not None else x)


def wide_resnet(
    depth: int = 16, width: int = 4, num_classes: int = 10, in_channels: int = 3
) -> nn.Sequential:
    """WRN-depth-width (Zagoruyko and Komodakis, 2016) for 32x32 images; WRN-16-4 by default.

    Three groups of (depth - 4) / 6 pre-activation blocks with 16*width, 32*width and 64*width
    channels (strides 1, 2, 2), then BN-ReLU, global average pooling and a linear head.
    WRN-16-4 has about 2.7M parameters.
    """
    if depth < 10 or (depth - 4) % 6:
        raise ValueError(f"depth must be 6n + 4 with n >= 1 (10, 16, 22, 28, ...), got {depth}")
    blocks_per_group = (depth - 4) // 6
    layers: list[nn.Module] = [nn.Conv2d(in_channels, 16, 3, padding=1, bias=False)]
    c_in = 16
    for c_out, stride in ((16 * width, 1), (32 * width, 2), (64 * width, 2)):
        for j in range(blocks_per_group):
            layers.append(_WideBlock(c_in, c_out, stride if j == 0 else 1))
            c_in = c_out
    layers += [
        nn.BatchNorm2d(c_in),
        nn.ReLU(),
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),
        nn.Linear(c_in, num_classes),
    ]
    model = nn.Sequential(*layers)
    for m in model.modules():
        if isinstance(m, nn.Conv2d):
            nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
        elif isinstance(m, nn.Linear):
            nn.init.zeros_(m.bias)
    return model
