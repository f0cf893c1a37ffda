"""Settings a model file spells in a way l2advisor does not read, said before anything trains.

A file that sets `learning_rate = 0.05` or `batchsize = 32` trained at the defaults (lr 0.1,
batch 64) without a word, and the advice, which is tied to the lr, was for a run the user would
not make. So a top-level number or string whose name is close to a setting the file does not
define (difflib's ratio >= 0.75, or a common alias) gets a note naming the setting and the value
used instead; a `weight_decay` in the file gets one saying the probes choose it.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from types import ModuleType
from typing import Any

ALIASES = {"learning_rate": "lr", "learningrate": "lr", "bs": "batch_size", "batch": "batch_size", "optim": "optimizer",
           "mom": "momentum", "loss_fn": "loss", "criterion": "loss"}
DECAY_NAMES = ("weight_decay", "wd")  # what l2advisor chooses, not reads ("lam", "decay": too often something else)


def unread_settings_notes(module: ModuleType, defaults: Mapping[str, Any], where: str) -> tuple[str, ...]:
    """Notes on the file's top-level values that look like misspelt settings, or a weight decay."""
    notes = []
    for name, value in vars(module).items():
        if name.startswith("_") or name in defaults or isinstance(value, (bool, type, ModuleType)):
            continue
        number = isinstance(value, (int, float, str))
        if number and name.lower() in DECAY_NAMES:
            notes.append(f"{where}: `{name} = {value!r}` is not read: the weight decay is what l2advisor "
                         "chooses (each probe trains its own lam; `train --weight-decay` sets one).")
            continue
        meant = _meant(name, defaults) if number else ALIASES.get(name.lower()) if callable(value) else None
        if meant is not None and not hasattr(module, meant):
            used = "cross-entropy" if meant == "loss" and defaults[meant] is None else repr(defaults[meant])
            notes.append(f"{where}: `{name}` is not a setting l2advisor reads; did you mean `{meant}`? "
                         f"{meant} = {used}, the default, is used.")
    return tuple(notes)


def _meant(name: str, defaults: Mapping[str, Any]) -> str | None:
    """The setting a number's or string's name seems to mean: another case, an alias, or a near spelling."""
    lower = name.lower()
    if lower in defaults:
        return lower
    return ALIASES.get(lower) or next(iter(difflib.get_close_matches(lower, list(defaults), 1, 0.75)), None)
