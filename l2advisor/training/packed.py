"""The packed form of an `nn.Sequential` of common layers: K replicas as K-wide kernels.

Layouts of the activations between layers: SHARED (B, ...) the same for every replica (the
input of the lams of one seed), CHAN (B, K*C, ...) replica-major channels, STACK (K, B, F),
FEAT (K, F, B) features first. The K first convolutions on a shared input are one convolution
with K*C_out filters, later ones (and any on per-replica inputs) a grouped convolution
(groups=K); the K first linears on a shared input are one matmul, later ones a bmm W @ h with
features first (`replica_linear`), so that each weight's gradient comes in the weight's own
memory layout and a chain of linears, activations and batch norms never transposes or copies
its activations; batch norm is one call over K*C channels, so each replica keeps its own
running statistics; activations and pooling act per channel. A layer it does not know raises
`Unsupported` (the caller then uses vmap).

On a CPU, 2-D convolutions take their inputs in channels-last memory (`channels_last`; the
values and their logical order are unchanged), so every 4-D activation after them is
channels-last too, and max-pooling and the grouped K*C-channel convolutions vectorize over
channels: `benchmarks/stacked_step.py` times both layouts side by side.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

import torch
from torch import Tensor, nn
from torch.nn import functional as F

Tensors = dict[str, Tensor]
SHARED, CHAN, STACK, FEAT = "shared", "chan", "stack", "feat"  # (B, ...) | (B, K*C, ...) | (K, B, F) | (K, F, B)
ELEMENTWISE = (nn.ReLU, nn.LeakyReLU, nn.ELU, nn.GELU, nn.SiLU, nn.Tanh, nn.Sigmoid, nn.Softplus,
               nn.Mish, nn.Hardtanh, nn.ReLU6, nn.Identity)
ELEMENT_DROPOUT = {nn.Dropout: F.dropout, nn.AlphaDropout: F.alpha_dropout}
CHANNEL_DROPOUT = {nn.Dropout1d: (F.dropout1d, 3), nn.Dropout2d: (F.dropout2d, 4), nn.Dropout3d: (F.dropout3d, 5)}
POOLS = (nn.MaxPool1d, nn.MaxPool2d, nn.AvgPool1d, nn.AvgPool2d, nn.AdaptiveAvgPool1d,
         nn.AdaptiveAvgPool2d, nn.AdaptiveMaxPool1d, nn.AdaptiveMaxPool2d)


class Unsupported(Exception):
    """A layer the packed path does not handle: use vmap instead."""


Layer = Callable[[Tensor, str, Tensors, Tensors, int, bool], tuple[Tensor, str]]


def own_inputs(x: Tensor) -> tuple[Tensor, str]:
    """Per-replica inputs (K, B, ...) in a packed layout: flat features (K, B, F) are already
    STACK; channels (K, B, C, ...) become (B, K*C, ...), replica-major (CHAN)."""
    if x.dim() == 3:
        return x, STACK
    if x.dim() < 3:
        raise Unsupported("per-replica inputs without a feature dimension")
    return x.movedim(0, 1).flatten(1, 2), CHAN


def compile_layers(model: nn.Module, channels_last: bool = True, features_first: bool = True) -> list[Layer]:
    """The packed program of an `nn.Sequential` (nested ones flattened); `Unsupported` if not.

    Two rewrites that give the same numbers with fewer passes over the largest tensors: a
    ReLU before a 2-D max-pool goes after it (relu is monotone: max then relu is relu then
    max, on 4x fewer values), and a batch norm right after a linear or conv layer is folded
    into that layer's weights in evaluation mode (it is then a fixed per-channel affine map).
    """
    ops = _sequence(model, "")
    layer = partial(_layer, channels_last=channels_last, features_first=features_first)
    layers: list[Layer] = []
    i = 0
    while i < len(ops):
        name, module = ops[i]
        after = ops[i + 1] if i + 1 < len(ops) else ("", None)
        if type(module) is nn.ReLU and type(after[1]) is nn.MaxPool2d:
            layers += [layer(*after), layer(name, module)]
            i += 2
        elif type(module) in (nn.Linear, nn.Conv1d, nn.Conv2d) and type(after[1]) in (nn.BatchNorm1d, nn.BatchNorm2d):
            layers.append(_folding(layer(name, module), name, after[0], after[1]))
            i += 2
        else:
            layers.append(layer(name, module))
            i += 1
    return layers


def _sequence(model: nn.Module, prefix: str) -> list[tuple[str, nn.Module]]:
    if type(model) is not nn.Sequential:
        raise Unsupported(f"{type(model).__name__} is not an nn.Sequential")
    ops: list[tuple[str, nn.Module]] = []
    for name, module in model.named_children():
        if type(module) is nn.Sequential:
            ops += _sequence(module, f"{prefix}{name}.")
        elif not (type(module) in (nn.Dropout, nn.Dropout1d, nn.Dropout2d) and module.p == 0):
            ops.append((f"{prefix}{name}", module))
    return ops


def _layer(name: str, module: nn.Module, channels_last: bool, features_first: bool) -> Layer:
    kind = type(module)
    if kind is nn.Linear:
        return _linear(name, features_first)
    if kind in (nn.Conv1d, nn.Conv2d) and module.padding_mode == "zeros":
        return _conv(name, module, channels_last)
    if kind in (nn.BatchNorm1d, nn.BatchNorm2d):
        return _batch_norm(name, module)
    if kind is nn.Flatten and module.start_dim == 1 and module.end_dim == -1:
        return _flatten
    if kind in ELEMENTWISE:
        return _elementwise(module)
    if kind in POOLS:
        return _pool(module)
    if kind in ELEMENT_DROPOUT or kind in CHANNEL_DROPOUT:
        return _dropout(module)
    raise Unsupported(f"a {kind.__name__} layer")


def _folding(first: Layer, name: str, norm_name: str, norm: nn.BatchNorm1d | nn.BatchNorm2d) -> Layer:
    """A linear or conv layer then a batch norm; in evaluation mode one layer with folded weights."""
    then = _batch_norm(norm_name, norm)

    def run(h: Tensor, layout: str, p: Tensors, b: Tensors, k: int, training: bool) -> tuple[Tensor, str]:
        mean, var = b.get(norm_name + ".running_mean"), b.get(norm_name + ".running_var")  # (K, C)
        if training or mean is None or var is None:
            return then(*first(h, layout, p, b, k, training), p, b, k, training)
        weight, bias = get(p, b, name + ".weight"), get(p, b, name + ".bias")  # (K, C, ...), (K, C)
        gamma, beta = get(p, b, norm_name + ".weight"), get(p, b, norm_name + ".bias")
        scale = torch.rsqrt(var + norm.eps) * (1.0 if gamma is None else gamma)  # (K, C)
        shift = (0.0 if bias is None else bias) * scale - mean * scale + (0.0 if beta is None else beta)
        folded = {name + ".weight": weight * scale.view(*scale.shape, *[1] * (weight.dim() - 2)),
                  name + ".bias": shift}
        return first(h, layout, folded, b, k, training)
    return run


def _linear(name: str, features_first: bool) -> Layer:
    def run(h: Tensor, layout: str, p: Tensors, b: Tensors, k: int, training: bool) -> tuple[Tensor, str]:
        weight, bias = get(p, b, name + ".weight"), get(p, b, name + ".bias")  # (K, O, D), (K, O)
        if h.dim() != (2 if layout in (SHARED, CHAN) else 3):
            raise Unsupported("Linear on more than 2-D inputs")
        if layout == SHARED:  # one matmul with K*O outputs: (B, D) -> (B, K*O)
            flat_bias = None if bias is None else bias.reshape(-1)
            return F.linear(h, weight.reshape(-1, weight.shape[-1]), flat_bias), CHAN
        if layout == CHAN:  # (B, K*D) -> (K, B, D)
            h, layout = h.view(h.shape[0], k, -1).transpose(0, 1), STACK
        if not features_first:  # batch first, (K, B, O): the weight's gradient comes transposed
            h = h.transpose(1, 2) if layout == FEAT else h
            return (torch.bmm(h, weight.transpose(1, 2)) if bias is None
                    else torch.baddbmm(bias.unsqueeze(1), h, weight.transpose(1, 2))), STACK
        return replica_linear(h if layout == FEAT else h.transpose(1, 2), weight, bias), FEAT
    return run


def replica_linear(rows: Tensor, weight: Tensor, bias: Tensor | None) -> Tensor:
    """K linears (K, O, D), (K, O) on features-first inputs (K, D, N) -> (K, O, N): W @ h.

    The weight's gradient (grad @ h^T) then comes out contiguous like the weight. The
    batch-first product h @ W^T gives it transposed, and the optimizer's element-wise update of
    a row-major weight with a transposed gradient ran about 5x slower than with matching layouts
    (stacked_optim.py copies such a gradient first; `benchmarks/stacked_step.py` times both
    forms). Features first, the next linear takes the output as it is and a batch norm sees
    (1, K*O, N) channels without a copy."""
    if bias is None:
        return torch.bmm(weight, rows)
    return torch.baddbmm(bias.unsqueeze(2), weight, rows)


def _conv(name: str, module: nn.Conv1d | nn.Conv2d, channels_last: bool) -> Layer:
    conv = F.conv1d if isinstance(module, nn.Conv1d) else F.conv2d
    stride, padding, dilation, groups = module.stride, module.padding, module.dilation, module.groups

    def run(h: Tensor, layout: str, p: Tensors, b: Tensors, k: int, training: bool) -> tuple[Tensor, str]:
        weight, bias = get(p, b, name + ".weight"), get(p, b, name + ".bias")  # (K, O, I/g, ...), (K, O)
        if layout in (STACK, FEAT):
            raise Unsupported("a convolution after a linear layer")
        flat_weight = weight.reshape(-1, *weight.shape[2:])
        flat_bias = None if bias is None else bias.reshape(-1)
        if channels_last and h.dim() == 4 and h.device.type == "cpu":
            h = _nhwc(h)
        if layout == SHARED and groups == 1:  # shared input: one conv with K*O filters
            return conv(h, flat_weight, flat_bias, stride, padding, dilation, 1), CHAN
        if layout == SHARED:
            h = h.repeat(1, k, *[1] * (h.dim() - 2))
        return conv(h, flat_weight, flat_bias, stride, padding, dilation, groups * k), CHAN
    return run


def _nhwc(h: Tensor) -> Tensor:
    """(B, C, H, W) values in channels-last memory, with strides that say so: with one channel
    both layouts are the same bytes, and a convolution reads the layout from the strides
    (`contiguous(memory_format=...)` keeps NCHW strides there, and the output would be NCHW)."""
    if h.stride(1) == 1 and h.is_contiguous(memory_format=torch.channels_last):
        return h
    return torch.empty_like(h, memory_format=torch.channels_last).copy_(h)


def _batch_norm(name: str, module: nn.BatchNorm1d | nn.BatchNorm2d) -> Layer:
    momentum, eps, track = module.momentum, module.eps, module.track_running_stats

    def run(h: Tensor, layout: str, p: Tensors, b: Tensors, k: int, training: bool) -> tuple[Tensor, str]:
        shape = h.shape
        if layout == FEAT:  # (K, F, B) -> (1, K*F, B): the same memory, channels replica-major
            h = h.reshape(1, -1, shape[-1])
        elif layout == SHARED:
            h = h.repeat(1, k, *[1] * (h.dim() - 2))
        elif layout == STACK:  # (K, B, F) -> (B, K*F)
            h = h.transpose(0, 1).reshape(h.shape[1], -1)
        mean, var = b.get(name + ".running_mean"), b.get(name + ".running_var")  # (K, C)
        factor = 0.0 if momentum is None else momentum
        if training and track:
            count = b[name + ".num_batches_tracked"]  # (K,), equal across live replicas
            count.add_(1)
            if momentum is None:  # cumulative moving average
                factor = 1.0 / float(count[0])
        use_batch = training or mean is None
        weight, bias = get(p, b, name + ".weight"), get(p, b, name + ".bias")
        out = F.batch_norm(h, None if mean is None else mean.view(-1), None if var is None else var.view(-1),
                           None if weight is None else weight.reshape(-1),
                           None if bias is None else bias.reshape(-1), use_batch, factor, eps)
        return (out.view(shape), FEAT) if layout == FEAT else (out, CHAN)
    return run


def _flatten(h: Tensor, layout: str, p: Tensors, b: Tensors, k: int, training: bool) -> tuple[Tensor, str]:
    # (B, K*C, H, W) flattens to (B, K*C*H*W): still replica-major, so still CHAN
    if layout == FEAT:  # (K, F, B): already flat
        return h, layout
    return h.flatten(2 if layout == STACK else 1), layout


def _elementwise(module: nn.Module) -> Layer:
    def run(h: Tensor, layout: str, p: Tensors, b: Tensors, k: int, training: bool) -> tuple[Tensor, str]:
        return module(h), layout
    return run


def _dropout(module: nn.Module) -> Layer:
    """Element-wise dropout acts on any layout; channel dropout on (B, K*C, ...) channels, where
    each replica's channels are its own. The rate is read at each call (the checks set it to 0)."""
    kind = type(module)

    def run(h: Tensor, layout: str, p: Tensors, b: Tensors, k: int, training: bool) -> tuple[Tensor, str]:
        if kind in ELEMENT_DROPOUT:
            return ELEMENT_DROPOUT[kind](h, module.p, training), layout
        drop, dims = CHANNEL_DROPOUT[kind]
        if layout not in (SHARED, CHAN) or h.dim() != dims:
            raise Unsupported(f"{kind.__name__} on {h.dim()}-D {'flat features' if layout in (STACK, FEAT) else 'inputs'}")
        return drop(h, module.p, training), layout
    return run


def _pool(module: nn.Module) -> Layer:
    def run(h: Tensor, layout: str, p: Tensors, b: Tensors, k: int, training: bool) -> tuple[Tensor, str]:
        if layout in (STACK, FEAT) or h.dim() < 3:
            raise Unsupported("pooling of flat features")
        return module(h), layout
    return run


def set_mode(modules: tuple[nn.Module, ...], training: bool) -> None:
    """`modules[0].train(training)` (the root, then every submodule: a model's own `train()`
    override runs too), skipped when every module is in that mode already. A stacked forward
    is told the mode on every call, and it changes only around evaluations; `train()` walks the
    tree and sets an attribute per module: 1-4 % of a small stacked step (`benchmarks/stacked_step.py
    --quick`: the null's vmap step at K = 2 0.75 -> 0.74 ms, the mixer's folded one 1.61 -> 1.55 ms)."""
    if any(module.training is not training for module in modules):
        modules[0].train(training)


def get(p: Tensors, b: Tensors, name: str) -> Tensor | None:
    return p[name] if name in p else b.get(name)
