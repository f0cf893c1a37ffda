"""A stacked MLP's training step without the autograd engine: its gradients written out by hand.

For an `nn.Sequential` of linear layers, each optionally followed by a batch norm
(`BatchNorm1d`, affine, tracking running statistics with a fixed momentum) and by a ReLU,
LeakyReLU, Tanh or Sigmoid activation (a leading `Flatten`; activations whose derivative follows
from their output) under the default cross-entropy, the K replicas' losses, logits and gradients
come from a dozen batched products and element-wise ops, features first like the packed path
(packed.py, `replica_linear`):

    forward   a_0 = x^T (K, D, B);  z_i = W_i @ a_{i-1} + b_i (K, O, B);  a_i = f(z_i) between layers
    norm      n = gamma * xhat + beta, xhat = (z - mean_b z) / sqrt(var_b z + eps)  (biased var;
              the running statistics move by `momentum` toward the mean and the unbiased var)
    loss      L_k = mean_b CE(z_last[k, :, b], y[k, b]);  the stack's objective is sum_k L_k
    backward  g = (softmax(z_last) - onehot(y)) / B;  walking the layers back from the last:
              linear i:  dW_i = g @ a_{i-1}^T,  db_i = sum_b g,  g = W_i^T @ g
              activation: g = g * f'(z), read from its output a
              norm:      dgamma = sum_b g * xhat,  dbeta = sum_b g,
                         g = gamma / sqrt(var + eps) * (g - dbeta / B - xhat * dgamma / B)

A batch norm runs batch norm's own forward and backward kernels over the K*F channels
(`torch.native_batch_norm` and its backward, what `F.batch_norm` and autograd call), so its
running statistics move as in the packed forward. On the suite's mlp_bn_mnist14 a stacked step
took 0.40 ms against 0.52 ms through autograd at K = 2, 0.64 against 0.78 ms at K = 6; over 120
steps of 3 lams x 2 seeds its validation losses stayed within 1.4e-7 of one model trained alone,
where the packed autograd step had drifted 5e-3 away on one replica.

The same gradients autograd gives (to float rounding), and the stacked optimizer takes them as
before. On a small MLP the engine's bookkeeping is a large share of a step: on the suite's
mlp_tiny the forward and gradients of K = 2 replicas took 0.118 ms against 0.236 ms through
autograd, 0.28 against 0.46 ms at K = 6 (one thread). `MlpGrad.check` compares the two on a
sample before a run uses it (the batch norms' running statistics too, and it leaves them as they
were); any other model, loss or target keeps autograd.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from l2advisor.training.packed import Tensors, Unsupported, _sequence
from l2advisor.training.stack_checks import same_outputs

__all__ = ["MlpGrad"]

LINEAR, NORM, ACTIVATION = "linear", "norm", "activation"
# activations whose derivative follows from their output a (the module: LeakyReLU's slope)
SLOPES = {
    nn.ReLU: lambda a, m: a > 0,
    nn.LeakyReLU: lambda a, m: (a > 0).to(a.dtype).mul_(1.0 - m.negative_slope).add_(m.negative_slope),  # 1 or the slope:
    # a > 0 exactly where z > 0, for a positive slope
    nn.Tanh: lambda a, m: 1.0 - a * a,
    nn.Sigmoid: lambda a, m: a * (1.0 - a),
}


def _program(model: nn.Module) -> list[tuple[str, str, nn.Module | None]]:
    """[(LINEAR | NORM, name, module) | (ACTIVATION, "", module)]: the model's layers after an
    optional leading Flatten; `Unsupported` for anything else (an activation or a norm first or
    last, a norm not right after a linear, two activations in a row, an activation whose
    derivative needs its input, a batch norm without affine parameters, running statistics or a
    fixed momentum, another layer)."""
    ops = _sequence(model, "")
    if ops and type(ops[0][1]) is nn.Flatten and ops[0][1].start_dim == 1 and ops[0][1].end_dim == -1:
        ops = ops[1:]
    program: list[tuple[str, str, nn.Module | None]] = []
    for name, module in ops:
        after = program[-1][0] if program else ""
        if type(module) is nn.Linear:
            program.append((LINEAR, name, module))
        elif type(module) is nn.BatchNorm1d and after == LINEAR and module.affine and \
                module.track_running_stats and module.momentum is not None:
            program.append((NORM, name, module))
        elif type(module) in SLOPES and after in (LINEAR, NORM) and getattr(module, "negative_slope", 1.0) > 0:
            program.append((ACTIVATION, "", module))
        elif type(module) is not nn.Identity:
            raise Unsupported(f"a {type(module).__name__} layer where an MLP's gradients are written out")
    if not program or program[-1][0] != LINEAR:
        raise Unsupported("an MLP ends with a linear layer")
    return program


class MlpGrad:
    """Losses (K,), logits (K, B, C) and gradients (in `params`' order) of a stacked MLP's step;
    the batch norms' running statistics in the stack's `buffers` move as the packed forward's do."""

    def __init__(self, model: nn.Module) -> None:
        self.program = _program(model)

    @classmethod
    def of(cls, model: nn.Module, params: Tensors) -> MlpGrad | None:
        """The hand-written step for `model` when it is such an MLP and every linear's and batch
        norm's weight and bias are among the trained `params` (a frozen one is not), else None (autograd)."""
        try:
            mlp = cls(model)
        except Unsupported:
            return None
        names = {f"{name}.{kind}" for name, module in model.named_modules() if type(module) in (nn.Linear, nn.BatchNorm1d)
                 for kind, tensor in (("weight", module.weight), ("bias", module.bias)) if tensor is not None}
        return mlp if names == set(params) else None

    @torch.no_grad()
    def __call__(self, params: Tensors, buffers: Tensors, x: Tensor, labels: Tensor,
                 per_replica: bool) -> tuple[Tensor, Tensor, list[Tensor]]:
        """x: shared inputs (B, ...) or, with `per_replica`, (K, B, ...); labels: class indices
        (B,) or (K, B); `buffers`: the stack's, whose batch-norm statistics this step updates."""
        k = len(next(iter(params.values())))
        flat = x.flatten(2) if per_replica else x.flatten(1).unsqueeze(0).expand(k, -1, -1)  # (K, B, D)
        h = flat.transpose(1, 2)  # features first: (K, D, B)
        tape: list[tuple[str, str, nn.Module | None, tuple[Tensor, ...]]] = []  # what the backward reads
        for kind, name, module in self.program:
            if kind == LINEAR:
                tape.append((kind, name, module, (h,)))
                bias = params.get(name + ".bias")
                h = torch.bmm(params[name + ".weight"], h) if bias is None else \
                    torch.baddbmm(bias.unsqueeze(2), params[name + ".weight"], h)
            elif kind == NORM:
                h, saved = _norm_forward(h, params, buffers, name, module)  # type: ignore[arg-type]
                tape.append((kind, name, module, saved))
            else:
                h = h.relu_() if type(module) is nn.ReLU else module(h)  # type: ignore[misc]
                tape.append((kind, name, module, (h,)))
        batch = h.shape[2]
        labels = labels if labels.dim() == 2 else labels.expand(k, -1)  # (K, B)
        log_p = h.log_softmax(1)  # (K, C, B)
        losses = -log_p.gather(1, labels.unsqueeze(1)).squeeze(1).mean(1)  # (K,)
        g = log_p.exp().scatter_add_(1, labels.unsqueeze(1), torch.full_like(log_p[:, :1], -1.0)).div_(batch)
        grads: dict[str, Tensor] = {}
        for i in range(len(tape) - 1, -1, -1):
            kind, name, module, saved = tape[i]
            if kind == LINEAR:
                grads[name + ".weight"] = torch.bmm(g, saved[0].transpose(1, 2))
                if name + ".bias" in params:
                    grads[name + ".bias"] = g.sum(2)
                if i > 0:
                    g = torch.bmm(params[name + ".weight"].transpose(1, 2), g)
            elif kind == NORM:
                g = _norm_backward(g, params[name + ".weight"], saved, module, grads, name)  # type: ignore[arg-type]
            else:
                g = g.mul_(SLOPES[type(module)](saved[0], module))
        return losses, h.transpose(1, 2), [grads[name] for name in params]

    def check(self, params: Tensors, stacked: object, x: Tensor, labels: Tensor, per_replica: bool) -> bool:
        """Whether losses, gradients and the batch norms' new running statistics equal autograd's
        through the stack's own forward (`stacked(x, training, params, buffers, per_replica)` ->
        (K, B, C)) on this batch. Each side moves copies of the stack's buffers, which stay as they were."""
        buffers: Tensors = stacked.buffers  # type: ignore[attr-defined]
        theirs = {n: b.clone() for n, b in buffers.items()}
        # autograd's first: a label out of range is then said in cross-entropy's words, as without this path
        reference_out = stacked(x, True, params, theirs, per_replica)  # type: ignore[operator]
        own = labels if labels.dim() == 2 else labels.expand(len(reference_out), -1)
        reference = F.cross_entropy(reference_out.transpose(1, 2), own, reduction="none").mean(1)
        expected = torch.autograd.grad(reference.sum(), list(params.values()))
        mine = {n: b.clone() for n, b in buffers.items()}
        losses, outputs, grads = self(params, mine, x, labels, per_replica)
        return same_outputs(losses, reference.detach()) and same_outputs(outputs, reference_out.detach()) and \
            all(same_outputs(a, b) for a, b in zip(grads, expected, strict=True)) and \
            all(same_outputs(mine[n].double(), theirs[n].double()) for n in theirs)


def _norm_forward(h: Tensor, params: Tensors, buffers: Tensors, name: str,
                  norm: nn.BatchNorm1d) -> tuple[Tensor, tuple[Tensor, ...]]:
    """A training-mode batch norm over the batch of h (K, F, B), per replica and feature, by the
    kernel `F.batch_norm` runs in the packed forward (K*F channels replica-major, packed.py), so
    the running statistics in `buffers` (K, F) move exactly as there. Returns (out, saved)."""
    k, features, batch = h.shape
    flat = h.reshape(1, k * features, batch)
    mean, var = buffers[name + ".running_mean"], buffers[name + ".running_var"]
    if batch < 2:  # batch norm's own refusal: an unbiased variance of one value is 0/0
        raise ValueError(f"Expected more than 1 value per channel when training, got input size {tuple(h.shape)}")
    out, save_mean, save_invstd = torch.native_batch_norm(
        flat, params[name + ".weight"].reshape(-1), params[name + ".bias"].reshape(-1), mean.view(-1), var.view(-1),
        True, float(norm.momentum), norm.eps)  # type: ignore[arg-type]
    buffers[name + ".num_batches_tracked"].add_(1)
    return out.view(k, features, batch), (flat, save_mean, save_invstd, mean, var)


def _norm_backward(g: Tensor, gamma: Tensor, saved: tuple[Tensor, ...], norm: nn.BatchNorm1d, grads: dict[str, Tensor],
                   name: str) -> Tensor:
    """The gradient at a batch norm's input from the one at its output g (K, F, B), by the kernel
    autograd runs for it; its weight's and bias's gradients (K, F) go into `grads`:
    dgamma = sum_b g * xhat, dbeta = sum_b g, g_in = gamma / sqrt(var + eps) * (g - dbeta/B - xhat * dgamma/B)."""
    flat, save_mean, save_invstd, mean, var = saved
    k, features, batch = g.shape
    g_in, dgamma, dbeta = torch.ops.aten.native_batch_norm_backward(
        g.reshape(1, k * features, batch), flat, gamma.reshape(-1), mean.view(-1), var.view(-1), save_mean, save_invstd,
        True, norm.eps, [True, True, True])
    grads[name + ".weight"], grads[name + ".bias"] = dgamma.view(k, features), dbeta.view(k, features)
    return g_in.view(k, features, batch)
