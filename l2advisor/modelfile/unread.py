"""Settings a model file spells in a way l2advisor does not read, said before anything trains.

A file that sets `learning_rate = 0.05` or `batchsize = 32` trained at the defaults (lr 0.1,
batch 64) without a word, and the advice, which is tied to the lr, was for a run the user would
not make. So a top-level number or string whose name is close to a setting the file does not
define (difflib's ratio >= 0.75, or a common alias) is refused in one sentence where its value is
not the default (it would change the run) and the name is that setting written another way (another
case, an alias, a plural, a `train_` prefix, a typo), and otherwise noted; a function named like `loss` or
`metric` gets a note naming the setting and what is used instead; a `weight_decay` in the file
gets one saying the probes choose it.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Mapping
from types import ModuleType
from typing import Any

from l2advisor.errors import InputError

ALIASES = {"learning_rate": "lr", "learningrate": "lr", "bs": "batch_size", "batch": "batch_size", "optim": "optimizer",
           "mom": "momentum", "loss_fn": "loss", "criterion": "loss", "loss_function": "loss", "loss_func": "loss",
           "metric_fn": "metric", "eval_metric": "metric", "score": "metric"}
FUNCTIONS = ("loss", "metric")  # the settings a function of the file's own may be
BUILDERS = ("build_model", "build_data", "build_test")
BUILDER_ALIASES = {"make_model": "build_model", "get_model": "build_model", "create_model": "build_model",
                   "model": "build_model", "get_data": "build_data", "load_data": "build_data",
                   "make_data": "build_data", "build_dataset": "build_data", "build_datasets": "build_data"}
DECAY_NAMES = ("weight_decay", "wd")  # what l2advisor chooses, not reads ("lam", "decay": too often something else)


def unread_settings_notes(module: ModuleType, defaults: Mapping[str, Any], where: str,
                          given: Mapping[str, Any] | None = None) -> tuple[str, ...]:
    """Notes on the file's top-level values that look like misspelt settings, or a weight decay. A
    number or string that looks like a setting neither the file nor a flag (`given`) sets, with a
    value other than that setting's default, is an InputError where its name is that setting misspelt
    (`_misspelt`: `learning_rate`, `batchsize`, `Momentum`; not `bn_momentum`): the probes would train at
    the default (a reviewer's `learning_rate = 0.01` probed at lr 0.1 behind one line of warning, and the
    advice, tied to the lr, was for a run the user would not make). Otherwise it is only noted; so is a
    function named like `loss` or `metric` (`criterion = nn.CrossEntropyLoss()` is the default itself)."""
    notes = []
    for name, value in vars(module).items():
        if name.startswith("_") or name in defaults or isinstance(value, (bool, type, ModuleType)):
            continue
        number = isinstance(value, (int, float, str))
        if number and name.lower() in DECAY_NAMES:
            notes.append(f"{where}: `{name} = {value!r}` is not read: the weight decay is what l2advisor "
                         "chooses (each probe trains its own lam; `train --weight-decay` sets one).")
            continue
        meant = _meant(name, defaults) if number else _meant_function(name, value, module) if callable(value) else None
        if meant is not None and not hasattr(module, meant) and meant not in (given or {}):
            used = "cross-entropy" if meant == "loss" and defaults[meant] is None else repr(defaults[meant])
            if _misspelt(name, meant) and _would_set(value, defaults[meant]) and value != defaults[meant] and \
                    not (meant == "momentum" and _optimizer(module, given) == "adamw"):  # AdamW reads no momentum
                raise InputError(f"{where}: `{name} = {value!r}` is not a setting l2advisor reads; did you mean "
                                 f"`{meant}`? Rename it, or set `{meant}` itself (in the file or by its flag): "
                                 f"else the probes train at the default {meant} = {used}.")
            notes.append(f"{where}: `{name}` is not a setting l2advisor reads; did you mean `{meant}`? "
                         f"{meant} = {used}, the default, is used.")
    return tuple(notes)


def _misspelt(name: str, meant: str) -> bool:
    """Whether `name` is the setting written another way: another case, a common alias, or a typo
    within two edits; not a name that holds the setting's inside a longer one (`bn_momentum`,
    `eval_batch_size`, `lr0`: a model's own hyperparameters, noted only)."""
    lower = name.lower()
    core = re.sub(r"^train_|_train$", "", lower.strip("_"))  # lr_, train_batch_size, batch_size_train: the setting
    if meant in (lower, core, core.removesuffix("s")) or ALIASES.get(lower) == meant:  # metrics, not a model's own
        return True
    return meant not in lower and _edits(lower, meant) <= 2


def _edits(a: str, b: str) -> int:
    """Levenshtein distance (insertions, deletions, substitutions)."""
    row = list(range(len(b) + 1))
    for i, x in enumerate(a, 1):
        prev, row[0] = row[0], i
        for j, y in enumerate(b, 1):
            prev, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, prev + (x != y))
    return row[-1]


def _optimizer(module: ModuleType, given: Mapping[str, Any] | None) -> str:
    """The optimizer the run will use, as far as the file or a flag says (lowercase; "" if unknown)."""
    value = (given or {}).get("optimizer", getattr(module, "optimizer", ""))
    return value.lower() if isinstance(value, str) else getattr(value, "__name__", "").lower()


def _would_set(value: Any, default: Any) -> bool:
    """Whether `value` is of the kind its setting takes (a number for lr, momentum and batch_size, a
    string for optimizer and metric): `score = 0.5` is a number, not a misspelt metric."""
    if isinstance(default, str):
        return isinstance(value, str)
    return isinstance(default, (int, float)) and isinstance(value, (int, float))


def _meant(name: str, defaults: Mapping[str, Any]) -> str | None:
    """The setting a number's or string's name seems to mean: another case, an alias, or a near spelling."""
    lower = name.lower()
    if lower in defaults:
        return lower
    return ALIASES.get(lower) or next(iter(difflib.get_close_matches(lower, list(defaults), 1, 0.75)), None)


def _meant_function(name: str, value: Any, module: ModuleType) -> str | None:
    """The setting a callable seems to mean: a common alias (`criterion = nn.CrossEntropyLoss()`), or
    a near spelling for a function of the file's own (`def metrics(...)`, `def loss_function(...)`
    were used silently as accuracy and cross-entropy; an imported function is left alone)."""
    lower = name.lower()
    if ALIASES.get(lower) in FUNCTIONS:
        return ALIASES[lower]
    if getattr(value, "__module__", None) != module.__name__:
        return None
    return next(iter(difflib.get_close_matches(lower, FUNCTIONS, 1, 0.75)), None)


def meant_builder(module: ModuleType, missing: str) -> str | None:
    """A function of the file's own whose name seems to mean the missing builder (`build_dataset`
    for build_data), for the sentence that says it is missing."""
    own = [name for name, value in vars(module).items()
           if callable(value) and getattr(value, "__module__", None) == module.__name__ and name not in BUILDERS]
    aliased = [name for name in own if BUILDER_ALIASES.get(name.lower()) == missing]
    return next(iter(aliased or difflib.get_close_matches(missing, own, 1, 0.75)), None)
