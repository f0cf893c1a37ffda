"""Dropout in stacked replicas: each replica draws its own masks, as it would training alone.

Stacked probes cannot reproduce one-by-one training's dropout masks to the bit (the K replicas
draw from one generator, in another order), but they need not: a probe is one sample of a
random training run, and what must hold is that each replica's masks are distributed as its
own run's would be (every unit dropped with probability p, the survivors scaled by 1/(1-p),
independently of the other replicas). Each stacked form gives that (replicas.py): the folded
form runs the model's own dropout layers on the K*B examples of the stack, the packed form its
dropout over the replica-major features or channels, and vmap draws per replica
(randomness="different").

What the stack's checks compare (stack_checks.py) are numbers that must be equal, so they run
with every dropout rate set to 0 (`silenced`): the layers then pass their inputs through, in
the model and in its stacked form alike. Randomness other than dropout layers cannot be
checked that way, so a model with dropout must give the same outputs on two calls once its
dropout is silenced (`dropout_use`). Dropout rates are the `p` of torch's dropout
layers and float attributes named with "dropout" (nn.MultiheadAttention's `dropout`, or a
module of one's own passing its rate to `F.scaled_dot_product_attention(dropout_p=...)` as
nanoGPT's and Hugging Face's attention do).
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING

import torch
from torch import Tensor, nn

from l2advisor.training.stack_checks import kept_generators, same_outputs

if TYPE_CHECKING:
    from l2advisor.training.replicas import Stacked


def rates(model: nn.Module) -> list[tuple[nn.Module, str, float]]:
    """Every dropout rate in `model` above 0: (module, attribute, rate). A rate is a dropout
    layer's `p`, or a module's float attribute named with "dropout" (nn.MultiheadAttention's
    `dropout`, nanoGPT's, Hugging Face Llama's `attention_dropout`) that such modules pass to
    `scaled_dot_product_attention(dropout_p=...)`."""
    found = []
    for module in model.modules():
        if isinstance(module, nn.modules.dropout._DropoutNd):
            named = [("p", module.p)]
        else:
            named = [(name, value) for name, value in vars(module).items()
                     if "dropout" in name.lower() and type(value) is float]
        found += [(module, name, float(value)) for name, value in named if value > 0]
    return found


def has_dropout(model: nn.Module) -> bool:
    return bool(rates(model))


@contextmanager
def silenced(*models: nn.Module) -> Iterator[None]:
    """Every dropout rate of `models` set to 0 inside the block (a module shared between them
    once), restored after: dropout layers then pass their inputs through unchanged."""
    seen: dict[tuple[int, str], tuple[nn.Module, str, float]] = {}
    for model in models:
        for module, attribute, rate in rates(model):
            seen.setdefault((id(module), attribute), (module, attribute, rate))
    try:
        for module, attribute, _ in seen.values():
            setattr(module, attribute, 0.0)
        yield
    finally:
        for module, attribute, rate in seen.values():
            setattr(module, attribute, rate)


@dataclass(frozen=True)
class DropoutUse:
    """What a model with dropout does besides it, seen on a sample (`dropout_use`)."""

    draws_outside: bool  # other random numbers (noise added in `forward`), or state that changes between calls
    outside_batch: bool  # a dropout layer given a tensor whose first size is not the batch's


@torch.no_grad()
def dropout_use(model: nn.Module, sample: Tensor) -> DropoutUse:
    """Two calls of a copy of `model` on `sample`, in training mode, dropout silenced.

    Different outputs: random numbers outside its dropout layers, which the stack's checks
    cannot compare. A dropout layer given a tensor whose first size is not the batch's (a table
    of positions, a weight) draws one mask across the examples, which the folded form, where the
    examples of K replicas share the first dimension, would draw per example (vmap draws it as
    the model does). The global generator comes out of it as it went in."""
    copied = copy.deepcopy(model).train(True)
    sizes: list[int] = []
    hooks = [module.register_forward_pre_hook(lambda _, inputs: sizes.append(inputs[0].shape[0] if inputs[0].dim() else 0))
             for module in copied.modules() if isinstance(module, nn.modules.dropout._DropoutNd)]
    try:
        with silenced(copied), kept_generators(sample):
            first, second = copied(sample), copied(sample)
    finally:
        for hook in hooks:
            hook.remove()
    tensors = isinstance(first, Tensor) and isinstance(second, Tensor)  # if not, the stack's checks say what is wrong
    return DropoutUse(draws_outside=tensors and not same_outputs(second, first),  # rounding apart (a GPU's kernels)
                      outside_batch=any(size != sample.shape[0] for size in sizes))


@torch.no_grad()
def check_runs_with_dropout(stacked: Stacked, sample: Tensor, per_replica: bool) -> None:
    """The stack's checks ran with every dropout rate at 0; one call of every replica with the
    rates as they are, in training mode (on copies of its state, the global generator left as
    it was), so that a form whose dropout cannot run fails here and the next form is tried,
    not in the first training step: vmap refuses in-place dropout of a tensor it does not map
    (the shared inputs of one seed's lams)."""
    k = len(next(iter(stacked.params.values())))
    params, buffers = stacked.subset(torch.arange(k, device=sample.device))
    x = sample.unsqueeze(0).expand(k, *sample.shape) if per_replica else sample
    with kept_generators(sample):
        stacked(x, True, params, buffers, per_replica)

