"""How two results files' settings differ, in words: what refuses a run directory, and which
differences a `compatible` rule would accept alone (pure: dicts in, strings out; store.py uses it).
Nested settings are named by dotted keys (`probe.horizon`)."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any


def settings_diff(old: dict[str, Any], new: dict[str, Any], ignore: tuple[str, ...] = ()) -> list[str]:
    """Human-readable differences between two settings dicts (`key: old -> new`, nested keys
    dotted: `probe.horizon: 8.0 -> 4.0`), leaving out the dotted keys in `ignore`."""
    old, new = _flatten(old), _flatten(new)
    keys = sorted((set(old) | set(new)) - set(ignore))
    return [_difference(k, old.get(k), new.get(k)) for k in keys if old.get(k) != new.get(k)]


def _difference(key: str, old: Any, new: Any) -> str:
    if key == "model_sha256":  # 64 hex digits say nothing to a reader: what they stand for, and 12 of them
        short = (f"{v[:12]}..." if isinstance(v, str) else repr(v) for v in (old, new))
        return f"{key} (the model has changed: its file, or from Python its source, shapes or data): " + " -> ".join(short)
    return f"{key}: {old!r} -> {new!r}"


def _flatten(settings: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for key, value in settings.items():
        if isinstance(value, dict):
            flat.update(_flatten(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = value
    return flat


def blocking(diff: list[str], compatible: Callable[..., bool] | None, old: dict[str, Any],
              new: dict[str, Any], run_dir: Any = None) -> str:
    """The differences that refuse the directory. Those among `compatible`'s `may_differ` keys
    (the budget a ladder was sized for, a compare's trials and seeds) are named apart as fine
    alone only when `compatible` would accept the old settings with just them changed; its
    `explain(old, new, run_dir)`, when it has one, says why a difference came that nobody typed,
    or what else would serve."""
    if compatible is None:
        return "; ".join(diff)
    said = _differences(diff, compatible, old, new)
    explain = getattr(compatible, "explain", None)  # why a difference the user did not ask for came
    return said + (f" ({why})" if explain is not None and (why := explain(old, new, run_dir)) else "")


def _differences(diff: list[str], compatible: Callable[..., bool], old: dict[str, Any], new: dict[str, Any]) -> str:
    may = tuple(getattr(compatible, "may_differ", ()))
    flat_new = _flatten(new)

    def accepted(changes: list[str]) -> bool:
        trial = copy.deepcopy(old)
        for key in (d.split(":", 1)[0] for d in changes):
            _set_dotted(trial, key, flat_new.get(key))
        return compatible(old, trial)

    # each allowed key that is fine on its own (more seeds: yes; other seeds: no), then all of them together
    fine = [d for d in diff if d.split(":", 1)[0] in may and accepted([d])]
    if not fine or len(fine) == len(diff) or not accepted(fine):
        return "; ".join(diff)
    refused = "; ".join(d for d in diff if d not in fine)
    if len(fine) == 1:
        return refused + f"; the other difference, {fine[0]}, would be accepted on its own"
    return refused + f"; the other differences, {'; '.join(fine)}, would be accepted on their own"


def _set_dotted(settings: dict[str, Any], key: str, value: Any) -> None:
    *parents, last = key.split(".")
    for part in parents:
        settings = settings.setdefault(part, {})
    settings[last] = value
