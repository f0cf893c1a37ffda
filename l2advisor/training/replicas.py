"""K replicas of one model as stacked tensors, run forward in one pass (batched probes).

Every parameter and buffer gets a leading replica dimension K. Two ways to run them:

- packed: an `nn.Sequential` of common layers runs as ordinary kernels over K*channels.
  The K first convolutions are one convolution with K*C_out filters (the input is shared),
  later ones a grouped convolution (groups=K); the K first linears are one matmul, later ones
  a bmm; batch norm is one call over K*C channels, so each replica keeps its own running
  statistics; activations and pooling act per channel. A step costs a few large kernels
  instead of K times many small ones: on a CPU or a GPU the small model's step is mostly
  overhead, and this pays it once.
- vmap: any other model through `torch.func.functional_call` under `vmap`, buffers stacked
  too (batch norm then updates each replica's running statistics in place).

Inputs are shared (B, ...) by default (the lams of one seed see the same batches), or one
batch per replica (K, B, ...) with `per_replica=True` (several seeds in one stack): the packed
path then starts from grouped kernels, vmap maps over the inputs too.

Anything that would not reproduce the sequential numbers (dropout, random ops in forward,
outputs that differ from the model's own on a sample batch) raises `CannotBatch(reason)`.
"""

from __future__ import annotations

import copy
from collections.abc import Callable

import torch
from torch import Tensor, nn
from torch.nn import functional as F

Tensors = dict[str, Tensor]
SHARED, CHAN, STACK = "shared", "chan", "stack"  # (B, ...) for all | (B, K*C, ...) | (K, B, F)
ELEMENTWISE = (nn.ReLU, nn.LeakyReLU, nn.ELU, nn.GELU, nn.SiLU, nn.Tanh, nn.Sigmoid, nn.Softplus,
               nn.Mish, nn.Hardtanh, nn.ReLU6, nn.Identity)
POOLS = (nn.MaxPool1d, nn.MaxPool2d, nn.AvgPool1d, nn.AvgPool2d, nn.AdaptiveAvgPool1d,
         nn.AdaptiveAvgPool2d, nn.AdaptiveMaxPool1d, nn.AdaptiveMaxPool2d)


class CannotBatch(Exception):
    """This model cannot be trained as stacked replicas; `str(err)` says why, in one phrase."""


class _Unsupported(Exception):
    """A layer the packed path does not handle: use vmap instead."""


class Stacked:
    """K replicas: `params` (K, *shape) leaves that require grad, `buffers` (K, *shape)."""

    kind = ""

    def __init__(self, models: list[nn.Module]) -> None:
        params = [dict(m.named_parameters()) for m in models]
        buffers = [dict(m.named_buffers()) for m in models]
        trainable = [name for name, p in params[0].items() if p.requires_grad]
        if not trainable:
            raise CannotBatch("it has no trainable parameters")
        self.params: Tensors = {n: torch.stack([p[n].detach() for p in params]).requires_grad_() for n in trainable}
        frozen = [name for name, p in params[0].items() if not p.requires_grad]  # stacked, never updated
        self.buffers: Tensors = {**{n: torch.stack([p[n].detach() for p in params]) for n in frozen},
                                 **{n: torch.stack([b[n] for b in buffers]) for n in buffers[0]}}

    def __call__(self, x: Tensor, training: bool, params: Tensors | None = None,
                 buffers: Tensors | None = None, per_replica: bool = False) -> Tensor:
        """Outputs (K, B, ...) of every replica on the same inputs x (B, ...), or with
        `per_replica` on its own inputs x[k] (x: (K, B, ...))."""
        raise NotImplementedError

    def after_check(self, model: nn.Module) -> None:
        """Forget what the output check did to Python-side state (a model counting its calls)."""

    def select(self, keep: Tensor) -> None:
        """Keep only the replicas at indices `keep` (the others stopped)."""
        self.params = {n: p.detach()[keep].requires_grad_() for n, p in self.params.items()}
        self.buffers = {n: b[keep] for n, b in self.buffers.items()}

    def subset(self, keep: Tensor) -> tuple[Tensors, Tensors]:
        """Copies of the params and buffers of some replicas (to evaluate only those)."""
        return ({n: p.detach()[keep] for n, p in self.params.items()},
                {n: b[keep] for n, b in self.buffers.items()})


