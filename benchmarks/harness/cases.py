"""One advice_suite case (a task at one budget) scored against its ground truth, the per-case
table and the summary line (pure: measurements and a truth in, rows and text out)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from benchmarks.harness.accounting import ProbeCost, advice_spread, median
from benchmarks.harness.scoring import mean_sd, verdict_right, within_spread

SHORT_VERDICT = {"holds": "H", "holds approximately": "A", "cannot tell": "C", "does not hold": "N"}


def score_case(truth: Any | None, budget: int, budgets: tuple[int, int], advices: Sequence[dict[str, Any]],
               cost: ProbeCost, spot: Sequence[float] = ()) -> dict[str, Any]:
    """advices: `recommend --json` of each probe-seed set (the first is the case's own probe);
    cost: that probe's; spot: real peaks at the first advised lam (one per seed)."""
    first = advices[0]
    lam = first.get("weight_decay")
    lams = [a.get("weight_decay") for a in advices]
    row: dict[str, Any] = {
        "budget": budget, "advised": lam, "verdict": first.get("verdict"),
        "verdicts": [a.get("verdict") for a in advices], "advised_all": lams,
        "advice_spread": advice_spread(lams), "probe_steps": cost.steps, "probe_wall_s": cost.seconds,
        "budget_run_wall_s": cost.budget_run_seconds, "cost_steps": cost.runs_by_steps,
        "cost_time": cost.runs_by_time, "cost_loop": cost.runs_by_loop, "spot_peaks": list(spot),
    }
    if truth is None:
        return {**row, "truth": False}
    mean, _ = mean_sd(truth.peaks(budget))
    best_lam = float(truth.best_lam(budget))
    best = float(np.max(mean))
    spread = float(truth.spread(budget))
    # The verdict is about the model, so it is judged from the task's whole truth: lam does
    # nothing when it matters at neither budget; the relations show when it matters at both
    # and the grid's best lam moves down with the budget.
    short, long = budgets
    matters_at = (bool(truth.lam_matters(short)), bool(truth.lam_matters(long)))
    matters = any(matters_at)
    shown = all(matters_at) and truth.best_lam(long) < truth.best_lam(short)
    acc = float(truth.accuracy_at(lam, budget)) if lam is not None else math.nan
    gap = 100 * (best - acc)
    rights = [verdict_right(a.get("verdict") or "", matters, shown) for a in advices]
    return {**row, "truth": True, "best_lam": best_lam, "best_acc": best, "acc_at_advised": acc,
            "gap_points": gap, "spread_points": 100 * spread,
            "within": within_spread(gap, 100 * spread) if math.isfinite(gap) else False,
            "outside_grid": bool(lam is not None and truth.outside_grid(lam)),
            "lam_matters": matters, "lam_matters_at": matters_at, "relations_shown": shown, "verdict_right": rights[0],
            "verdicts_right": rights, "spot_mean": float(np.mean(spot)) if len(spot) else None,
            "spot_sd": float(np.std(spot, ddof=1)) if len(spot) > 1 else None}


def _f(value: Any, fmt: str, missing: str = "-") -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "inf" if isinstance(value, float) and math.isinf(value) else missing
    return format(value, fmt)


def _right(value: bool | None) -> str:
    return "-" if value is None else ("yes" if value else "NO")


def _matters(r: dict[str, Any]) -> str:
    yes = lambda b: "yes" if b else "no"  # noqa: E731
    short, long = r["lam_matters_at"]
    return f"{yes(short)}, {yes(long)} / {yes(r['relations_shown'])}"


def table(rows: Sequence[dict[str, Any]]) -> str:
    """A markdown table, one line per case."""
    head = ("| task | budget | advised lam | grid best lam | gap (points) | within | verdict (3 sets) "
            "| right | lam matters (short, long) / relations shown | probe steps | cost (steps) | cost (wall) | cost (loop) | advice spread | spot (%) |")
    lines = [head, "|" + "---|" * (head.count("|") - 1)]
    for r in rows:
        verdicts = "".join(SHORT_VERDICT.get(v or "", "?") for v in r["verdicts"])
        spot = "-"
        if r.get("spot_mean") is not None:
            spot = f"{100 * r['spot_mean']:.2f} ± {100 * (r.get('spot_sd') or 0):.2f} (n={len(r['spot_peaks'])})"
        truth = r.get("truth")
        lines.append("| " + " | ".join([
            r["task"], f"{r['budget']:,}", _f(r["advised"], ".3g"),
            _f(r.get("best_lam"), ".3g") if truth else "no truth",
            f"{_f(r.get('gap_points'), '.2f')} (sd {_f(r.get('spread_points'), '.2f')})" if truth else "-",
            ("yes" if r["within"] else "NO") if truth else "-",
            f"{r['verdict']} ({verdicts})", _right(r.get("verdict_right")) if truth else "-",
            _matters(r) if truth else "-",
            f"{r['probe_steps']:,}", _f(r["cost_steps"], ".2f"), _f(r["cost_time"], ".2f"),
            _f(r.get("cost_loop"), ".2f"), _f(r["advice_spread"], ".2f"), spot]) + " |")
    return "\n".join(lines)


def summary(rows: Sequence[dict[str, Any]]) -> str:
    """cases within spread: a/b, verdicts right: c/d, probe cost median x / worst y budget runs
    (wall time, side by side), worst advice spread z; and, where known, the cost without start-up."""
    judged = [r for r in rows if r.get("truth")]
    within = sum(bool(r["within"]) for r in judged)
    verdicts = [r["verdict_right"] for r in judged if r["verdict_right"] is not None]
    every = [v for r in judged for v in r["verdicts_right"] if v is not None]
    costs = [r["cost_time"] for r in rows if r["cost_time"] is not None]
    spreads = [r["advice_spread"] for r in rows if r["advice_spread"] is not None]
    loops = [r["cost_loop"] for r in rows if r.get("cost_loop") is not None]
    mid, worst = median(costs), (max(costs) if costs else None)
    line = (f"cases within spread: {within}/{len(judged)}, verdicts right: {sum(verdicts)}/{len(verdicts)} "
            f"(every probe-seed set: {sum(every)}/{len(every)}), probe cost median {_f(mid, '.2f')} / "
            f"worst {_f(worst, '.2f')} budget runs, worst advice spread {_f(max(spreads) if spreads else None, '.2f')}")
    if loops:
        line += f" (start-up left out: cost median {_f(median(loops), '.2f')} / worst {_f(max(loops), '.2f')})"
    return line
