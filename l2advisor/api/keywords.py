"""The keyword arguments of `l2advisor.probe` (and `recommend`'s shared ones), checked: one
`InputError` sentence each, in the keywords' own words, before anything is built."""

from __future__ import annotations

import math
import numbers
import os
from collections.abc import Callable, Sequence
from typing import Any


def seeds_of(seeds: Any) -> tuple[int, ...]:
    """A sequence of whole numbers, e.g. (0, 1); one seed is (0,), not 0."""
    values = _sequence(seeds, "seeds", "whole numbers such as (0, 1)",
                       lambda s: isinstance(s, numbers.Integral) and not isinstance(s, bool))
    if not values:
        raise input_error(f"seeds must be a sequence of whole numbers such as (0, 1), got {seeds!r}.")
    return tuple(int(s) for s in values)


def lambdas_of(lambdas: Any) -> tuple[float, ...]:
    """A sequence of numbers, e.g. (0.1, 0.05); one lam is (0.1,), not 0.1 (their range: check_settings)."""
    if lambdas is None:
        return ()
    return tuple(float(v) for v in _sequence(lambdas, "lambdas", "numbers such as (0.1, 0.05)", is_real))


def _sequence(value: Any, keyword: str, what: str, item_ok: Callable[[Any], bool]) -> tuple[Any, ...]:
    """`value` as a tuple when it is a sequence (a list, a tuple, an array: not text) whose items pass
    `item_ok`; else one InputError naming `keyword`."""
    values = tuple(value) if not isinstance(value, (str, bytes)) and hasattr(value, "__iter__") else None
    if values is None or not all(item_ok(v) for v in values):
        raise input_error(f"{keyword} must be a sequence of {what}, got {value!r}.")
    return values


def check_numbers(**values: Any) -> None:
    """Keywords that take a number (or None): text or a bool is refused here, their range later."""
    for name, value in values.items():
        if value is not None and not is_real(value):
            raise input_error(f"{name} must be a number, got {value!r}.")


def is_real(value: Any) -> bool:
    """A real number, numpy's included (a budget computed with numpy), and not a bool."""
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def on_off(keyword: str, value: Any, none_ok: bool = False) -> Any:
    """An on/off keyword as a bool (numpy's too; None where `none_ok`): "no" is refused, not read as on."""
    import numpy as np

    if none_ok and value is None:
        return None
    if not isinstance(value, (bool, np.bool_)):
        raise input_error(f"{keyword} must be {'True, False or None' if none_ok else 'True or False'}, got {value!r}.")
    return bool(value)


def check_path(keyword: str, value: Any) -> None:
    """`out=`: a directory given as a string or a path (None: the default one)."""
    if value is not None and not isinstance(value, (str, os.PathLike)):
        raise input_error(f"{keyword} must be a directory path (a string or pathlib.Path), got {value!r}.")


def check_ladder(budget: float | None, lambdas: Sequence[float] | None, probe_budget: int | None,
                  horizon: float | None, early_stop: bool | None) -> None:
    """The ladder's keywords, checked before the model is built (probe_settings checks them too,
    after): a horizon, and a budget without a hand-made ladder (`speaks_api` words it in keywords)."""
    from l2advisor.probing.settings import horizon_ok, refuse_early_stop, refuse_hand_ladder

    if horizon is not None and not horizon_ok(horizon):
        raise input_error(f"horizon must be a finite number > 0 (a window in tau), got {horizon!r}.")
    if budget is not None:
        refuse_hand_ladder(lambdas=lambdas or (), probe_budget=probe_budget)
        refuse_early_stop(early_stop)


def check_budget(budget: Any, unit: Any) -> None:
    """`budget` and `unit`, checked before the model is built: steps, a whole number >= 1; epochs,
    a number > 0 (in steps once the training set's size is known, `budget_steps_of`)."""
    from l2advisor.probing.budget import UNITS

    if unit not in UNITS:
        raise input_error(f"unit must be steps or epochs, got {unit!r}.")
    if budget is None:
        if unit != "steps":
            raise input_error(f"unit={unit!r} applies to budget=: give both, or neither for the default ladder, "
                               "which is not sized for a budget.")
        return
    number = is_real(budget) and math.isfinite(budget)  # numpy's numbers too (a budget computed in a notebook)
    if unit == "steps" and not (number and budget >= 1 and budget == int(budget)):
        raise input_error(f"budget must be a whole number of steps >= 1, got {budget!r}.")
    if unit == "epochs" and not (number and budget > 0):
        raise input_error(f"budget in epochs must be a finite number > 0, got {budget!r}.")


def input_error(message: str) -> Exception:
    from l2advisor.errors import InputError

    return InputError(message)
