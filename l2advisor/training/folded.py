"""K replicas of a custom module as one module on a K-times larger batch: the folded form.

A model that is not an `nn.Sequential` (a mixer, a small transformer block) but whose
parameters all live in `nn.Linear`, `nn.LayerNorm`, `nn.RMSNorm` and `nn.GroupNorm` layers runs its own
forward on the K replicas' inputs stacked along the batch dimension, (K*B, ...), replica-major.
Only the layers that hold parameters need to know about replicas: each reads its (K, ...)
stacked weights and applies replica k's to rows k*B .. (k+1)*B - 1 (a bmm for a linear layer;
for a layer or group norm, which normalize each example on its own, the normalisation then each
replica's scale and shift; RMS norm likewise). Everything between them
(reshapes, transposes, residual sums, means over tokens) acts per example and so per replica.

This is what `torch.func.vmap` computes, without its per-operator wrapping: on the suite's
mixer a training step of 6 replicas is about 1.4x faster (`benchmarks/stacked_step.py`).
`nn.MultiheadAttention` folds the same way (folded_attention.py), so transformers built from
torch's encoder layers do too; convolutions, embeddings and free tensors whose first size is 1
(a class token, a positional table) fold as well (folded_layers.py), so a small vision
transformer does; and batch norms, which normalize over a replica's own rows, each replica
keeping its running statistics (a residual MLP with batch norms: a step of 2-6 replicas
1.3-1.5x faster than under vmap).
A model that mixes examples of a batch (a mean over the batch, batch norm written by hand)
would mix replicas here; `check_independent` in stack_checks.py catches it on a sample and the
model then goes through vmap. A tensor registered under two names (tied weights) is one stack,
read by every layer that holds it (`ReplicaWeights.aliases`), so its gradient sums its uses as
the model's does. Buffers are shared by the replicas, so only constant ones fold
(a causal mask, a fixed scale: equal in every replica, unchanged by the stack's checks); a
buffer that differs between replicas or that the forward changes, a frozen parameter, or a
parameter none of these layers hold (a free (D,) offset, a layer whose weight is used
elsewhere) raise `Unsupported` or fail the check, and the model goes through vmap.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from l2advisor.training.folded_attention import FoldedAttention, fast_path_off
from l2advisor.training.folded_layers import (
    BATCH_NORMS,
    CONVOLUTIONS,
    FoldedBatchNorm,
    FoldedConv,
    FoldedEmbedding,
    set_free_tensors,
    take_free_tensors,
)
from l2advisor.training.packed import Tensors, Unsupported, set_mode

RMS_NORM = getattr(nn, "RMSNorm", None)  # torch >= 2.4 (l2advisor runs from 2.2)


@dataclass
class ReplicaWeights:
    """What the folded layers read during one call: the stacked parameters and K (and, fixed at
    folding, whether the fold holds attention layers)."""

    params: Tensors = field(default_factory=dict)
    k: int = 1
    rows: int = 0  # K*B, the folded batch of this call
    inputs: Tensor | None = None  # the folded batch (K*B, ...) the model was called on, during the call
    attention: bool = False  # set once by fold_model: attention layers, whose fast path each call turns off
    free: list[tuple[nn.Module, str, str]] = field(default_factory=list)  # set once by fold_model: free tensors
    aliases: dict[str, str] = field(default_factory=dict)  # set once: a tied tensor's other names -> its stack's
    buffers: Tensors = field(default_factory=dict)  # the per-replica buffers (K, ...) of this call
    own_buffers: set[str] = field(default_factory=set)  # set once by fold_model: the buffers each replica keeps


class _FoldedLinear(nn.Module):
    def __init__(self, name: str, module: nn.Linear, weights: ReplicaWeights) -> None:
        super().__init__()
        self.name, self.weights = name, weights
        self.in_features, self.out_features = module.in_features, module.out_features  # a forward may read them

    def forward(self, h: Tensor) -> Tensor:  # (K*B, ..., D) -> (K*B, ..., O)
        weight = self.weights.params[self.name + ".weight"]  # (K, O, D)
        bias = self.weights.params.get(self.name + ".bias")  # (K, O) or None
        rows = h.reshape(self.weights.k, -1, h.shape[-1])  # (K, B*..., D): replica-major rows
        out = torch.bmm(rows, weight.transpose(1, 2)) if bias is None \
            else torch.baddbmm(bias.unsqueeze(1), rows, weight.transpose(1, 2))
        return out.reshape(*h.shape[:-1], weight.shape[1])


class _FoldedLayerNorm(nn.Module):
    """Layer norm, or RMS norm (torch >= 2.4): each normalizes every example on its own, so the
    K*B rows take one call, then each replica's scale (and shift)."""

    def __init__(self, name: str, module: nn.Module, weights: ReplicaWeights) -> None:
        super().__init__()
        self.name, self.weights = name, weights
        self.shape, self.eps = tuple(module.normalized_shape), module.eps
        self.rms = type(module) is RMS_NORM

    def forward(self, h: Tensor) -> Tensor:  # (K*B, ..., *shape)
        normed = F.rms_norm(h, self.shape, None, self.eps) if self.rms \
            else F.layer_norm(h, self.shape, None, None, self.eps)
        k = self.weights.k
        return replica_affine(normed, self.weights.params, self.name, (k, -1, *self.shape), (k, 1, *self.shape))


