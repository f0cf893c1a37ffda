"""K replicas of one model as stacked tensors, run forward in one pass (batched probes).

Every parameter and buffer gets a leading replica dimension K. Three ways to run them, tried in order:

- packed (packed.py): an `nn.Sequential` of common layers runs as ordinary kernels over K*channels.
  The K first convolutions are one convolution with K*C_out filters (the input is shared),
  later ones a grouped convolution (groups=K); the K first linears are one matmul, later ones
  a bmm; batch norm is one call over K*C channels, so each replica keeps its own running
  statistics; activations and pooling act per channel. A step costs a few large kernels
  instead of K times many small ones: on a CPU or a GPU the small model's step is mostly
  overhead, and this pays it once.
- folded (folded.py): a custom module whose parameters all live in linear, norm (layer, group,
  batch), attention, convolution and embedding layers (or free tensors broadcast over the batch),
  and whose other buffers are constants (tied weights too), runs its own forward on the K batches stacked
  along the batch dimension; only those layers know about replicas. Checked on a sample with two different
  replicas on different inputs (stack_checks.py `check_independent`): a model that mixes the
  examples of a batch goes on to vmap.
- vmap (vmapped.py): any other model, one copy's forward with its parameters and buffers swapped
  for their stacks under vmap, buffers stacked too (batch norm then updates each replica's
  running statistics in place); tied weights go through `torch.func.functional_call`.

Inputs are shared (B, ...) by default (the lams of one seed see the same batches), or one
batch per replica (K, B, ...) with `per_replica=True` (several seeds in one stack): the packed
path then starts from grouped kernels, vmap maps over the inputs too.

Anything that would not reproduce the sequential numbers (random ops in forward outside dropout
layers, outputs or gradients that differ from the model's own on a sample batch) raises
`CannotBatch(reason)`. Dropout stacks: each replica draws masks of its own (dropout.py), and the
checks compare numbers with every dropout rate at 0.
"""

from __future__ import annotations

import copy
import re
import weakref
from collections.abc import Callable

import torch
from torch import Tensor, nn

from l2advisor.training.dropout import check_runs_with_dropout, dropout_use, has_dropout, silenced
from l2advisor.training.folded import ReplicaWeights, fold_model, run_folded
from l2advisor.training.packed import (
    CHAN,
    FEAT,
    SHARED,
    Tensors,
    Unsupported,
    compile_layers,
    own_inputs,
    set_mode,
)
from l2advisor.training.stack_checks import CannotBatch, check_stack
from l2advisor.training.vmapped import unbatched_ops, vmapped_forward


class Stacked:
    """K replicas: `params` (K, *shape) leaves that require grad, `buffers` (K, *shape)."""

    kind = ""
    passed_over: tuple[str, ...] = ()  # why the faster forms before this one did not fit
    unbatched: tuple[str, ...] = ()  # vmap: ops it runs one replica at a time ("aten::...")
    mixes_batch_possible = False  # True: check on a sample that replicas do not see each other's examples

    def __init__(self, models: list[nn.Module]) -> None:
        params = [dict(m.named_parameters()) for m in models]
        buffers = [dict(m.named_buffers()) for m in models]
        trainable = [name for name, p in params[0].items() if p.requires_grad]
        if not trainable:
            raise CannotBatch("it has no trainable parameters")
        self.params: Tensors = {n: torch.stack([p[n].detach() for p in params]).requires_grad_() for n in trainable}
        frozen = [name for name, p in params[0].items() if not p.requires_grad]  # stacked, never updated
        self.buffers: Tensors = {**{n: torch.stack([p[n].detach() for p in params]) for n in frozen},
                                 **{n: torch.stack([b[n] for b in buffers]) for n in buffers[0]}}

    def __call__(self, x: Tensor, training: bool, params: Tensors | None = None,
                 buffers: Tensors | None = None, per_replica: bool = False) -> Tensor:
        """Outputs (K, B, ...) of every replica on the same inputs x (B, ...), or with
        `per_replica` on its own inputs x[k] (x: (K, B, ...))."""
        raise NotImplementedError

    def after_check(self, model: nn.Module) -> None:
        """Forget what the output check did to Python-side state (a model counting its calls)."""

    def select(self, keep: Tensor) -> None:
        """Keep only the replicas at indices `keep` (the others stopped)."""
        self.params = {n: p.detach()[keep].requires_grad_() for n, p in self.params.items()}
        self.buffers = {n: b[keep] for n, b in self.buffers.items()}

    def subset(self, keep: Tensor) -> tuple[Tensors, Tensors]:
        """Copies of the params and buffers of some replicas (to evaluate only those)."""
        return ({n: p.detach()[keep] for n, p in self.params.items()},
                {n: b[keep] for n, b in self.buffers.items()})