class VmapStacked(Stacked):
    """Any model: `functional_call` of one copy under `vmap` over the stacked state."""

    kind = "vmap"

    def __init__(self, models: list[nn.Module]) -> None:
        super().__init__(models)
        self.base = copy.deepcopy(models[0])

    def after_check(self, model: nn.Module) -> None:
        self.base = copy.deepcopy(model)

    def __call__(self, x: Tensor, training: bool, params: Tensors | None = None,
                 buffers: Tensors | None = None, per_replica: bool = False) -> Tensor:
        from torch.func import functional_call, vmap

        self.base.train(training)

        def one(p: Tensors, b: Tensors, inputs: Tensor) -> Tensor:
            return functional_call(self.base, (p, b), (inputs,))

        return vmap(one, in_dims=(0, 0, 0 if per_replica else None), randomness="error")(
            self.params if params is None else params, self.buffers if buffers is None else buffers, x)


Layer = Callable[[Tensor, str, Tensors, Tensors, int, bool], tuple[Tensor, str]]


class PackedStacked(Stacked):
    """An `nn.Sequential` of known layers, run as K-wide kernels (see the module docstring)."""

    kind = "packed"

    def __init__(self, models: list[nn.Module]) -> None:
        super().__init__(models)
        self.layers = compile_layers(models[0])

    def __call__(self, x: Tensor, training: bool, params: Tensors | None = None,
                 buffers: Tensors | None = None, per_replica: bool = False) -> Tensor:
        params = self.params if params is None else params
        buffers = self.buffers if buffers is None else buffers
        k = len(next(iter(params.values())))
        h, layout = (_own_inputs(x) if per_replica else (x, SHARED))
        for layer in self.layers:
            h, layout = layer(h, layout, params, buffers, k, training)
        if layout == SHARED:
            return h.unsqueeze(0).expand(k, *h.shape)
        if layout == CHAN:  # (B, K*C, ...) -> (K, B, C, ...)
            return h.unflatten(1, (k, -1)).movedim(1, 0)
        return h


def _own_inputs(x: Tensor) -> tuple[Tensor, str]:
    """Per-replica inputs (K, B, ...) in a packed layout: flat features (K, B, F) are already
    STACK; channels (K, B, C, ...) become (B, K*C, ...), replica-major (CHAN)."""
    if x.dim() == 3:
        return x, STACK
    if x.dim() < 3:
        raise _Unsupported("per-replica inputs without a feature dimension")
    return x.movedim(0, 1).flatten(1, 2), CHAN


def compile_layers(model: nn.Module) -> list[Layer]:
    """The packed program of an `nn.Sequential` (nested ones flattened); `_Unsupported` if not.

    Two rewrites that give the same numbers with fewer passes over the largest tensors: a
    ReLU before a 2-D max-pool goes after it (relu is monotone: max then relu is relu then
    max, on 4x fewer values), and a batch norm right after a linear or conv layer is folded
    into that layer's weights in evaluation mode (it is then a fixed per-channel affine map).
    """
    ops = _sequence(model, "")
    layers: list[Layer] = []
    i = 0
    while i < len(ops):
        name, module = ops[i]
        after = ops[i + 1] if i + 1 < len(ops) else ("", None)
        if type(module) is nn.ReLU and type(after[1]) is nn.MaxPool2d:
            layers += [_layer(*after), _layer(name, module)]
            i += 2
        elif type(module) in (nn.Linear, nn.Conv1d, nn.Conv2d) and type(after[1]) in (nn.BatchNorm1d, nn.BatchNorm2d):
            layers.append(_folding(_layer(name, module), name, after[0], after[1]))
            i += 2
        else:
            layers.append(_layer(name, module))
            i += 1
    return layers