class _FoldedGroupNorm(nn.Module):
    """Group norm normalizes each example over its own groups, so the K*B rows take one call;
    then each replica's per-channel scale and shift over its rows."""

    def __init__(self, name: str, module: nn.GroupNorm, weights: ReplicaWeights) -> None:
        super().__init__()
        self.name, self.weights = name, weights
        self.num_groups, self.num_channels, self.eps = module.num_groups, module.num_channels, module.eps

    def forward(self, h: Tensor) -> Tensor:  # (K*B, C, ...)
        normed = F.group_norm(h, self.num_groups, None, None, self.eps)
        k, spatial = self.weights.k, [1] * (h.dim() - 2)
        return replica_affine(normed, self.weights.params, self.name, (k, -1, *h.shape[1:]),
                              (k, 1, self.num_channels, *spatial))


def replica_affine(normed: Tensor, params: Tensors, name: str, rows: tuple[int, ...],
                   per_replica: tuple[int, ...]) -> Tensor:
    """A norm's scale and shift, replica k's over its rows: `normed` (K*B, ...) viewed as `rows`
    (K, B..., ...), the (K, ...) weight and bias of `name` viewed as `per_replica` to broadcast."""
    weight, bias = params.get(name + ".weight"), params.get(name + ".bias")  # (K, ...) or None
    if weight is None and bias is None:
        return normed
    out = normed.reshape(rows)
    if weight is not None:
        out = out * weight.reshape(per_replica)
    if bias is not None:
        out = out + bias.reshape(per_replica)
    return out.reshape(normed.shape)


def fold_model(model: nn.Module, weights: ReplicaWeights, batch_norms_beside_convolutions: bool = False) -> nn.Module:
    """A copy of `model` whose linear, norm, attention, convolution and embedding layers, and free
    tensors (folded_layers.py), read `weights`; `Unsupported` if the model has a parameter none of
    these can hold. Its other buffers stay its own, one copy for every replica (`FoldedStacked`
    allows only buffers that are equal in every replica and that no call changes); the batch
    norms' statistics, named in `weights.own_buffers`, each replica keeps (`weights.buffers`).
    Batch norms beside convolutions fold only with `batch_norms_beside_convolutions` (benchmarks)."""
    folded = copy.deepcopy(model)
    for name, module in list(folded.named_modules()):
        swap = _folded_layer(name, module, weights)
        if swap is None:
            continue
        parent, _, attribute = name.rpartition(".")
        if not name:
            raise Unsupported("the model is a single layer")
        setattr(folded.get_submodule(parent) if parent else folded, attribute, swap)
    kinds = {type(m) for m in folded.modules()}
    if FoldedBatchNorm in kinds and FoldedConv in kinds and not batch_norms_beside_convolutions:
        # each folded convolution and batch norm lays the rows side by side and back: a small ResNet's
        # step no faster than vmap's, its evaluation 1.2-1.8x slower (CPU, one thread; a residual
        # MLP's step 1.3-1.5x faster): `benchmarks/stacked_step.py --models resnet_digits,resmlp_digits`
        raise Unsupported("batch norms beside convolutions (vmap runs them faster)")
    weights.free = take_free_tensors(folded)
    return folded


def _folded_layer(name: str, module: nn.Module, weights: ReplicaWeights) -> nn.Module | None:
    """The folded form of one layer, None for a module that holds no parameters of its own."""
    if type(module) is nn.Linear:
        return _FoldedLinear(name, module, weights)
    if type(module) in (nn.LayerNorm, RMS_NORM):
        return _FoldedLayerNorm(name, module, weights)
    if type(module) is nn.GroupNorm:
        return _FoldedGroupNorm(name, module, weights)
    if type(module) is nn.MultiheadAttention:  # its out_proj goes with it
        weights.attention = True
        return FoldedAttention(name, module, weights)
    if type(module) in CONVOLUTIONS:
        return FoldedConv(name, module, weights)
    if type(module) is nn.Embedding:
        return FoldedEmbedding(name, module, weights)
    if type(module) in BATCH_NORMS:
        return FoldedBatchNorm(name, module, weights)
    return None


def run_folded(modules: tuple[nn.Module, ...], weights: ReplicaWeights, x: Tensor, params: Tensors,
               buffers: Tensors, training: bool, per_replica: bool) -> Tensor:
    """Outputs (K, B, ...) of the K replicas in `params` (and `buffers`, those each keeps: batch
    norms' statistics, moved in place in training) on shared inputs x (B, ...) or, with
    `per_replica`, on their own x (K, B, ...); `modules`: the folded model's, the root first."""
    k = len(next(iter(params.values())))
    weights.params = {**params, **{alias: params[name] for alias, name in weights.aliases.items()}} \
        if weights.aliases else params  # a tied weight: each layer that holds it reads the one stack
    weights.k, weights.buffers = k, buffers
    folded = modules[0]
    set_mode(modules, training)
    batch = x.flatten(0, 1) if per_replica else x.repeat(k, *[1] * (x.dim() - 1))  # (K*B, ...)
    weights.rows, weights.inputs = batch.shape[0], batch
    set_free_tensors(weights.free, params, batch.shape[0])
    try:
        with fast_path_off(weights.attention):
            out = folded(batch)
    finally:
        weights.params, weights.buffers, weights.inputs = {}, {}, None  # no reference to the replicas between calls
        set_free_tensors(weights.free, {}, 0)
    return out.unflatten(0, (k, -1))
