"""More layers in the folded form (folded.py): convolutions, batch norms, embeddings and free parameters.

What a vision transformer or a small language model holds besides linear, layer-norm and
attention layers: a patch embedding (`nn.Conv1d` / `nn.Conv2d`), a token embedding
(`nn.Embedding`), and learned tensors kept directly on a module (a class token (1, 1, D), a
positional table (1, T, D)); and what a residual MLP holds: batch norms. Each reads replica k's
weights for rows k*B .. (k+1)*B - 1 of the folded batch (K*B, ...), replica-major, as a folded
linear layer does:

  convolution  the K replicas' rows side by side as channels, (B, K*C, ...), one grouped
               convolution (groups = K * the layer's groups), and back to (K*B, O, ...);
  batch norm   side by side the same way, one batch norm over the K*C channels, each replica's
               running statistics its own (the only buffers a fold keeps per replica);
  embedding    replica k's indices offset by k * V into the K tables laid end to end (K*V, D);
  free tensor  a parameter whose first size is 1, which the model broadcasts (or expands) over
               its batch: the folded model sees (K*B, ...) instead, each row its replica's copy.

Every layer reads its input's leading dimension as the folded batch, whatever the model passes
it, except an embedding: one looked up without the batch (positions, `torch.arange(T)`, in the
style of nanoGPT) gives each row of the folded batch its replica's rows, (K*B, T, D), which the
model's own `tok + pos` broadcast then adds as it would (T, D); indices of two or more dimensions
with a leading size 1 ((1, T), Hugging Face's position ids) are taken as the batch the lookup
broadcasts over, and give (K*B, T, D) too. Which way an embedding is
called is settled by its first call on two or more replicas: an index tensor whose first size
is the folded batch's, or a view of the model's input (its tokens flattened), is batched, any
other is not, and every later call must agree. A model whose positions happen to be as many as
those rows, or that calls one embedding both ways, fails the stack's check (two replicas with
different weights, stack_checks.py `check_independent`) and goes to vmap; so does one that
reshapes such a lookup (`pos[None]`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from l2advisor.training.packed import Unsupported

if TYPE_CHECKING:
    from l2advisor.training.folded import ReplicaWeights

CONVOLUTIONS = {nn.Conv1d: F.conv1d, nn.Conv2d: F.conv2d}
BATCH_NORMS = (nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d)


class FoldedConv(nn.Module):
    """Replaces one `nn.Conv1d` / `nn.Conv2d` named `name` (zero padding only)."""

    def __init__(self, name: str, module: nn.Conv1d | nn.Conv2d, weights: ReplicaWeights) -> None:
        super().__init__()
        if module.padding_mode != "zeros":
            raise Unsupported(f"convolutions padded with {module.padding_mode!r}")
        self.name, self.weights, self.conv = name, weights, CONVOLUTIONS[type(module)]
        self.stride, self.padding, self.dilation, self.groups = module.stride, module.padding, module.dilation, module.groups

    def forward(self, h: Tensor) -> Tensor:  # (K*B, C, *S) -> (K*B, O, *S')
        weight = self.weights.params[self.name + ".weight"]  # (K, O, C / groups, *kernel)
        bias = self.weights.params.get(self.name + ".bias")  # (K, O) or None
        k = self.weights.k
        out = self.conv(side_by_side(h, k), weight.flatten(0, 1), None if bias is None else bias.flatten(),
                        self.stride, self.padding, self.dilation, self.groups * k)  # (B, K*O, *S')
        return back_to_rows(out, k)


class FoldedBatchNorm(nn.Module):
    """Replaces one `nn.BatchNorm1d` / `2d` / `3d` named `name`. The replicas' rows go side by side as
    K*C channels, as for a folded convolution, and one batch norm runs over them: each replica is
    normalized over its own B examples, with its own scale, shift and running statistics. Those
    statistics are (K, C) stacks among the stack's buffers (`ReplicaWeights.buffers`); torch's
    kernel moves them in place through their flat (K*C,) views, as it moves the module's own."""

    def __init__(self, name: str, module: nn.modules.batchnorm._BatchNorm, weights: ReplicaWeights) -> None:
        super().__init__()
        self.name, self.weights = name, weights
        self.eps, self.momentum, self.tracks = module.eps, module.momentum, module.track_running_stats
        if self.tracks:  # each replica's own: not constants shared by the fold
            weights.own_buffers.update(f"{name}.{b}" for b in ("running_mean", "running_var", "num_batches_tracked"))

    def forward(self, h: Tensor) -> Tensor:  # (K*B, C, *S) -> (K*B, C, *S)
        k, params, buffers = self.weights.k, self.weights.params, self.weights.buffers
        weight, bias = params.get(self.name + ".weight"), params.get(self.name + ".bias")  # (K, C) or None
        mean = var = None
        momentum = self.momentum
        if self.tracks:  # views of the stacks (contiguous by construction: view refuses a copy)
            mean, var = buffers[self.name + ".running_mean"].view(-1), buffers[self.name + ".running_var"].view(-1)
            if self.training:
                count = buffers[self.name + ".num_batches_tracked"]  # (K,), equal: a stack's replicas step together
                count.add_(1)
                if momentum is None:  # a cumulative average, as the module's own forward weighs it
                    momentum = 1.0 / float(count[0])
        out = F.batch_norm(side_by_side(h, k), mean, var, None if weight is None else weight.flatten(),
                           None if bias is None else bias.flatten(), self.training or not self.tracks,
                           0.0 if momentum is None else momentum, self.eps)
        return back_to_rows(out, k)


