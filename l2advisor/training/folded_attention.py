"""`nn.MultiheadAttention` in the folded form: K replicas' attention on K*B examples.

Attention mixes the tokens of one example, never examples, so K replicas can share one call
over their stacked batches (N = K*B) as linear layers do in folded.py: each replica's rows get
its own input and output projections (a bmm over (K, B*L, E)), and scaled dot-product
attention runs on all N examples at once. `nn.TransformerEncoderLayer` and `nn.TransformerEncoder`
are linear, layer-norm and attention layers, so a transformer built from them (and linear
embeddings) folds too. On examples/transformer_digits.py (two encoder layers over 8 tokens) a
training step of 6 replicas took 9.2 ms folded against 12.8 ms through vmap, whose CPU attention
has no batching rule and runs one replica at a time (1.39-1.41x for K = 2..6; an evaluation pass
1.21-1.26x; one model's own step 3.2 ms; `benchmarks/stacked_step.py --models transformer_digits`).

Follows `F.multi_head_attention_forward`'s arithmetic (same masks, same scaling; weights
computed only when asked for; attention dropout on the weights in training mode, each of the
K*B examples its own masks). `bias_k`/`bias_v`, `add_zero_attn`, separate key/value sizes raise
`Unsupported` at folding; a per-head 3-D `attn_mask` (N*H, L, S) raises
when called, which the stack's check meets first. The layers' inference fast path reads their
weights directly, so `run_folded` turns it off around each call.
"""

from __future__ import annotations

import math
from contextlib import contextmanager
from typing import TYPE_CHECKING

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from l2advisor.training.packed import Unsupported

if TYPE_CHECKING:
    from collections.abc import Iterator

    from l2advisor.training.folded import ReplicaWeights

COPIED = ("embed_dim", "num_heads", "head_dim", "batch_first", "dropout", "kdim", "vdim", "_qkv_same_embed_dim")


