"""One model's forward run over K stacked copies of its state at once (vmap), at a small cost per call.

The generic path of stacked probes (replicas.py, `VmapStacked`) calls the forward of one copy
of the model with every parameter and buffer replaced by its (K, ...) stack, under vmap. On a
small custom model that call was mostly overhead: `torch.func.vmap(functional_call)` flattens
and checks the pytrees of the state on every call and swaps each tensor in through the
reparametrization machinery. Here the swap is one dict assignment per tensor into the module's
own `_parameters` / `_buffers` (restored after the call), and the batch dimension is added with
functorch's level primitives, the ones `torch.func.vmap` itself calls, so the batching rules,
and what they refuse, are the same. On the suite's weight-normalized MLP a stacked training
step went from 1.37 to 1.17 ms at K = 6 and from 0.91 to 0.72 ms at K = 2, an evaluation pass
1.38x faster (`benchmarks/stacked_step.py --quick`, one thread); its probes' numbers are
unchanged to the bit.

A model with a tensor registered under two names (tied weights: functional_call ties them) or
a torch without those primitives takes `torch.func`'s way.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from torch import Tensor, nn

Tensors = dict[str, Tensor]
# how torch's vmap says, once per op and process, that it runs an op without a batching rule one
# replica at a time (a Python loop over the stack); its text asks the reader to file an issue with torch
FALLBACK_WARNING = "There is a performance drop because we have not yet implemented the batching rule for "
Forward = Callable[[Tensors, Tensors, Tensor], Tensor]  # (params, buffers, inputs) -> (K, B, ...)

try:  # functorch's level primitives (torch >= 2.0); private, so checked and never required
    from torch._C._functorch import (
        _add_batch_dim,
        _remove_batch_dim,
        _vmap_decrement_nesting,
        _vmap_increment_nesting,
    )
except ImportError:  # pragma: no cover - a torch that moved them: torch.func's way
    _add_batch_dim = None  # type: ignore[assignment]


def vmapped_forward(base: nn.Module, per_replica: bool, tied: bool, randomness: str = "error") -> Forward:
    """`base`'s forward over stacked state: f(params, buffers, x) -> (K, B, ...) outputs, where
    params and buffers map names to (K, ...) stacks and x is shared (B, ...) or, with
    `per_replica`, (K, B, ...). Names left out of the dicts keep `base`'s own tensor.
    `randomness` as torch.func.vmap's: "error" refuses random ops, "different" (a model with
    dropout) draws each replica's own."""
    if tied or _add_batch_dim is None:
        return _torch_func_forward(base, per_replica, tied, randomness)
    slots = _slots(base)

    def forward(params: Tensors, buffers: Tensors, x: Tensor) -> Tensor:
        k = len(next(iter(params.values())))
        level = _vmap_increment_nesting(k, randomness)  # as vmap(randomness=...)
        swapped: list[tuple[dict, str, object]] = []
        try:
            for name, stack in (*params.items(), *buffers.items()):
                _same_replicas(stack, k, name)
                owner, key = slots[name]
                swapped.append((owner, key, owner[key]))
                owner[key] = _add_batch_dim(stack, 0, level)
            if per_replica:
                _same_replicas(x, k, "the inputs")
            out = base(_add_batch_dim(x, 0, level) if per_replica else x)
            if not isinstance(out, Tensor):
                raise TypeError(f"the model's forward must return a Tensor, got {type(out).__name__}")
            return _remove_batch_dim(out, level, k, 0)
        finally:
            for owner, key, original in reversed(swapped):
                owner[key] = original
            _vmap_decrement_nesting()

    return forward


def _same_replicas(stack: Tensor, k: int, name: str) -> None:
    """vmap's own check: every mapped tensor has the k replicas of the first parameter (a size-1
    stack would broadcast, silently, where a caller got its replicas out of step)."""
    if stack.shape[0] != k:
        raise ValueError(f"vmap: {name} stack {stack.shape[0]} replica(s) where the first parameter stacks {k}")


def _slots(model: nn.Module) -> dict[str, tuple[dict, str]]:
    """{qualified name: (the owning module's _parameters or _buffers dict, its key)}."""
    slots: dict[str, tuple[dict, str]] = {}
    for prefix, module in model.named_modules():
        for store in (module._parameters, module._buffers):
            for key in store:
                slots[f"{prefix}.{key}" if prefix else key] = (store, key)
    return slots


def _torch_func_forward(base: nn.Module, per_replica: bool, tied: bool, randomness: str = "error") -> Forward:
    from torch.func import functional_call, vmap

    def one(p: Tensors, b: Tensors, inputs: Tensor) -> Tensor:
        return functional_call(base, (p, b), (inputs,), tie_weights=tied)

    return vmap(one, in_dims=(0, 0, 0 if per_replica else None), randomness=randomness)


@contextmanager
def unbatched_ops(found: list[str]) -> Iterator[None]:
    """Append to `found` the ops ("aten::...") that vmap runs one replica at a time inside this
    block, in place of showing torch's warning about them (it speaks of torch's internals and
    asks to file an issue with torch); every other warning is shown as it comes, through the
    filters as they are (only the function that shows warnings is wrapped)."""
    with warnings.catch_warnings():
        shown = warnings.showwarning

        def show(message, category, filename, lineno, file=None, line=None):  # noqa: ANN001, ANN202
            text = str(message)
            if text.startswith(FALLBACK_WARNING):
                found.append(text[len(FALLBACK_WARNING):].split(". ")[0].rstrip("."))
            else:
                shown(message, category, filename, lineno, file, line)

        warnings.showwarning = show
        yield
