"""What a stack of replicas must show on a sample before it trains: the model's own numbers.

Each check runs the stacked form and the user's model side by side on a few training inputs:

  outputs       replica 0's outputs equal the model's, in training and in evaluation mode;
  independence  two replicas with different weights each give what the model gives with their
                weights (a forward that mixes the examples of a batch would mix replicas in the
                folded form, which shares one batch dimension);
  gradients     those two replicas' gradients equal the model's own. The forward can be right
                and the backward wrong: torch 2.14's vmap gives an embedding's padding row a
                gradient in every replica but the first (`padding_idx` honoured for replica 0
                only), which no output check sees.

A failed check raises `CannotBatch` with the reason; the caller tries the next form.
"""

from __future__ import annotations

import copy
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING

import torch
from torch import Tensor, nn

if TYPE_CHECKING:
    from l2advisor.training.packed import Tensors
    from l2advisor.training.replicas import Stacked


def kept_generators(sample: Tensor) -> AbstractContextManager[None]:
    """`torch.random.fork_rng` for work on `sample`'s device: the CPU generator and, on CUDA,
    that device's are as they were afterwards (a check must not change what the probes draw)."""
    return torch.random.fork_rng(devices=[sample.device.index or 0] if sample.device.type == "cuda" else [])


class CannotBatch(Exception):
    """This model cannot be trained as stacked replicas; `str(err)` says why, in one phrase."""


def check_stack(stacked: Stacked, model: nn.Module, sample: Tensor, per_replica: bool) -> None:
    """Every check on `sample` (a few training inputs); with `per_replica` (replicas will train
    on batches of their own) that way of calling too."""
    check_outputs(stacked, model, sample)
    if per_replica:
        check_outputs(stacked, model, sample, per_replica=True)
    if stacked.mixes_batch_possible:
        check_independent(stacked, model, sample)
    check_gradients(stacked, model, sample, per_replica)


def same_outputs(mine: Tensor, reference: Tensor) -> bool:
    """Equal up to float rounding, measured against the outputs' scale: every difference within
    1e-3 of the largest |output| (plus 1e-5). An element-wise relative test (rtol 1e-4) failed on
    rounding alone: the bundled default's channels-last convolutions then batch norm over 16
    examples put logits near 0 off by up to 6e-5 (half of 1e-4 of the largest), and 10 of 24
    seed pairs fell back to vmap, 3x slower. A wrong layer is off by the outputs' own size."""
    if mine.shape != reference.shape:
        return False
    return bool((mine - reference).abs().max() <= 1e-3 * reference.abs().max() + 1e-5)


def same_gradients(mine: Tensor, reference: Tensor, floor: float) -> bool:
    """Equal up to float rounding and what max-pooling makes of it: the difference within 20 %
    of the largest |gradient| element-wise and 5 % of the gradient's norm over the tensor, plus
    `floor` per element (a gradient that is zero but for rounding, a bias before a layer norm
    over its own axis, is compared against the model's other gradients). Max-pooling turns
    rounding into a different maximum where two values nearly tie: one such window of the
    bundled default (seed 4, channels-last) put its first convolution's gradient 1.8 % (largest
    element) and 1.0 % (norm) off the model's own. A wrong backward (a row that should get no
    gradient, another replica's weights) is off by the gradient's own size."""
    if mine.shape != reference.shape:
        return False
    diff = mine - reference
    return bool(diff.abs().max() <= 0.2 * reference.abs().max() + floor
                and diff.norm() <= 0.05 * reference.norm() + floor * diff.numel() ** 0.5)


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
        if not same_outputs(mine, reference):
            raise CannotBatch("its stacked outputs differ from the model's own")