class VmapStacked(Stacked):
    """Any model: one copy's forward under vmap over the stacked state (vmapped.py)."""

    kind = "vmap"

    def __init__(self, models: list[nn.Module]) -> None:
        super().__init__(models)
        self.randomness = "different" if has_dropout(models[0]) else "error"  # each replica its own masks
        self.after_check(models[0])

    def after_check(self, model: nn.Module) -> None:
        self.base = copy.deepcopy(model)
        self.modules = tuple(self.base.modules())  # the root first
        self._mapped: dict[bool, Callable[..., Tensor]] = {}  # per_replica -> the vmapped forward

    def __call__(self, x: Tensor, training: bool, params: Tensors | None = None,
                 buffers: Tensors | None = None, per_replica: bool = False) -> Tensor:
        set_mode(self.modules, training)
        mapped = self._mapped.get(per_replica)
        if mapped is None:
            mapped = self._mapped[per_replica] = self._vmapped(per_replica)
        return mapped(self.params if params is None else params, self.buffers if buffers is None else buffers, x)

    def _vmapped(self, per_replica: bool) -> Callable[..., Tensor]:
        """The forward of one replica, vmapped over the stacked state (and inputs), built once
        (vmapped.py); only tied weights take torch.func's functional_call, which ties them."""
        return vmapped_forward(self.base, per_replica, _has_tied_tensors(self.base), self.randomness)


def _tied_names(model: nn.Module) -> dict[str, str]:
    """{another name of a parameter registered under several: the name its stack has} (tied
    weights, as a language model's embedding and output layer: the stack is the first name's)."""
    first: dict[int, str] = {}
    aliases = {}
    for name, param in model.named_parameters(remove_duplicate=False):
        if first.setdefault(id(param), name) != name:
            aliases[name] = first[id(param)]
    return aliases


def _has_tied_tensors(model: nn.Module) -> bool:
    """Whether one parameter or buffer is registered under two names (named_* list it once)."""
    every = [*model.named_parameters(remove_duplicate=False), *model.named_buffers(remove_duplicate=False)]
    return len({id(t) for _, t in every}) < len(every)


class PackedStacked(Stacked):
    """An `nn.Sequential` of known layers, run as K-wide kernels (see the module docstring)."""

    kind = "packed"

    def __init__(self, models: list[nn.Module], channels_last: bool = True, features_first: bool = True) -> None:
        if _has_tied_tensors(models[0]):  # the layer program reads each name's own tensor
            raise Unsupported("parameters shared between layers")
        super().__init__(models)
        self.layers = compile_layers(models[0], channels_last, features_first)

    def __call__(self, x: Tensor, training: bool, params: Tensors | None = None,
                 buffers: Tensors | None = None, per_replica: bool = False) -> Tensor:
        params = self.params if params is None else params
        buffers = self.buffers if buffers is None else buffers
        k = len(next(iter(params.values())))
        h, layout = (own_inputs(x) if per_replica else (x, SHARED))
        for layer in self.layers:
            h, layout = layer(h, layout, params, buffers, k, training)
        if layout == SHARED:
            return h.unsqueeze(0).expand(k, *h.shape)
        if layout == CHAN:  # (B, K*C, ...) -> (K, B, C, ...)
            return h.unflatten(1, (k, -1)).movedim(1, 0)
        if layout == FEAT:  # (K, F, B) -> (K, B, F), a view
            return h.transpose(1, 2)
        return h


class FoldedStacked(Stacked):
    """A custom module of linear, norm, attention, convolution and embedding layers and free
    tensors, run on (K*B, ...) batches (folded.py); `buffers` holds the batch norms' statistics."""

    kind = "folded"
    mixes_batch_possible = True

    def __init__(self, models: list[nn.Module], batch_norms_beside_convolutions: bool = False) -> None:
        super().__init__(models)
        if any(not p.requires_grad for p in models[0].parameters()):  # each replica would need its own
            raise Unsupported("frozen parameters")
        self.weights = ReplicaWeights(aliases=_tied_names(models[0]))
        # keeps replica 0's other buffers, for them all
        self.folded = fold_model(models[0], self.weights, batch_norms_beside_convolutions)
        own = self.weights.own_buffers  # batch norms' statistics: each replica's, in the stack
        if any(n not in own and not all(same_values(b[0], other) for other in b[1:]) for n, b in self.buffers.items()):
            raise Unsupported("buffers that differ between replicas")
        self.modules = tuple(self.folded.modules())  # the root first
        self.constant = {n: b.clone() for n, b in self.folded.named_buffers()}  # to see a call change one
        self.buffers = {n: b for n, b in self.buffers.items() if n in own}

    def after_check(self, model: nn.Module) -> None:
        """The shared buffers must come out of the checks' calls as they went in."""
        for name, buffer in self.folded.named_buffers():
            if not same_values(buffer, self.constant[name]):
                raise CannotBatch(f"its forward changes the buffer {name}, which the replicas would share")

    def __call__(self, x: Tensor, training: bool, params: Tensors | None = None,
                 buffers: Tensors | None = None, per_replica: bool = False) -> Tensor:
        return run_folded(self.modules, self.weights, x, self.params if params is None else params,
                          self.buffers if buffers is None else buffers, training, per_replica)


