"""Head to head: how much compute (in budget runs) each method spends before the lam it would
pick has a ground-truth accuracy within 0.3 points of the grid's best, and the accuracy it ends
with, on suite tasks where lam matters.

    python benchmarks/headtohead.py --advice runs/advice_suite.json --work runs/headtohead
    python benchmarks/headtohead.py --quick --advice runs/advice_suite.json      # no real study
    python benchmarks/headtohead.py --real-trials 8 ...                           # + one real study per task

Methods: Optuna TPE (20 trials, sampler seeds 0..S-1, as `l2advisor tune` configures it); TPE with
the Hyperband pruner (intermediate values: the running peak of the ground-truth curves at the
steps the pruner asks about); training every grid lam for an eighth of the budget, then the best
one fully (one replicate per grid seed, the grid's real eighth-budget peaks); the advisor: probes
plus one run (each probe-seed set of advice_suite's JSON). Trials are scored from the ground
truth: the seed-mean peak interpolated in log lam plus Gaussian noise with the seed sd the grid
shows there. Optuna searches the grid's own range (smallest nonzero lam .. largest), which favours
it. With --real-trials K, one real `l2advisor tune` study per task (short budget) checks the
scoring: real trial values against the scored mean and sd at the same lams.
A method that never gets within 0.3 points counts its whole spend, and the table says so.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.harness import cli_runs  # noqa: E402
from benchmarks.harness.methods import (  # noqa: E402
    MethodSummary,
    advisor_reach,
    eighth_practice,
    faithfulness,
    simulate_tpe,
    study_reach,
    summarize,
)
from benchmarks.harness.scoring import TARGET, mean_sd, scorer_from_truth  # noqa: E402
from benchmarks.harness.truths import complete_truth  # noqa: E402


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def methods_on(truth: Any, budget: int, advice: list[dict[str, Any]], trials: int,
               sampler_seeds: int) -> dict[str, MethodSummary]:
    scorer = scorer_from_truth(truth, budget, with_paths=True)
    check_scorer(truth, scorer, budget)
    mean, _ = mean_sd(truth.peaks(budget))
    best = float(mean.max())
    nonzero = [float(lam) for lam in truth.lams if lam > 0]
    accuracy = lambda lam: float(truth.accuracy_at(lam, budget))  # noqa: E731
    out: dict[str, MethodSummary] = {}
    for label, pruner in (("Optuna TPE", "none"), ("TPE + Hyperband", "hyperband")):
        reaches = [study_reach(simulate_tpe(scorer, budget, nonzero[0], nonzero[-1], trials, s, pruner),
                               budget, accuracy, best, TARGET) for s in range(sampler_seeds)]
        out[f"{label} ({trials} trials)"] = summarize(reaches)
    out["grid at 1/8 budget, best fully"] = summarize(
        eighth_practice([float(x) for x in truth.lams], truth.peaks(budget // 8), accuracy, best, TARGET))
    if advice:
        out["advisor (probes + one run)"] = summarize(
            [advisor_reach(steps, lam, budget, accuracy, best, TARGET) for steps, lam in advice_sets(advice)])
    return out


def advice_sets(rows: list[dict[str, Any]]) -> list[tuple[int, float | None]]:
    """(probe steps, advised lam) of every probe-seed set of one case of advice_suite's JSON."""
    row = rows[0]
    return list(zip(row["probe_steps_all"], row["advised_all"], strict=True))


def check_scorer(truth: Any, scorer: Any, budget: int) -> None:
    """The scorer's mean must be Truth.accuracy_at (the same interpolation), at and between points."""
    lams = [float(x) for x in truth.lams if x > 0]
    probes = lams + [float(np.sqrt(a * b)) for a, b in zip(lams, lams[1:], strict=False)] + [0.0, lams[0] / 1.5]
    worst = max(abs(scorer.expected(lam)[0] - truth.accuracy_at(lam, budget)) for lam in probes)
    if worst > 1e-6:
        log(f"  WARNING: the scorer differs from Truth.accuracy_at by up to {100 * worst:.3f} points")


def table(name: str, budget: int, best: float, rows: dict[str, MethodSummary]) -> str:
    lines = [f"{name}, budget {budget:,} steps (grid best {100 * best:.2f} %)", "",
             "| method | runs | reached within 0.3 points | compute to reach (budget runs) | whole spend | final acc (%) | gap to best (points) |",
             "|---|---:|---:|---:|---:|---:|---:|"]
    for method, s in rows.items():
        never = s.runs - s.reached
        reach = f"{s.reached}/{s.runs}" + (f" ({never} never: whole spend counted)" if never else "")
        lines.append(f"| {method} | {s.runs} | {reach} | {s.mean_compute:.2f} | {s.mean_spend:.2f} | "
                     f"{100 * s.final_mean:.2f} ± {100 * s.final_sd:.2f} | {100 * (best - s.final_mean):.2f} |")
    return "\n".join(lines)


def mean_table(per_case: list[tuple[float, dict[str, MethodSummary]]]) -> str:
    methods = list(per_case[0][1])
    lines = [f"Mean over {len(per_case)} task-budget cases", "",
             "| method | reached | mean compute to reach (budget runs) | mean gap at the end (points) |",
             "|---|---:|---:|---:|"]
    for method in methods:
        got = [(best, rows[method]) for best, rows in per_case if method in rows]
        reached = sum(s.reached for _, s in got)
        runs = sum(s.runs for _, s in got)
        lines.append(f"| {method} | {reached}/{runs} | {np.mean([s.mean_compute for _, s in got]):.2f} | "
                     f"{np.mean([100 * (b - s.final_mean) for b, s in got]):.2f} |")
    return "\n".join(lines)