def side_by_side(h: Tensor, k: int) -> Tensor:
    """(K*B, C, *S) replica-major rows -> (B, K*C, *S): replica k's channels at k*C .. (k+1)*C - 1."""
    return h.reshape(k, -1, *h.shape[1:]).transpose(0, 1).reshape(-1, k * h.shape[1], *h.shape[2:])


def back_to_rows(out: Tensor, k: int) -> Tensor:
    """(B, K*C, *S) -> (K*B, C, *S), the inverse of `side_by_side`."""
    b, channels = out.shape[0], out.shape[1] // k
    return out.reshape(b, k, channels, *out.shape[2:]).transpose(0, 1).reshape(k * b, channels, *out.shape[2:])


class FoldedEmbedding(nn.Module):
    """Replaces one `nn.Embedding` named `name`; the padding index keeps torch's meaning (its row
    is looked up but gets no gradient). Called on the folded batch's indices (K*B, ...), or
    without the batch (see the module docstring)."""

    def __init__(self, name: str, module: nn.Embedding, weights: ReplicaWeights) -> None:
        super().__init__()
        if module.max_norm is not None or module.sparse or module.scale_grad_by_freq:
            raise Unsupported("embeddings with max_norm, sparse gradients or scale_grad_by_freq")
        self.name, self.weights, self.padding_idx = name, weights, module.padding_idx
        self.batched: bool | None = None  # settled by the first call on two or more replicas

    def forward(self, indices: Tensor) -> Tensor:
        # (K*B, ...) -> (K*B, ..., D); unbatched (...) -> (K*B, ..., D), and (1, T, ...) -> (K*B, T, ..., D):
        # that leading size 1 is the batch the model's own lookup broadcasts over (Hugging Face's position ids)
        table = self.weights.params[self.name + ".weight"]  # (K, V, D)
        k, rows = self.weights.k, self.weights.rows
        if k == 1:  # one replica: both ways are the model's own lookup
            out = F.embedding(indices, table[0])
        elif self._batched(indices, rows):
            offsets = torch.arange(k, device=indices.device).mul_(table.shape[1]).unsqueeze(1)  # (K, 1)
            out = F.embedding(indices.reshape(k, -1) + offsets, table.flatten(0, 1))  # (K, B*..., D)
            out = out.reshape(*indices.shape, table.shape[-1])
        else:  # each replica's rows for the same indices, over its B rows of the folded batch
            if indices.dim() > 1 and indices.shape[0] == 1:  # (1, T): its (1, T, D) broadcasts over the batch
                indices = indices[0]  # ((1,) stays: its (1, D) may broadcast over tokens too)
            out = replica_rows(table[:, indices], rows)  # (K, ..., D) -> (K*B, ..., D)
            indices = indices.expand(rows, *indices.shape)
        if self.padding_idx is None:
            return out
        return torch.where((indices == self.padding_idx).unsqueeze(-1), out.detach(), out)

    def _batched(self, indices: Tensor, rows: int) -> bool:
        """Whether `indices` carry the folded batch (its rows first, or a view of the model's
        input, such as its tokens flattened): fixed by the first call, checked on later ones."""
        if self.batched is False:  # settled: nothing to check (a batched call could look like it)
            return False
        inputs = self.weights.inputs
        carries = (indices.dim() > 0 and indices.shape[0] == rows) or (
            inputs is not None and indices.untyped_storage().data_ptr() == inputs.untyped_storage().data_ptr())
        if self.batched is None:
            self.batched = carries
        elif not carries:
            raise ValueError(f"embedding {self.name} was called on the batch's indices, now on a tensor of "
                             f"shape {tuple(indices.shape)}")
        return self.batched


def take_free_tensors(folded: nn.Module) -> list[tuple[nn.Module, str, str]]:
    """Remove the parameters left on `folded`'s modules once its layers are swapped, and return
    (module, attribute, parameter name) for each, to be set per call by `set_free_tensors`.
    `Unsupported` for one whose first size is not 1: a per-example broadcast is the only use
    of it that rows of replicas can stand in for."""
    free = []
    for name, param in list(folded.named_parameters()):
        owner, _, attribute = name.rpartition(".")
        if param.dim() < 2 or param.shape[0] != 1:
            raise Unsupported(f"parameters outside nn.Linear, norm, nn.MultiheadAttention, convolution and "
                              f"embedding layers ({name}: only a free tensor whose first size is 1 folds)")
        module = folded.get_submodule(owner) if owner else folded
        del module._parameters[attribute]
        free.append((module, attribute, name))
    return free


def set_free_tensors(free: list[tuple[nn.Module, str, str]], params: dict[str, Tensor], rows: int) -> None:
    """Give each free tensor's module, for this call, the (K*B, ...) rows of its replicas' copies
    ((K, 1, ...) stacked, B = rows / K); `params` empty: take them away again."""
    for module, attribute, name in free:
        if not params:
            module.__dict__.pop(attribute, None)
            continue
        module.__dict__[attribute] = replica_rows(params[name][:, 0], rows)  # (K, 1, ...) -> (K*B, ...)


def replica_rows(per_replica: Tensor, rows: int) -> Tensor:
    """(K, ...) -> (rows, ...), replica k's tensor repeated over its rows // K rows of the folded
    batch (replica-major): what broadcasting over the batch gives one model's rows."""
    k = per_replica.shape[0]
    return per_replica.unsqueeze(1).expand(k, rows // k, *per_replica.shape[1:]).reshape(rows, *per_replica.shape[1:])