def stack_replicas(models: list[nn.Module], sample: Tensor, per_replica: bool = False) -> Stacked:
    """Stack K freshly built replicas: packed if possible, else folded, else vmap, else `CannotBatch`.

    `sample` (a few training inputs) checks that the stacked outputs equal the model's own,
    in training and in evaluation mode, and its gradients too, before any step is taken
    (stack_checks.py); with `per_replica` (the replicas will train on batches of their own)
    that way of calling is checked too.
    """
    use = dropout_use(models[0], sample) if has_dropout(models[0]) else None
    if use is not None and use.draws_outside:
        raise CannotBatch("its forward draws random numbers outside its dropout layers (or changes between "
                          "calls), which the stack's checks cannot compare")
    if per_replica and any(not same_python_state(models[0], other) for other in models[1:]):
        # replicas of several seeds: one copy of the modules runs them all (vmap), so a
        # seed-dependent attribute (a permutation kept as a plain tensor, the seed itself)
        # would be replica 0's for all
        raise CannotBatch("its modules keep state outside parameters and buffers that differs between seeds")
    attempts: list[type[Stacked]] = [PackedStacked, FoldedStacked, VmapStacked]
    reason = ""
    passed_over: list[str] = []  # "packed: why not", "folded: why not"
    if use is not None and use.outside_batch:
        attempts.remove(FoldedStacked)
        passed_over.append("folded: a dropout layer given a tensor whose first size is not the batch's (one mask "
                           "across the examples, which folded replicas would draw per example)")
    for kind in attempts:
        unbatched: list[str] = []
        try:
            with unbatched_ops(unbatched):
                stacked = kind(models)
                with silenced(models[0], *getattr(stacked, "modules", ())[:1]):  # checks compare numbers
                    check_stack(stacked, models[0], sample, per_replica)
                if use is not None:
                    check_runs_with_dropout(stacked, sample, per_replica)
            stacked.after_check(models[0])
            stacked.passed_over, stacked.unbatched = tuple(passed_over), tuple(dict.fromkeys(unbatched))
            return stacked
        except Unsupported as err:
            passed_over.append(f"{kind.kind}: {err}")
            continue
        except CannotBatch as err:
            reason = str(err)
        except Exception as err:  # vmap refuses an op, or the layer arithmetic does not fit
            reason = _refusal(err)
        passed_over.append(f"{kind.kind}: {reason}")
    raise CannotBatch(reason or "no batched form of it was found")


def _refusal(err: Exception) -> str:
    """Why a form failed, in one phrase: torch's vmap refusing an op in our words (its own text
    speaks of generating a fallback), anything else as its type and first line."""
    first = str(err).splitlines()[0] if str(err) else ""
    refused = re.match(r"Batching rule not implemented for (aten::\w+(?:\.\w+)?)", first)
    if refused:
        return f"torch's vmap has no batching rule for {refused.group(1)}"
    return f"{type(err).__name__}: {first}".rstrip(": ")


_MODULE_INTERNALS = {"_parameters", "_buffers", "_modules", "training"}


def same_python_state(a: nn.Module, b: nn.Module) -> bool:
    """The two models' modules hold equal attributes besides parameters and buffers (numbers,
    strings, tensors kept as plain attributes, ...); anything that cannot be compared counts as
    different. A list of the module's own parameters (nn.LSTM's `_flat_weights`, and weak
    references to them) is compared by their names: it is the parameters again, not state."""
    for ma, mb in zip(a.modules(), b.modules(), strict=True):
        da = {k: _own_names(ma, v) or v for k, v in vars(ma).items() if k not in _MODULE_INTERNALS}
        db = {k: _own_names(mb, v) or v for k, v in vars(mb).items() if k not in _MODULE_INTERNALS}
        if da.keys() != db.keys() or not all(_equal(da[k], db[k]) for k in da):
            return False
    return True


def _own_names(module: nn.Module, value: object) -> tuple[str | None, ...] | None:
    """For a list or tuple of `module`'s own parameters and buffers, or weak references to them
    (None allowed), their names; None for any other value."""
    if not isinstance(value, (list, tuple)) or not value:
        return None
    value = [item() if isinstance(item, weakref.ref) else item for item in value]
    own = {id(t): name for name, t in (*module._parameters.items(), *module._buffers.items()) if t is not None}
    if not all(item is None or (isinstance(item, Tensor) and id(item) in own) for item in value):
        return None
    return tuple(None if item is None else own[id(item)] for item in value)


def same_values(x: Tensor, y: Tensor) -> bool:
    """Equal shapes and values, NaN equal to NaN (a buffer holding NaN is still one constant)."""
    if x.shape != y.shape or x.dtype != y.dtype:
        return False
    if x.is_floating_point() or x.is_complex():
        nan, inf = x.isnan(), float("inf")
        return bool(torch.equal(nan, y.isnan())
                    and torch.equal(x.nan_to_num(0.0, inf, -inf), y.nan_to_num(0.0, inf, -inf)))
    return bool(torch.equal(x, y))


def _equal(x: object, y: object) -> bool:
    if isinstance(x, Tensor) or isinstance(y, Tensor):
        return isinstance(x, Tensor) and isinstance(y, Tensor) and same_values(x, y)
    try:
        return bool(x == y)
    except Exception:  # an object whose == is not a plain truth value (arrays): compare no further
        return x is y