def _sequence(model: nn.Module, prefix: str) -> list[tuple[str, nn.Module]]:
    if type(model) is not nn.Sequential:
        raise _Unsupported(type(model).__name__)
    ops: list[tuple[str, nn.Module]] = []
    for name, module in model.named_children():
        if type(module) is nn.Sequential:
            ops += _sequence(module, f"{prefix}{name}.")
        elif not (type(module) in (nn.Dropout, nn.Dropout1d, nn.Dropout2d) and module.p == 0):
            ops.append((f"{prefix}{name}", module))
    return ops


def _layer(name: str, module: nn.Module) -> Layer:
    kind = type(module)
    if kind is nn.Linear:
        return _linear(name)
    if kind in (nn.Conv1d, nn.Conv2d) and module.padding_mode == "zeros":
        return _conv(name, module)
    if kind in (nn.BatchNorm1d, nn.BatchNorm2d):
        return _batch_norm(name, module)
    if kind is nn.Flatten and module.start_dim == 1 and module.end_dim == -1:
        return _flatten
    if kind in ELEMENTWISE:
        return _elementwise(module)
    if kind in POOLS:
        return _pool(module)
    raise _Unsupported(kind.__name__)


def _folding(first: Layer, name: str, norm_name: str, norm: nn.BatchNorm1d | nn.BatchNorm2d) -> Layer:
    """A linear or conv layer then a batch norm; in evaluation mode one layer with folded weights."""
    then = _batch_norm(norm_name, norm)

    def run(h: Tensor, layout: str, p: Tensors, b: Tensors, k: int, training: bool) -> tuple[Tensor, str]:
        mean, var = b.get(norm_name + ".running_mean"), b.get(norm_name + ".running_var")  # (K, C)
        if training or mean is None or var is None:
            return then(*first(h, layout, p, b, k, training), p, b, k, training)
        weight, bias = _get(p, b, name + ".weight"), _get(p, b, name + ".bias")  # (K, C, ...), (K, C)
        gamma, beta = _get(p, b, norm_name + ".weight"), _get(p, b, norm_name + ".bias")
        scale = torch.rsqrt(var + norm.eps) * (1.0 if gamma is None else gamma)  # (K, C)
        shift = (0.0 if bias is None else bias) * scale - mean * scale + (0.0 if beta is None else beta)
        folded = {name + ".weight": weight * scale.view(*scale.shape, *[1] * (weight.dim() - 2)),
                  name + ".bias": shift}
        return first(h, layout, folded, b, k, training)
    return run


def _linear(name: str) -> Layer:
    def run(h: Tensor, layout: str, p: Tensors, b: Tensors, k: int, training: bool) -> tuple[Tensor, str]:
        weight, bias = _get(p, b, name + ".weight"), _get(p, b, name + ".bias")  # (K, O, D), (K, O)
        if h.dim() != (3 if layout == STACK else 2):
            raise _Unsupported("Linear on more than 2-D inputs")
        if layout == SHARED:  # one matmul with K*O outputs: (B, D) -> (B, K*O)
            flat_bias = None if bias is None else bias.reshape(-1)
            return F.linear(h, weight.reshape(-1, weight.shape[-1]), flat_bias), CHAN
        if layout == CHAN:  # (B, K*D) -> (K, B, D)
            h = h.view(h.shape[0], k, -1).transpose(0, 1)
        if bias is None:
            return torch.bmm(h, weight.transpose(1, 2)), STACK
        return torch.baddbmm(bias.unsqueeze(1), h, weight.transpose(1, 2)), STACK
    return run


def _conv(name: str, module: nn.Conv1d | nn.Conv2d) -> Layer:
    conv = F.conv1d if isinstance(module, nn.Conv1d) else F.conv2d
    stride, padding, dilation, groups = module.stride, module.padding, module.dilation, module.groups

    def run(h: Tensor, layout: str, p: Tensors, b: Tensors, k: int, training: bool) -> tuple[Tensor, str]:
        weight, bias = _get(p, b, name + ".weight"), _get(p, b, name + ".bias")  # (K, O, I/g, ...), (K, O)
        if layout == STACK:
            raise _Unsupported("a convolution after a linear layer")
        flat_weight = weight.reshape(-1, *weight.shape[2:])
        flat_bias = None if bias is None else bias.reshape(-1)
        if layout == SHARED and groups == 1:  # shared input: one conv with K*O filters
            return conv(h, flat_weight, flat_bias, stride, padding, dilation, 1), CHAN
        if layout == SHARED:
            h = h.repeat(1, k, *[1] * (h.dim() - 2))
        return conv(h, flat_weight, flat_bias, stride, padding, dilation, groups * k), CHAN
    return run


