"""Print the ground-truth suite's table (Markdown) from benchmarks/ground_truth/*.jsonl.

    python benchmarks/suite/table.py                      # constant lr, every task
    python benchmarks/suite/table.py --schedule cosine

Per task and budget: the grid's best lam, the mean peak validation accuracy there and at lam = 0
(in %, with the standard deviation over seeds), whether lam matters (best beats lam = 0 by more
than max(0.3 points, 2 sd)), whether the best lam moves between the budgets, the seeds done, and
the training time (wall and CPU seconds summed over the task's runs; stacked lams share one).
"grid unfinished": some lam of the suite's grid has no run yet for some seed.
A task with no finished run yet is listed as "running".
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from benchmarks.suite import TASKS  # noqa: E402
from benchmarks.suite.truth import GROUND_TRUTH, Truth, load_truth  # noqa: E402


def _pct(row: np.ndarray) -> str:
    row = row[np.isfinite(row)]
    sd = f" ± {100 * np.std(row, ddof=1):.1f}" if len(row) > 1 else ""
    return f"{100 * np.mean(row):.1f}{sd}"


def times(task: str, schedule: str, root: Path) -> tuple[float, float]:
    """(wall, cpu) seconds of the task's runs under `schedule`; a stack counts once."""
    path = root / f"{task}.jsonl"
    groups: dict[tuple, tuple[float, float]] = {}
    for line in path.read_text().splitlines():
        rec = json.loads(line)
        if rec.get("kind") == "run" and rec["schedule"] == schedule:
            stacked = rec.get("stacked", 1)  # the lams of one stack share their wall_s and cpu_s
            key = (rec["seed"], rec["budget"], stacked, rec["wall_s"]) if stacked > 1 else (rec["seed"], rec["budget"], rec["lam"])
            groups[key] = (rec["wall_s"], rec.get("cpu_s", float("nan")))
    return sum(w for w, _ in groups.values()), sum(c for _, c in groups.values())


def rows(truth: Truth, budgets: tuple[int, int]) -> list[str]:
    out = []
    short, long = budgets
    for budget in budgets:
        peaks = truth.peaks(budget)
        best = int(np.nanargmax(truth.mean_peaks(budget)))  # as truth.best_lam
        moves = "yes" if truth.best_moves(short, long) else "no"
        out.append(f"{budget} | {truth.best_lam(budget):g} | {_pct(peaks[best])} | {_pct(peaks[0])} | "
                   f"{'yes' if truth.lam_matters(budget) else 'no'} | {moves if budget == long else ''}")
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--schedule", default="constant", choices=("constant", "cosine", "linear"))
    parser.add_argument("--root", type=Path, default=GROUND_TRUTH)
    args = parser.parse_args()
    print("| task | what | grid (lams) | budget | best lam | acc @ best (%) | acc @ lam=0 (%) | lam matters | "
          "best moves | seeds | wall / CPU (s) |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for name, task in TASKS.items():
        if args.schedule not in task.schedules:
            continue
        grid = f"0, {task.lams[1]:g} .. {task.lams[-1]:g} ({len(task.lams)})"
        try:
            truth = load_truth(name, args.schedule, args.root)
            truth.best_lam(task.budgets[1])  # every budget covered (a partial file raises)
        except (FileNotFoundError, ValueError):
            print(f"| {name} | {task.note} | {grid} | {task.budgets[0]}, {task.budgets[1]} | running | | | | | | |")
            continue
        wall, cpu = times(name, args.schedule, args.root)
        budgets = tuple(truth.header.get("budgets", task.budgets))  # --quick files have their own
        for i, row in enumerate(rows(truth, budgets)):
            head = f"{name} | {task.note} | {grid}" if i == 0 else " | | "
            missing = set(task.lams) - {float(x) for x in truth.lams} or np.isnan(truth.peaks(budgets[1])).any()
            seeds = f"{len(truth.seeds)}{' (grid unfinished)' if missing else ''}"
            tail = f"{seeds} | {wall:.0f} / {cpu:.0f}" if i == 0 else " | "
            print(f"| {head} | {row} | {tail} |")


if __name__ == "__main__":
    main()