@torch.no_grad()
def check_independent(stacked: Stacked, model: nn.Module, sample: Tensor) -> None:
    """Two replicas with different weights, on shared and on their own inputs, must each give
    what the model gives with their weights: a forward that mixes the examples of a batch
    (a mean over it) would mix replicas when they share one batch dimension."""
    first, other = _two_replicas(stacked)
    params = {n: torch.stack([first[n], other[n]]) for n in first}
    # the buffers each replica keeps (a folded batch norm's statistics): the other replica's differ
    # too, so a layer that read replica 0's statistics for every replica fails in evaluation mode
    first_buffers = {n: b[0].clone() for n, b in stacked.buffers.items()}
    other_buffers = {n: _other_weights(b) if b.is_floating_point() else b.clone() for n, b in first_buffers.items()}
    own = torch.stack([sample, sample.flip(0)])  # (2, n, ...): each replica its own order of examples
    for training in (True, False):
        references = [_with_weights(model, weights, buffers).train(training)
                      for weights, buffers in ((first, first_buffers), (other, other_buffers))]
        for inputs, per_replica in ((sample, False), (own, True)):
            buffers = {n: torch.stack([first_buffers[n], other_buffers[n]]) for n in first_buffers}  # moved in training
            outputs = stacked(inputs, training, params, buffers, per_replica)
            for k, reference in enumerate(references):
                expected = reference(own[k] if per_replica else sample)
                if not same_outputs(outputs[k], expected):
                    raise CannotBatch("its replicas' outputs did not match the model's own (the forward mixes the examples "
                                       "of a batch, or changes state between calls)")


def check_gradients(stacked: Stacked, model: nn.Module, sample: Tensor, per_replica: bool) -> None:
    """Two replicas with different weights, in training mode, on shared inputs (and with
    `per_replica` on their own): the gradients of a fixed random projection of their outputs
    equal those of the model with their weights."""
    first, other = _two_replicas(stacked)
    own = torch.stack([sample, sample.flip(0)])
    for inputs, own_batches in ((sample, False), *(((own, True),) if per_replica else ())):
        params = {n: torch.stack([first[n], other[n]]).requires_grad_() for n in first}
        buffers = {n: b[:1].expand(2, *b.shape[1:]).clone() for n, b in stacked.buffers.items()}  # replica 0's, twice
        outputs = stacked(inputs, True, params, buffers, own_batches)  # (2, n, ...)
        projection = torch.randn(outputs.shape[1:], generator=torch.Generator().manual_seed(0)).to(outputs)
        mine = _gradients((outputs * projection).sum(), params)
        for k, weights in enumerate((first, other)):
            reference = _with_weights(model, weights).train(True)
            out = reference(own[k] if own_batches else sample)
            theirs = _gradients((out * projection).sum(), dict(reference.named_parameters()), names=first)
            floor = 1e-4 * max(float(g.abs().max()) for g in theirs.values())  # rounding of the model's largest
            for name in first:
                if not same_gradients(mine[name][k], theirs[name], floor):
                    raise CannotBatch(f"its stacked gradients differ from the model's own ({name}), "
                                      "a form that cannot train it")


def _gradients(loss: Tensor, params: Tensors, names: Tensors | None = None) -> Tensors:
    """d loss / d params[n] for every n (of `names` when given), zeros for a parameter unused."""
    chosen = list(params if names is None else names)
    grads = torch.autograd.grad(loss, [params[n] for n in chosen], allow_unused=True)
    return {n: torch.zeros_like(params[n]) if g is None else g for n, g in zip(chosen, grads, strict=True)}


def _two_replicas(stacked: Stacked) -> tuple[Tensors, Tensors]:
    """Replica 0's trainable weights, and another replica's that differ from them everywhere."""
    first = {n: p[0].detach() for n, p in stacked.params.items()}
    return first, {n: _other_weights(p) for n, p in first.items()}


def _other_weights(weights: Tensor) -> Tensor:
    """`weights` scaled by 1 .. 1.5 and shifted by up to +-5 % of their mean size (at least
    +-0.005), element by element: a zero-initialized tensor (a class token, a bias) differs too,
    so a layer that gave every replica replica 0's copy fails the check."""
    generator = torch.Generator().manual_seed(weights.numel())  # the global RNG is left alone
    scale, shift = (torch.rand(weights.shape, generator=generator).to(weights.device) for _ in range(2))
    size = weights.abs().mean().clamp_min(0.1) if weights.numel() else 1.0
    return weights * (1.0 + 0.5 * scale) + 0.1 * size * (shift - 0.5)


def _with_weights(model: nn.Module, weights: Tensors, buffers: Tensors | None = None) -> nn.Module:
    """A copy of `model` with `weights` (and `buffers`) in place of its own, where named."""
    copied = copy.deepcopy(model)
    with torch.no_grad():
        for name, tensor in (*copied.named_parameters(), *copied.named_buffers()):
            given = weights.get(name, (buffers or {}).get(name))
            if given is not None:
                tensor.copy_(given)
    return copied
