"""More layers in the folded form (folded.py): convolutions, embeddings and free parameters.

What a vision transformer or a small language model holds besides linear, layer-norm and
attention layers: a patch embedding (`nn.Conv1d` / `nn.Conv2d`), a token embedding
(`nn.Embedding`), and learned tensors kept directly on a module (a class token (1, 1, D), a
positional table (1, T, D)). Each reads replica k's weights for rows k*B .. (k+1)*B - 1 of the
folded batch (K*B, ...), replica-major, as a folded linear layer does:

  convolution  the K replicas' rows side by side as channels, (B, K*C, ...), one grouped
               convolution (groups = K * the layer's groups), and back to (K*B, O, ...);
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
        k, channels, space = self.weights.k, h.shape[1], h.shape[2:]
        side_by_side = h.reshape(k, -1, channels, *space).transpose(0, 1).reshape(-1, k * channels, *space)
        out = self.conv(side_by_side, weight.flatten(0, 1), None if bias is None else bias.flatten(),
                        self.stride, self.padding, self.dilation, self.groups * k)  # (B, K*O, *S')
        b, filters = out.shape[0], weight.shape[1]
        return out.reshape(b, k, filters, *out.shape[2:]).transpose(0, 1).reshape(k * b, filters, *out.shape[2:])


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
            raise Unsupported(f"parameters outside nn.Linear, nn.LayerNorm, nn.MultiheadAttention, convolution and "
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