class FoldedAttention(nn.Module):
    """Replaces one `nn.MultiheadAttention` named `name`; reads its stacked weights from `weights`."""

    def __init__(self, name: str, module: nn.MultiheadAttention, weights: ReplicaWeights) -> None:
        super().__init__()
        if not module._qkv_same_embed_dim or module.bias_k is not None or module.add_zero_attn:
            raise Unsupported("attention with separate key/value sizes, bias_k/bias_v or add_zero_attn")
        self.name, self.weights = name, weights
        for attribute in COPIED:  # what callers read (TransformerEncoder reads batch_first)
            setattr(self, attribute, getattr(module, attribute))

    def forward(self, query: Tensor, key: Tensor, value: Tensor, key_padding_mask: Tensor | None = None,
                need_weights: bool = True, attn_mask: Tensor | None = None, average_attn_weights: bool = True,
                is_causal: bool = False) -> tuple[Tensor, Tensor | None]:
        if not self.batch_first:  # (L, N, E) -> (N, L, E), self-attention kept as one tensor
            same = query is key and key is value
            query, key, value = (query.transpose(0, 1),) * 3 if same else (t.transpose(0, 1) for t in (query, key, value))
        q, k, v = self._project_in(query, key, value)  # (N, H, L or S, d)
        mask = _additive_mask(attn_mask, key_padding_mask, q)  # (N or 1, 1, L, S) or None
        causal = is_causal and key_padding_mask is None and not need_weights and attn_mask is not None
        if is_causal and attn_mask is None:
            raise RuntimeError("Need attn_mask if specifying the is_causal hint.")  # as torch's own attention
        weights = None
        if need_weights:
            scores = (q * (1.0 / math.sqrt(q.shape[-1]))) @ k.transpose(-2, -1)  # (N, H, L, S)
            weights = torch.softmax(scores if mask is None else scores + mask, dim=-1)
            weights = F.dropout(weights, self.dropout) if self.training and self.dropout > 0 else weights
            attended = weights @ v
            weights = weights.mean(1) if average_attn_weights else weights
        else:
            attended = F.scaled_dot_product_attention(q, k, v, attn_mask=None if causal else mask, is_causal=causal,
                                                      dropout_p=self.dropout if self.training else 0.0)
        out = self._project_out(attended)  # (N, L, E)
        return (out if self.batch_first else out.transpose(0, 1)), weights

    def _stack(self, suffix: str) -> Tensor | None:
        return self.weights.params.get(f"{self.name}.{suffix}")

    def _project_in(self, query: Tensor, key: Tensor, value: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """Each replica's rows through its own in-projection (K, 3E, E): q, k, v as (N, H, len, d)."""
        weight, bias = self._stack("in_proj_weight"), self._stack("in_proj_bias")  # (K, 3E, E), (K, 3E)
        e = self.embed_dim
        if query is key and key is value:  # self-attention: one product, as torch makes it
            q, k, v = self._rows(query, weight, bias).chunk(3, dim=-1)
        else:
            parts = [(w, None if bias is None else b) for w, b in
                     zip(weight.split(e, dim=1), (bias.split(e, dim=1) if bias is not None else (None,) * 3),
                         strict=True)]
            q, k, v = (self._rows(t, w, b) for t, (w, b) in zip((query, key, value), parts, strict=True))
        n = query.shape[0]
        return tuple(t.reshape(n, -1, self.num_heads, self.head_dim).transpose(1, 2) for t in (q, k, v))

    def _project_out(self, attended: Tensor) -> Tensor:
        n, _, length, _ = attended.shape
        merged = attended.transpose(1, 2).reshape(n, length, self.embed_dim)
        return self._rows(merged, self._stack("out_proj.weight"), self._stack("out_proj.bias"))

    def _rows(self, h: Tensor, weight: Tensor, bias: Tensor | None) -> Tensor:
        """(N, len, D) through replica k's (O, D) weight for rows k*B .. (k+1)*B - 1: (N, len, O)."""
        rows = h.reshape(self.weights.k, -1, h.shape[-1])  # (K, B*len, D)
        out = torch.bmm(rows, weight.transpose(1, 2)) if bias is None \
            else torch.baddbmm(bias.unsqueeze(1), rows, weight.transpose(1, 2))
        return out.reshape(*h.shape[:-1], weight.shape[1])


def _additive_mask(attn_mask: Tensor | None, key_padding_mask: Tensor | None, like: Tensor) -> Tensor | None:
    """torch's two masks as one float mask to add to the scores: -inf where a bool mask is True
    (a position not to attend), a float mask as it is; (L, S) and (N, S) broadcast to (N, 1, L, S)."""
    def additive(mask: Tensor) -> Tensor:
        if mask.dtype == torch.bool:
            return torch.zeros(mask.shape, dtype=like.dtype, device=like.device).masked_fill(mask, float("-inf"))
        return mask.to(like.dtype)

    merged = None
    if attn_mask is not None:
        if attn_mask.dim() != 2:
            raise ValueError("folded attention takes an (L, S) attn_mask only")
        merged = additive(attn_mask)
    if key_padding_mask is not None:
        padding = additive(key_padding_mask)[:, None, None, :]  # (N, 1, 1, S)
        merged = padding if merged is None else merged + padding
    return merged


@contextmanager
def fast_path_off(active: bool) -> Iterator[None]:
    """Turn off the transformer layers' inference fast path (it reads each layer's own weights,
    which the folded layers do not hold) while `active`; restore it after."""
    mha = getattr(torch.backends, "mha", None)  # torch >= 2.1; without it the layers' check of the
    if not active or not hasattr(mha, "set_fastpath_enabled"):  # fast path fails and the model goes to vmap
        yield
        return
    before = mha.get_fastpath_enabled()
    mha.set_fastpath_enabled(False)
    try:
        yield
    finally:
        mha.set_fastpath_enabled(before)
