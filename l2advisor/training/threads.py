"""How many torch threads one training process uses, by default, from the size of the model.

A small model's training step is a chain of short kernels; splitting each over two threads
costs more in synchronisation than it saves, so one thread is faster (benchmarks/threads.py,
5 rounds on 2 idle cores: an MLP 784-8-10, 1.6 MFLOP per step, ran 7 % faster on one thread; from
an MLP 784-32-10, 6.5 MFLOP, two threads won, 1.13-1.60x). A big step (large matmuls or
convolutions) gains from every core. The rule thresholds the matmul/conv FLOPs of one training
step (forward + backward of one batch, counted as torch's FlopCounterMode counts), which, unlike the
parameter count, sees that a small CNN does far more work per step than its few weights.

The rule depends on the model only, never on the machine's momentary load: the thread count
can change a run's float rounding, and the same command must give the same numbers (a resumed
probe must match an uninterrupted one). On a machine already busy on every core, two threads
spin and ran about 10x slower than one (benchmarks/threads.py at load ~9 on 2 cores): there,
pass `--threads 1` or set L2ADVISOR_THREADS=1.

Overrides, first found wins: an explicit count (`--threads N` on probe, train, tune, compare), the environment
variable L2ADVISOR_THREADS, OMP_NUM_THREADS (the user's own choice, left to torch).
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from dataclasses import dataclass

import torch
from torch import nn

MULTI_THREAD_FLOPS = 3e6  # matmul/conv FLOPs per training step from which threads pay off (between 1.6 and 6.5 MFLOP)
ENV = "L2ADVISOR_THREADS"


@dataclass(frozen=True)
class ThreadChoice:
    threads: int | None  # None: leave torch's own setting
    reason: str  # in words, for the progress line


def model_cost(model: nn.Module, batch: torch.Tensor) -> tuple[int, float]:
    """(parameters, matmul/conv FLOPs of one forward + backward pass on `batch`), on a model
    used only for this (its BatchNorm statistics change) and without touching the RNG.

    A model built only from linear and conv layers and layers without matmuls (NO_MATMUL) is
    counted by hooks on its linear and conv layers; any other by the products its forward calls
    (`_traced_flops`: custom modules around linear layers, `x @ w`, convolutions, scaled
    dot-product attention, recurrent layers on unpacked sequences), unless it calls one that
    tracing does not price (`nn.MultiheadAttention`, einsum, a packed sequence): then by torch's
    FlopCounterMode, which imports torch._dynamo (1-2.5 s at start-up). The three count the same
    FLOPs, except that FlopCounterMode counts more for a grouped convolution's weight gradient and
    nothing for a recurrent layer's products on the CPU.
    """
    params = sum(p.numel() for p in model.parameters())
    flops, exact = step_flops(model, batch)
    return params, flops if exact else _counted_flops(model, batch)


def thread_flops(model: nn.Module, batch: torch.Tensor) -> tuple[float, bool]:
    """What the thread rule reads: (FLOPs of one step, whether only a lower bound). The products
    tracing can price settle it when they alone reach MULTI_THREAD_FLOPS (a transformer's
    feed-forward layers around `nn.MultiheadAttention`), without importing torch._dynamo for
    FlopCounterMode, which a stacked probe never otherwise imports (1.1 s of its start-up)."""
    flops, exact = step_flops(model, batch)
    if exact or flops >= MULTI_THREAD_FLOPS:
        return flops, not exact
    return _counted_flops(model, batch), False


def _counted_flops(model: nn.Module, batch: torch.Tensor) -> float:
    with torch.random.fork_rng():
        from torch.utils.flop_counter import FlopCounterMode

        with FlopCounterMode(display=False) as counter:
            _forward_backward(model, batch)
        return float(counter.get_total_flops())


COUNTED = (nn.Linear, nn.Conv1d, nn.Conv2d, nn.Conv3d)  # what the hooks count
NO_MATMUL = (nn.Sequential, nn.ModuleList, nn.ModuleDict, nn.Identity, nn.Flatten, nn.Unflatten, nn.Dropout,
             nn.Dropout1d, nn.Dropout2d, nn.Dropout3d, nn.AlphaDropout, nn.ReLU, nn.ReLU6, nn.LeakyReLU, nn.ELU,
             nn.SELU, nn.CELU, nn.GELU, nn.SiLU, nn.Mish, nn.Tanh, nn.Sigmoid, nn.Softplus, nn.Hardtanh,
             nn.Hardswish, nn.Hardsigmoid, nn.PReLU, nn.Softmax, nn.LogSoftmax, nn.BatchNorm1d, nn.BatchNorm2d,
             nn.BatchNorm3d, nn.LayerNorm, nn.GroupNorm, nn.InstanceNorm1d, nn.InstanceNorm2d, nn.Embedding,
             nn.MaxPool1d, nn.MaxPool2d, nn.MaxPool3d, nn.AvgPool1d, nn.AvgPool2d, nn.AvgPool3d,
             nn.AdaptiveAvgPool1d, nn.AdaptiveAvgPool2d, nn.AdaptiveMaxPool1d, nn.AdaptiveMaxPool2d)


def step_flops(model: nn.Module, batch: torch.Tensor) -> tuple[float, bool]:
    """(FLOPs, exact) of one forward + backward on `batch` without torch._dynamo: by hooks or by
    tracing (see `model_cost`); for a forward that calls a product tracing cannot price, the
    products it could price, a lower bound (exact False). What the thread rule needs: a lower
    bound above MULTI_THREAD_FLOPS settles it (a transformer's feed-forward layers alone)."""
    with torch.random.fork_rng():
        if all(isinstance(m, COUNTED + NO_MATMUL) for m in model.modules()):
            return _hooked_flops(model, batch), True
    with torch.random.fork_rng():
        return _traced_flops(model, batch)


def _forward_backward(model: nn.Module, batch: torch.Tensor) -> None:
    output = model(batch)
    output = output[0] if isinstance(output, (tuple, list)) else output
    output.float().sum().backward()


def _hooked_flops(model: nn.Module, batch: torch.Tensor) -> float:
    """FLOPs of the linear and conv layers: forward 2 * outputs * (inputs summed per output);
    backward the same once for the weight's gradient and once for the input's when the input
    needs one (not for the first layer), as FlopCounterMode counts them."""
    total = [0]

    def count(module: nn.Module, inputs: tuple, output: torch.Tensor) -> None:
        weight = module.weight  # type: ignore[union-attr]
        per_output = weight.shape[1] if isinstance(module, nn.Linear) else math.prod(weight.shape[1:])
        forward = 2 * output.numel() * per_output
        total[0] += forward * (1 + int(weight.requires_grad) + int(inputs[0].requires_grad))

    layers = [m for m in model.modules() if isinstance(m, COUNTED)]
    handles = [m.register_forward_hook(count) for m in layers]
    try:
        _forward_backward(model, batch)
    finally:
        for handle in handles:
            handle.remove()
    return float(total[0])


# torch functions whose FLOPs `_traced_flops` knows, and (by name, or part of one) those it does not
PRODUCTS = {"linear", "matmul", "__matmul__", "mm", "bmm", "addmm", "baddbmm", "conv1d", "conv2d", "conv3d"}
ATTENTION = "scaled_dot_product_attention"
RECURRENT = {"lstm", "gru", "rnn_tanh", "rnn_relu"}  # what nn.LSTM, nn.GRU and nn.RNN call
OPAQUE_NAMES = {"mv", "dot", "vdot", "addmv", "inner", "outer", "kron", "cdist", "tensordot", "einsum",
                "bilinear", "addbmm", "multi_dot", "chain_matmul", "__rmatmul__"}
OPAQUE_PARTS = ("attention", "lstm", "gru", "rnn", "transformer", "conv_transpose")


def _product_flops(name: str, args: tuple, out: torch.Tensor) -> float:
    """Forward FLOPs 2 * outputs * (inputs summed per output), plus the same once per operand
    that needs a gradient (the backward's products), as the hooks and FlopCounterMode count."""
    a, b = (args[1], args[2]) if name in ("addmm", "baddbmm") else (args[0], args[1])
    per_output = math.prod(b.shape[1:]) if name.startswith("conv") else (
        b.shape[-1] if name == "linear" else a.shape[-1])
    forward = 2 * out.numel() * per_output
    return float(forward * (1 + int(a.requires_grad) + int(b.requires_grad)))


def _attention_flops(query: torch.Tensor, key: torch.Tensor, value: torch.Tensor) -> float:
    """Scaled dot-product attention on (..., L, d), (..., S, d), (..., S, dv), as FlopCounterMode
    counts it: forward 2*L*S*(d + dv) per batch and head, backward 2*L*S*(3d + 2dv) (the scores
    recomputed, then the gradients of q, k and v) when any of them needs one."""
    heads = math.prod(query.shape[:-2])
    (length, d), span, dv = query.shape[-2:], key.shape[-2], value.shape[-1]
    forward = 2 * heads * length * span * (d + dv)
    backward = 2 * heads * length * span * (3 * d + 2 * dv)
    return float(forward + (backward if any(t.requires_grad for t in (query, key, value)) else 0))


def _recurrent_flops(args: tuple) -> float | None:
    """nn.LSTM / nn.GRU / nn.RNN on an unpacked sequence (input, hx, weights, ...): each weight
    matrix (4H, I), (4H, H), ... multiplies one vector per token and step, 2 * tokens * its size
    forward; backward the same for its gradient and for its input's (the hidden states always
    need one). None for a packed sequence (its second argument holds the batch sizes)."""
    sequence, hx, weights = args[0], args[1], args[2]
    if (isinstance(hx, torch.Tensor) and not hx.is_floating_point()) or not isinstance(weights, (list, tuple)):
        return None
    tokens = sequence.numel() // sequence.shape[-1]  # (T, B, I), (B, T, I) or (T, I)
    return float(sum(2 * tokens * w.numel() * (1 + 2 * int(w.requires_grad)) for w in weights if w.dim() == 2))


def _traced_flops(model: nn.Module, batch: torch.Tensor) -> tuple[float, bool]:
    """FLOPs of one forward + backward from the products the forward calls, seen as torch
    function calls (a TorchFunctionMode: unlike dispatch modes, it does not import torch._dynamo),
    and whether that is all of them: False when the forward calls a product it cannot price,
    or passes one its operands by name (the FLOPs then count the priced ones only)."""
    from torch.overrides import TorchFunctionMode

    class Products(TorchFunctionMode):
        flops, opaque = 0.0, False

        def __torch_function__(self, func, types, args=(), kwargs=None):  # noqa: ANN001, ANN204
            out = func(*args, **(kwargs or {}))
            name = getattr(func, "__name__", "")
            priced = None
            if name in PRODUCTS and len(args) >= (3 if name in ("addmm", "baddbmm") else 2) and isinstance(out, torch.Tensor):
                priced = _product_flops(name, args, out)
            elif name == ATTENTION and len(args) >= 3:
                priced = _attention_flops(*args[:3])
            elif name in RECURRENT and len(args) >= 3:
                priced = _recurrent_flops(args)
            if priced is not None:
                self.flops += priced
            elif name in PRODUCTS or name in OPAQUE_NAMES or any(part in name for part in OPAQUE_PARTS):
                self.opaque = True
            return out

    with Products() as products:
        _forward_backward(model, batch)
    return products.flops, not products.opaque


def rule_threads(flops_per_step: float, available: int) -> int:
    """The rule: one thread below MULTI_THREAD_FLOPS per step, else every available core."""
    return 1 if flops_per_step < MULTI_THREAD_FLOPS else max(1, available)



def overridden(requested: int | None, environ: Mapping[str, str] = os.environ) -> bool:
    """Whether an override settles the count (`choose_threads`' first three cases), so the
    model's step need not be measured."""
    return requested is not None or any(environ.get(name, "").strip() for name in (ENV, "OMP_NUM_THREADS"))


def choose_threads(flops_per_step: float | None, available: int, requested: int | None = None,
                   environ: Mapping[str, str] = os.environ, at_least: bool = False) -> ThreadChoice:
    """The thread count for a training process, and why (the module docstring gives the rule);
    `at_least`: the FLOPs are a lower bound (`thread_flops`)."""
    if requested is not None:
        return ThreadChoice(requested, f"{requested} thread(s), as asked (--threads)")
    if environ.get(ENV, "").strip():
        value = environ[ENV].strip()
        if not value.isdigit() or int(value) < 1:
            raise ValueError(f"{ENV} must be a whole number >= 1, got {value!r}")
        return ThreadChoice(int(value), f"{value} thread(s), from {ENV}")
    if environ.get("OMP_NUM_THREADS", "").strip():
        return ThreadChoice(None, f"torch's threads (OMP_NUM_THREADS={environ['OMP_NUM_THREADS'].strip()})")
    if flops_per_step is None:
        return ThreadChoice(None, "torch's default threads (the model's step could not be measured)")
    threads = rule_threads(flops_per_step, available)
    size = "small" if flops_per_step < MULTI_THREAD_FLOPS else "large"  # the step's, not the cores' (1 of 1)
    return ThreadChoice(threads, f"{threads} thread(s): a {size} step ({'at least ' if at_least else ''}"
                                 f"{flops_per_step / 1e6:.3g} MFLOP; threads pay off from "
                                 f"{MULTI_THREAD_FLOPS / 1e6:.3g} MFLOP)")
