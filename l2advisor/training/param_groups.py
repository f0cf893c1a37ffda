"""Which optimizer param groups a weight-decay scheduler manages, and how to build them.

Decaying biases and norm scales (1-D parameters) is rarely wanted; `split_decay_groups`
puts them in a group of their own that `AutoL2(param_groups="exclude_1d")` then leaves alone.
"""

from __future__ import annotations

import numbers
from collections.abc import Iterable, Sequence
from typing import Any

import torch

from l2advisor.errors import AutoL2ArgumentError

GroupSpec = str | Sequence[int]  # "all" | "nonzero" | "exclude_1d" | "not_only_1d" | group indices
GROUP_MODES = ("all", "nonzero", "exclude_1d", "not_only_1d")


def split_decay_groups(
    params: torch.nn.Module | Iterable[Any], weight_decay: float = 0.0
) -> list[dict[str, Any]]:
    """Split parameters into a decayed group and an undecayed (weight_decay 0) group.

    Parameters with ``ndim <= 1`` (biases, norm scales, scalars) go to the undecayed
    group; the rest to the decayed group, first. Accepts a module, parameters, or
    ``(name, parameter)`` pairs; parameters that do not require grad are skipped;
    empty groups are omitted. Pass the result to the optimizer, then build `AutoL2`
    with ``param_groups="exclude_1d"`` so it leaves the second alone (``"nonzero"`` works
    too when ``weight_decay`` is given non-zero: with the default 0 both groups start at 0).
    """
    if isinstance(params, torch.nn.Module):
        params = params.parameters()
    decayed: list[torch.Tensor] = []
    undecayed: list[torch.Tensor] = []
    for item in params:
        p = item[1] if isinstance(item, tuple) else item
        if not isinstance(p, torch.Tensor):
            raise AutoL2ArgumentError(f"split_decay_groups expected parameters, got {type(p).__name__}.")
        if p.requires_grad:
            (undecayed if p.ndim <= 1 else decayed).append(p)
    groups = [{"params": decayed, "weight_decay": float(weight_decay)}]
    groups.append({"params": undecayed, "weight_decay": 0.0})
    return [g for g in groups if g["params"]]


def resolve_groups(optimizer: torch.optim.Optimizer, spec: GroupSpec) -> list[int]:
    """The indices of the param groups AutoL2 manages (see the class docstring)."""
    groups = getattr(optimizer, "param_groups", None)
    if not groups or not all("lr" in g for g in groups):
        raise AutoL2ArgumentError("optimizer must be a torch optimizer with param groups that have 'lr'.")
    n = len(groups)
    if spec == "all":
        chosen = list(range(n))
    elif spec == "nonzero":
        chosen = [i for i, g in enumerate(groups) if g.get("weight_decay", 0.0) != 0.0]
    elif spec == "exclude_1d":
        chosen = [i for i, g in enumerate(groups) if not only_1d(g["params"], i)]
    elif spec == "not_only_1d":  # a group mixing 1-D and larger parameters is managed as it was built
        chosen = [i for i, g in enumerate(groups) if any(p.ndim > 1 for p in g["params"])]
    elif isinstance(spec, str) or not all(isinstance(i, numbers.Integral) for i in spec):
        raise AutoL2ArgumentError(
            f"param_groups must be 'all', 'nonzero', 'exclude_1d', 'not_only_1d' or a list of "
            f"group indices, got {spec!r}."
        )
    else:
        chosen = sorted({int(i) for i in spec})
        if len(chosen) != len(spec) or any(not 0 <= i < n for i in chosen):
            raise AutoL2ArgumentError(f"param_groups {list(spec)} must be distinct indices in [0, {n}).")
    if not chosen:
        hint = ("; every group has weight_decay 0 (split_decay_groups(model) leaves both at 0 unless "
                "given weight_decay=...): use param_groups='exclude_1d'") if spec == "nonzero" else ""
        raise AutoL2ArgumentError(f"param_groups={spec!r} leaves no param group for AutoL2 to manage{hint}.")
    if any("weight_decay" not in groups[i] for i in chosen):  # LBFGS, Rprop: lam would be written, never read
        raise AutoL2ArgumentError(f"{type(optimizer).__name__} has no weight_decay setting, so AutoL2's lam "
                         "would change nothing; use an optimizer with weight decay (SGD or AdamW).")
    return chosen


def only_1d(params: list[torch.Tensor], index: int) -> bool:
    small = [p.ndim <= 1 for p in params]
    if any(small) and not all(small):
        raise AutoL2ArgumentError(
            f"param group {index} mixes 1-D and larger parameters; build the "
            f"groups with split_decay_groups() to exclude the 1-D ones, or pass "
            f"param_groups='not_only_1d' to manage the group as it was built."
        )
    return all(small)
