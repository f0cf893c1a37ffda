"""AutoL2's checks of its arguments and of what `step` is fed (autol2.py uses them).

Each raises AutoL2ArgumentError (an InputError, as the rest of the API raises, and a ValueError)
with one sentence a user can act on; `warn_if_coupled` warns instead, for an optimizer whose
weight_decay is not a shrink of lr*lam per step.
"""

from __future__ import annotations

import math
import numbers
import warnings
from typing import Any

import torch

from l2advisor.errors import AutoL2ArgumentError
from l2advisor.training.stall_signal import Smoothing


def one_minus_momentum(group: dict[str, Any]) -> float:
    """1 - momentum of an SGD param group (undampened heavy ball); 1 for Adam-style groups."""
    momentum = group.get("momentum", 0.0) if "betas" not in group else 0.0
    dampening = group.get("dampening", 0.0)
    return 1.0 - float(momentum) if dampening == 0 and 0.0 <= float(momentum) < 1.0 else 1.0


def measurement(name: str, value: object) -> float | None:
    """A loss or accuracy fed to `step`: a float, or None for NaN / nothing measured."""
    if value is None:
        return None
    if isinstance(value, (str, bytes)):  # float("1.0") would pass: a mix-up to say, not to parse
        raise AutoL2ArgumentError(f"AutoL2.step: {name} must be a number, got {value!r}.")
    if hasattr(value, "detach"):  # the loss as training_step returns it: float() of it warns under autograd
        value = value.detach()  # type: ignore[union-attr]
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError, RuntimeError):  # a tensor of several values, a list, an object
        size = getattr(value, "numel", lambda: None)()
        got = f"a tensor of {size} values" if size is not None else type(value).__name__
        raise AutoL2ArgumentError(f"AutoL2.step: {name} must be a number or a one-element tensor (the "
                                  f"step's mean), got {got}.") from None
    if name == "accuracy" and not math.isnan(number) and not 0.0 <= number <= 1.0:
        raise AutoL2ArgumentError(f"AutoL2.step: accuracy must be a fraction between 0 and 1, got {number:g}"
                                  + (" (a percentage? divide it by 100)." if 1.0 < number <= 100.0 else "."))
    return None if math.isnan(number) else number


# Adaptive optimizers whose weight_decay adds lam*w to the gradient before the per-coordinate
# scaling: the shrink per step is not lr*lam, so tau = sum lr*lam is not their clock.
_COUPLED = ("Adam", "Adamax", "NAdam", "RAdam", "RMSprop", "Adagrad", "Adadelta")


def warn_if_coupled(optimizer: torch.optim.Optimizer) -> None:
    coupled = tuple(c for c in (getattr(torch.optim, n, None) for n in _COUPLED) if isinstance(c, type))
    name = type(optimizer).__name__
    if isinstance(optimizer, coupled) and not optimizer.param_groups[0].get("decoupled_weight_decay", False):
        warnings.warn(f"AutoL2 on torch.optim.{name}: its weight_decay is an L2 term that {name} rescales per "
                      "coordinate, so lr*lam is not its clock and the refractory time and lam0 advice do not "
                      "carry over; use AdamW (decoupled) or SGD.", UserWarning, stacklevel=3)


def finite_number(name: str, value: float, low: float, low_ok: bool = True) -> float:
    """A finite real number >= low (> low when not low_ok), as float."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise AutoL2ArgumentError(f"{name} must be a number, got {value!r}.")
    value = float(value)
    if not math.isfinite(value) or value < low or (value == low and not low_ok):
        bound = f">= {low:g}" if low_ok else f"> {low:g}"
        raise AutoL2ArgumentError(f"{name} must be finite and {bound}, got {value!r}.")
    return value


def positive_count(name: str, value: int) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
        raise AutoL2ArgumentError(f"{name} must be an integer >= 1, got {value!r}.")
    return int(value)


def smoothing_setting(value: Smoothing) -> Smoothing:
    if isinstance(value, str) and value in ("none", "mean"):
        return value
    if isinstance(value, numbers.Real) and not isinstance(value, bool) and 0.0 < value < 1.0:
        return float(value)  # numpy's too, as a plain float (saved in state_dict's JSON)
    raise AutoL2ArgumentError(
        f"smoothing must be 'none', 'mean' or an EMA coefficient in (0, 1), got {value!r}."
    )
