"""A stacked MLP's training step without the autograd engine: its gradients written out by hand.

For an `nn.Sequential` of linear layers and ReLU, LeakyReLU, Tanh or Sigmoid activations (a
leading `Flatten`; activations whose derivative follows from their output) under the default
cross-entropy, the K replicas' losses, logits and gradients come from a dozen batched products
and element-wise ops, features first like the packed path (packed.py, `replica_linear`):

    forward   a_0 = x^T (K, D, B);  z_i = W_i @ a_{i-1} + b_i (K, O, B);  a_i = f(z_i) between layers
    loss      L_k = mean_b CE(z_last[k, :, b], y[k, b]);  the stack's objective is sum_k L_k
    backward  g = (softmax(z_last) - onehot(y)) / B;  per linear i, from the last:
              dW_i = g @ a_{i-1}^T,  db_i = sum_b g,  g = (W_i^T @ g) * f'(z_{i-1}), read from a_{i-1}

The same gradients autograd gives (to float rounding), and the stacked optimizer takes them as
before. On a small MLP the engine's bookkeeping is a large share of a step: on the suite's
mlp_tiny the forward and gradients of K = 2 replicas took 0.118 ms against 0.236 ms through
autograd, 0.28 against 0.46 ms at K = 6 (one thread). `MlpGrad.check` compares the two on a
sample before a run uses it; any other model, loss or target keeps autograd.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from l2advisor.training.packed import Tensors, Unsupported, _sequence
from l2advisor.training.replicas import same_outputs

__all__ = ["MlpGrad"]

LINEAR, ACTIVATION = "linear", "activation"
# activations whose derivative follows from their output a (the module: LeakyReLU's slope)
SLOPES = {
    nn.ReLU: lambda a, m: a > 0,
    nn.LeakyReLU: lambda a, m: (a > 0).to(a.dtype).mul_(1.0 - m.negative_slope).add_(m.negative_slope),  # 1 or the slope:
    # a > 0 exactly where z > 0, for a positive slope
    nn.Tanh: lambda a, m: 1.0 - a * a,
    nn.Sigmoid: lambda a, m: a * (1.0 - a),
}


def _program(model: nn.Module) -> list[tuple[str, str, nn.Module | None]]:
    """[(LINEAR, name, None) | (ACTIVATION, "", module)]: the model's layers after an optional
    leading Flatten; `Unsupported` for anything else (an activation first or last, two in a row,
    an activation whose derivative needs its input, another layer)."""
    ops = _sequence(model, "")
    if ops and type(ops[0][1]) is nn.Flatten and ops[0][1].start_dim == 1 and ops[0][1].end_dim == -1:
        ops = ops[1:]
    program: list[tuple[str, str, nn.Module | None]] = []
    for name, module in ops:
        if type(module) is nn.Linear:
            program.append((LINEAR, name, None))
        elif type(module) in SLOPES and program and program[-1][0] == LINEAR and \
                getattr(module, "negative_slope", 1.0) > 0:
            program.append((ACTIVATION, "", module))
        elif type(module) is not nn.Identity:
            raise Unsupported(f"a {type(module).__name__} layer where an MLP's gradients are written out")
    if not program or program[-1][0] != LINEAR:
        raise Unsupported("an MLP ends with a linear layer")
    return program


class MlpGrad:
    """Losses (K,), logits (K, B, C) and gradients (in `params`' order) of a stacked MLP's step."""

    def __init__(self, model: nn.Module) -> None:
        self.program = _program(model)

    @classmethod
    def of(cls, model: nn.Module, params: Tensors) -> MlpGrad | None:
        """The hand-written step for `model` when it is such an MLP and every linear's weight and
        bias are among the trained `params` (a frozen one is not), else None (autograd)."""
        try:
            mlp = cls(model)
        except Unsupported:
            return None
        names = {f"{name}.{kind}" for name, module in model.named_modules() if type(module) is nn.Linear
                 for kind, tensor in (("weight", module.weight), ("bias", module.bias)) if tensor is not None}
        return mlp if names == set(params) else None

    @torch.no_grad()
    def __call__(self, params: Tensors, x: Tensor, labels: Tensor, per_replica: bool) -> tuple[Tensor, Tensor, list[Tensor]]:
        """x: shared inputs (B, ...) or, with `per_replica`, (K, B, ...); labels: class indices
        (B,) or (K, B)."""
        k = len(next(iter(params.values())))
        flat = x.flatten(2) if per_replica else x.flatten(1).unsqueeze(0).expand(k, -1, -1)  # (K, B, D)
        h, made_by = flat.transpose(1, 2), None  # features first: (K, D, B)
        reads: list[tuple[str, Tensor, nn.Module | None]] = []  # per linear: name, input, the activation that made it
        for kind, name, module in self.program:
            if kind == LINEAR:
                reads.append((name, h, made_by))
                bias = params.get(name + ".bias")
                h = torch.bmm(params[name + ".weight"], h) if bias is None else \
                    torch.baddbmm(bias.unsqueeze(2), params[name + ".weight"], h)
                made_by = None
            else:
                h, made_by = (h.relu_() if type(module) is nn.ReLU else module(h)), module
        batch = h.shape[2]
        labels = labels if labels.dim() == 2 else labels.expand(k, -1)  # (K, B)
        log_p = h.log_softmax(1)  # (K, C, B)
        losses = -log_p.gather(1, labels.unsqueeze(1)).squeeze(1).mean(1)  # (K,)
        g = log_p.exp().scatter_add_(1, labels.unsqueeze(1), torch.full_like(log_p[:, :1], -1.0)).div_(batch)
        grads: dict[str, Tensor] = {}
        for i in range(len(reads) - 1, -1, -1):
            name, below, activation = reads[i]  # below: (K, D, B), the layer's input
            grads[name + ".weight"] = torch.bmm(g, below.transpose(1, 2))
            if name + ".bias" in params:
                grads[name + ".bias"] = g.sum(2)
            if i > 0:
                g = torch.bmm(params[name + ".weight"].transpose(1, 2), g)
                g = g if activation is None else g.mul_(SLOPES[type(activation)](below, activation))
        return losses, h.transpose(1, 2), [grads[name] for name in params]

    def check(self, params: Tensors, forward: object, x: Tensor, labels: Tensor, per_replica: bool) -> bool:
        """Whether losses and gradients equal autograd's through `forward` (the stack's own
        forward: (x, training, per_replica=...) -> (K, B, C)) on this batch."""
        # autograd's first: a label out of range is then said in cross-entropy's words, as without this path
        reference_out = forward(x, True, per_replica=per_replica)  # type: ignore[operator]
        own = labels if labels.dim() == 2 else labels.expand(len(reference_out), -1)
        reference = F.cross_entropy(reference_out.transpose(1, 2), own, reduction="none").mean(1)
        expected = torch.autograd.grad(reference.sum(), list(params.values()))
        losses, outputs, grads = self(params, x, labels, per_replica)
        return same_outputs(losses, reference.detach()) and same_outputs(outputs, reference_out.detach()) and \
            all(same_outputs(mine, theirs) for mine, theirs in zip(grads, expected, strict=True))