def _batch_norm(name: str, module: nn.BatchNorm1d | nn.BatchNorm2d) -> Layer:
    momentum, eps, track = module.momentum, module.eps, module.track_running_stats

    def run(h: Tensor, layout: str, p: Tensors, b: Tensors, k: int, training: bool) -> tuple[Tensor, str]:
        if layout == SHARED:
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
        weight, bias = _get(p, b, name + ".weight"), _get(p, b, name + ".bias")
        out = F.batch_norm(h, None if mean is None else mean.view(-1), None if var is None else var.view(-1),
                           None if weight is None else weight.reshape(-1),
                           None if bias is None else bias.reshape(-1), use_batch, factor, eps)
        return out, CHAN
    return run


def _flatten(h: Tensor, layout: str, p: Tensors, b: Tensors, k: int, training: bool) -> tuple[Tensor, str]:
    # (B, K*C, H, W) flattens to (B, K*C*H*W): still replica-major, so still CHAN
    return h.flatten(2 if layout == STACK else 1), layout


def _elementwise(module: nn.Module) -> Layer:
    def run(h: Tensor, layout: str, p: Tensors, b: Tensors, k: int, training: bool) -> tuple[Tensor, str]:
        return module(h), layout
    return run


def _pool(module: nn.Module) -> Layer:
    def run(h: Tensor, layout: str, p: Tensors, b: Tensors, k: int, training: bool) -> tuple[Tensor, str]:
        if layout == STACK or h.dim() < 3:
            raise _Unsupported("pooling of flat features")
        return module(h), layout
    return run


def _get(p: Tensors, b: Tensors, name: str) -> Tensor | None:
    return p[name] if name in p else b.get(name)


def stack_replicas(models: list[nn.Module], sample: Tensor, per_replica: bool = False) -> Stacked:
    """Stack K freshly built replicas; packed when possible, else vmap, else `CannotBatch`.

    `sample` (a few training inputs) checks that the stacked outputs equal the model's own,
    in training and in evaluation mode, before any step is taken; with `per_replica` (the
    replicas will train on batches of their own) that way of calling is checked too.
    """
    for module in models[0].modules():
        if isinstance(module, nn.modules.dropout._DropoutNd) and module.p > 0:
            raise CannotBatch("it uses dropout, whose random masks would differ from the sequential runs")
    attempts: list[type[Stacked]] = [PackedStacked, VmapStacked]
    reason = ""
    for kind in attempts:
        try:
            stacked = kind(models)
            check_outputs(stacked, models[0], sample)
            if per_replica:
                check_outputs(stacked, models[0], sample, per_replica=True)
            stacked.after_check(models[0])
            return stacked
        except _Unsupported:
            continue
        except CannotBatch as err:
            reason = str(err)
        except Exception as err:  # vmap refuses an op, or the layer arithmetic does not fit
            reason = f"{type(err).__name__}: {str(err).splitlines()[0] if str(err) else ''}".rstrip(": ")
    raise CannotBatch(reason or "no batched form of it was found")


@torch.no_grad()
def check_outputs(stacked: Stacked, model: nn.Module, sample: Tensor, per_replica: bool = False) -> None:
    """Replica 0's outputs must equal the model's own, in training mode and in eval mode (on
    shared inputs, or with `per_replica` on inputs of its own)."""
    keep = torch.tensor([0], device=sample.device)
    x = sample.unsqueeze(0) if per_replica else sample  # (1, n, ...): replica 0's own batch
    for training in (True, False):
        reference = copy.deepcopy(model).train(training)(sample)  # a copy: running stats untouched
        params, buffers = stacked.subset(keep)
        mine = stacked(x, training, params, buffers, per_replica)[0]
        if mine.shape != reference.shape or not torch.allclose(mine, reference, rtol=1e-4, atol=1e-5):
            raise CannotBatch("its stacked outputs differ from the model's own")