def real_check(task: Any, truth: Any, budget: int, trials: int, work: Path) -> dict[str, Any]:
    """One real study at the short budget; its trial values against the scored ones."""
    nonzero = [float(x) for x in truth.lams if x > 0]
    out = (work / task.name / f"tune_T{budget}").resolve()
    out.mkdir(parents=True, exist_ok=True)
    log(f"  real study: {trials} trials of {budget:,} steps (resumes from {out})")
    rows = cli_runs.tune(task.path.resolve(), budget, trials, nonzero[0], nonzero[-1], out, out,
                         eval_every=task.eval_every)  # evaluated as the ground truth was
    real = [(r["lam"], r["value"]) for r in rows if r["state"] == "COMPLETE" and r["value"] is not None]
    scorer = scorer_from_truth(truth, budget)
    seed0 = truth.peaks(budget)[:, list(truth.seeds).index(0)]  # the study trains seed 0, as the grid's seed 0
    trials_out = [{"lam": lam, "real": value, "scored_mean": scorer.expected(lam)[0],
                   "scored_sd": scorer.expected(lam)[1], "grid_seed0": float(scorer.grid.interp(seed0, lam))}
                  for lam, value in real]
    return {"trials": trials_out, **faithfulness(real, scorer)}


def real_table(name: str, budget: int, check: dict[str, Any]) -> str:
    """Each real trial against its scored mean +- sd, and the summary of the differences."""
    lines = [f"{name}: a real `l2advisor tune` study, budget {budget:,}, against the scoring", "",
             "| lam | real peak, seed 0 (%) | scored mean ± sd (%) | z | grid's seed 0, interpolated (%) |",
             "|---:|---:|---:|---:|---:|"]
    for t in sorted(check["trials"], key=lambda t: t["lam"]):
        z = (t["real"] - t["scored_mean"]) / max(t["scored_sd"], 0.001)
        lines.append(f"| {t['lam']:.3g} | {100 * t['real']:.2f} | {100 * t['scored_mean']:.2f} ± "
                     f"{100 * t['scored_sd']:.2f} | {z:+.2f} | {100 * t['grid_seed0']:.2f} |")
    if check.get("n"):
        lines += ["", f"real - scored {check['mean_diff_points']:+.2f} points on average, mean |diff| "
                      f"{check['mean_abs_diff_points']:.2f} points, mean |z| {check['mean_abs_z']:.2f}, "
                      f"within 2 sd: {100 * check['within_2sd']:.0f} % of {check['n']} trials"]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--advice", type=Path, help="advice_suite's --json output (the advisor's arm)")
    parser.add_argument("--tasks", help="comma-separated task names [default: every task where lam matters]")
    parser.add_argument("--budgets", default="short", help="short, long or both, comma-separated [short]")
    parser.add_argument("--trials", type=int, default=20)
    parser.add_argument("--sampler-seeds", type=int, default=5)
    parser.add_argument("--real-trials", type=int, default=0, help="K of one real study per task (0: none)")
    parser.add_argument("--work", type=Path, default=Path("runs/headtohead"))
    parser.add_argument("--json", type=Path)
    parser.add_argument("--quick", action="store_true", help="3 sampler seeds, no real study")
    args = parser.parse_args()
    if args.quick:
        args.sampler_seeds, args.real_trials = 3, 0
    from benchmarks.suite import TASKS

    advice = json.loads(args.advice.read_text())["cases"] if args.advice else []
    names = args.tasks.split(",") if args.tasks else [
        n for n in TASKS if (ROOT / "benchmarks" / "ground_truth" / f"{n}.jsonl").exists()]
    per_case, report = [], []
    for name in names:
        task = TASKS[name]
        budgets = {which: task.budgets[0] if which == "short" else task.budgets[1]
                   for which in args.budgets.split(",")}
        truth, why = complete_truth(task, list(budgets.values()))
        if truth is None:
            log(f"{name}: no finished ground truth yet ({why})")
            continue
        for budget in budgets.values():
            if not truth.lam_matters(budget):
                log(f"{name} at {budget:,}: lam does not matter in the ground truth; skipped")
                continue
            log(f"{name} at {budget:,} steps")
            case_advice = [c for c in advice if c["task"] == name and c["budget"] == budget]
            rows = methods_on(truth, budget, case_advice, args.trials, args.sampler_seeds)
            best = float(mean_sd(truth.peaks(budget))[0].max())
            per_case.append((best, rows))
            report.append({"task": name, "budget": budget, "best": best,
                           "methods": {k: vars(v) for k, v in rows.items()}})
            print(table(name, budget, best, rows))
            print()
        if args.real_trials:  # the scoring's check, at the short budget whether lam matters there or not
            check = real_check(task, truth, task.budgets[0], args.real_trials, args.work)
            report.append({"task": name, "budget": task.budgets[0], "real_check": check})
            print(real_table(name, task.budgets[0], check))
            print()
    if per_case:
        print(mean_table(per_case))
    if args.json:
        args.json.write_text(json.dumps(report, indent=1, default=float))


if __name__ == "__main__":
    main()
