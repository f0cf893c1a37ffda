"""A refusal names what blocks, and apart, what the directory would accept on its own."""

from __future__ import annotations

from l2advisor.runs.settings_diff import blocking, settings_diff


def _compatible(old: dict, new: dict) -> bool:  # accepts other budgets and probe budgets, nothing else
    return all(old[k] == new[k] for k in old if k not in ("budget", "probe_budget"))


_compatible.may_differ = ("budget", "probe_budget")  # type: ignore[attr-defined]


def test_one_acceptable_difference_is_named_apart_in_the_singular() -> None:
    old, new = {"lr": 0.05, "budget": 5000}, {"lr": 0.1, "budget": 8000}
    said = blocking(settings_diff(old, new), _compatible, old, new)
    assert said == "lr: 0.05 -> 0.1; the other difference, budget: 5000 -> 8000, would be accepted on its own"


def test_several_are_named_together_in_the_plural() -> None:
    old, new = {"lr": 0.05, "budget": 5000, "probe_budget": 1}, {"lr": 0.1, "budget": 8000, "probe_budget": 2}
    said = blocking(settings_diff(old, new), _compatible, old, new)
    assert said == ("lr: 0.05 -> 0.1; the other differences, budget: 5000 -> 8000; probe_budget: 1 -> 2, "
                    "would be accepted on their own")


def test_when_only_acceptable_ones_differ_nothing_is_set_apart() -> None:
    old, new = {"lr": 0.05, "budget": 5000}, {"lr": 0.05, "budget": 8000}
    assert blocking(settings_diff(old, new), _compatible, old, new) == "budget: 5000 -> 8000"
