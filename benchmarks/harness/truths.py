"""Which tasks have a finished ground truth: every grid lam x at least 3 seeds with a run that
covers each budget asked (benchmarks/ground_truth/ fills up while the background job runs)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any


def complete_truth(task: Any, budgets: Sequence[int], schedule: str = "constant") -> tuple[Any | None, str]:
    """(truth, "") when the task's grid is finished at every budget, else (None, why)."""
    from benchmarks.suite.truth import load_truth

    try:
        truth = load_truth(task.name, schedule)
    except (FileNotFoundError, ValueError) as exc:
        return None, str(exc)
    missing_lams = sorted(set(task.lams) - {float(x) for x in truth.lams})
    if missing_lams:
        return None, f"no runs yet at lam {', '.join(f'{x:g}' for x in missing_lams)}"
    if len(truth.seeds) < 3:
        return None, f"{len(truth.seeds)} seeds so far"
    for budget in budgets:
        for lam in truth.lams:
            for seed in truth.seeds:
                try:
                    truth.curves(float(lam), seed, budget)
                except KeyError:
                    return None, f"no run at lam {lam:g}, seed {seed} for budget {budget}"
    return truth, ""
