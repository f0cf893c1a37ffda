"""AutoL2 settings from an advice, for `AutoL2.from_advice` and the Lightning and Hugging Face
callbacks alike: `l2advisor.recommend(...)` (a Recommendation), its `.autol2`, their dicts, or
the advice.json `l2advisor recommend DIR --autol2` writes (its path, or DIR). Imports no
training framework."""

from __future__ import annotations

import math
import os
import warnings
from pathlib import Path
from typing import Any

from l2advisor.errors import InputError
from l2advisor.runs.store import read_json

ADVICE_FILE = "advice.json"  # as `l2advisor recommend` writes it into the run directory
ADVISED_KEYS = ("lam0", "decay", "refractory_tau", "lam_min")  # what an advice sets of AutoL2's keywords


def settings_from_advice(advice: Any) -> dict[str, Any]:
    """AutoL2 keywords from `l2advisor.recommend(...)` (a Recommendation: its `.autol2` always
    holds them), that `.autol2` (an AutoL2Advice), its dict, or advice.json /
    `recommend --json` output, which carry an "autol2" entry when `l2advisor.recommend` wrote them
    or `--autol2` was given, or the path of such a file (a run directory: its advice.json)."""
    advice = _loaded(advice)
    source = _autol2_part(advice)
    if hasattr(source, "to_dict"):
        source = source.to_dict()
    if isinstance(source, dict) and "lam0" not in source:  # a plain advice (no --autol2): the user's mistake
        raise InputError(not_advice_message(advice))
    if not isinstance(source, dict):  # not an advice at all: a type error, as Python's own
        raise TypeError(not_advice_message(advice))
    return {k: float(source[k]) for k in ADVISED_KEYS if source.get(k) is not None}


def _loaded(advice: Any) -> Any:
    """An advice given as a path: the JSON it holds (a run directory's advice.json); else itself."""
    if not isinstance(advice, (str, os.PathLike)):
        return advice
    path = Path(advice)
    if path.is_dir() and not (path / ADVICE_FILE).is_file():  # probed, never advised
        raise InputError(f"{path} holds no {ADVICE_FILE}: `l2advisor recommend {path} --autol2` writes it, or pass "
                         f"`l2advisor.recommend(DIR)`, whose `.autol2` holds the AutoL2 settings.")
    return read_json(path / ADVICE_FILE if path.is_dir() else path)


def _autol2_part(advice: Any) -> Any:
    """The AutoL2 part of an advice: a Recommendation's `.autol2`, advice.json's or `--json`'s "autol2"
    entry, or the advice itself."""
    source = getattr(advice, "autol2", advice)  # a Recommendation carries its AutoL2Advice
    if isinstance(source, dict) and isinstance(source.get("autol2"), dict):  # advice.json, --json output
        source = source["autol2"]
    return source


def advice_lr(advice: Any) -> float | None:
    """The learning rate an advice was made for (its AutoL2 settings keep lr*lam at the probes'
    values at that lr); None when the advice does not say."""
    source = _autol2_part(_loaded(advice))
    lr = source.get("lr") if isinstance(source, dict) else getattr(source, "lr", None)
    return float(lr) if isinstance(lr, (int, float)) and math.isfinite(lr) and lr > 0 else None


def warn_if_other_lr(advised_lr: float | None, optimizer: Any, who: str, warned: set[str],
                     stacklevel: int = 4) -> None:
    """Warn when the optimizer trains at another lr than the advice was made for: lam0 and lam_min
    set lr*lam, so at another lr they are another schedule. The lr before any scheduler's warmup
    (`initial_lr`) is compared. `warned`: the notes already given (`warn_new`)."""
    if advised_lr is None:
        return
    lrs = sorted({float(g.get("initial_lr", g["lr"])) for g in optimizer.param_groups})
    if all(math.isclose(lr, advised_lr, rel_tol=1e-6) for lr in lrs):
        return
    shown = ", ".join(f"{lr:g}" for lr in lrs)
    note = (f"{who}: the advice was made for lr={advised_lr:g} but the optimizer trains at lr={shown}; its "
            "lam0 and lam_min hold lr*lam at the probes' values only at the advised lr: advise for this lr "
            "(`l2advisor recommend DIR --autol2 --lr X`, or l2advisor.recommend(DIR, lr=X)).")
    warn_new([note], warned, stacklevel=stacklevel)


def not_advice_message(advice: Any) -> str:
    """Why `advice` holds no AutoL2 settings, and where they are, in one sentence."""
    if isinstance(advice, dict):
        return ("from_advice got a dict with neither a `lam0` key nor an `autol2` entry: advice.json holds the "
                "AutoL2 settings only when written with --autol2 (`l2advisor recommend DIR --autol2`), so rerun "
                "that, or pass `l2advisor.recommend(DIR)`, whose `.autol2` always holds them.")
    return (f"from_advice needs AutoL2 settings, got a {type(advice).__name__}: pass `l2advisor.recommend(DIR)` "
            "(its `.autol2` holds them), that `.autol2`, or the path of the advice.json `l2advisor recommend DIR --autol2` "
            "wrote.")


def warn_new(notes: list[str], warned: set[str], stacklevel: int = 3) -> None:
    """Warn each note not in `warned` (a callback's own set) and add it: a resumed fit, or another
    fit of the same callback, is not told again what its first one was told. Python's own once-per-
    place filter is no guard here: any change to the warning filters (Lightning, transformers and
    pytest make some) starts it over."""
    for note in notes:
        if note not in warned:
            warned.add(note)
            warnings.warn(note, UserWarning, stacklevel=stacklevel)  # where the trainer calls the callback's hook
