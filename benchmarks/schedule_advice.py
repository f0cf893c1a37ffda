"""Is the weight decay advised for an lr schedule right? For every suite task with cosine or
linear-to-zero ground truth and each budget, probe the task once at constant lr (`l2advisor probe`,
seeds 0,1, as a user would) and score against the schedule's ground-truth grid:

  tau-clock  `l2advisor recommend --lr-schedule S`: the constant-lr advice for T_eff = sum lr_t / lr
             steps (about 2x the lam for cosine or linear to zero)
  naive      `l2advisor recommend` for T constant-lr steps, used as is under the schedule
  ratio      the naive advice times the ratio (schedule grid best / constant grid best) measured on
             the OTHER cases (geometric mean, leave-one-out): what the ground truth says to do
  const-grid the tau-clock rule without the probes: the constant-lr grid's best lam x T / T_eff

A case is "within" when the grid's best mean peak exceeds the accuracy at the advised lam
(interpolated in log lam, `Truth.accuracy_at`) by at most max(0.3 points, 1.5 x the seed sd at the
grid's best lam). Also printed: the ratio of the grid-best lams, schedule over constant, per case
(the tau clock predicts 1 / lr_integral, about 2).

    python benchmarks/schedule_advice.py --work runs/schedule_suite            # every case
    python benchmarks/schedule_advice.py --work runs/schedule_suite --tasks mlp_bn_mnist14 --json out.json

Probes are resumed from --work DIR/<task>/probe (or copied from --probes-from ROOT/<task>/PATH when
that holds a finished probes.jsonl). Progress to stderr, the table to stdout. Cases whose ground
truth has not landed yet are listed as pending.
"""

from __future__ import annotations

import argparse
import json
import math
import shutil
import sys
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.harness import cli_runs  # noqa: E402
from benchmarks.suite import TASKS  # noqa: E402
from benchmarks.suite.truth import MIN_GAIN, load_truth  # noqa: E402

SCHEDULES = ("cosine", "linear")
PROBE_SEEDS = (0, 1)


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def probe_dir(task: Any, work: Path, probes_from: Path | None = None, reuse_path: str = "any/seeds0-1") -> Path:
    """A finished constant-lr probe of `task` (`l2advisor probe --seeds 0,1`) in work/<task>/probe,
    copied from probes_from/<task>/<reuse_path> when one is there, else run (resumes)."""
    out = (work / task.name / "probe").resolve()
    out.mkdir(parents=True, exist_ok=True)
    source = probes_from / task.name / reuse_path / "probes.jsonl" if probes_from else None
    if not (out / "probes.jsonl").exists() and source is not None and source.exists():
        shutil.copy(source, out / "probes.jsonl")
        (out / "COPIED").write_text(str(source))
        log(f"{task.name}: probes copied from {source}")
    if (out / "COPIED").exists():  # another harness's probe, maybe made by older code: used as it is
        return out
    log(f"{task.name}: l2advisor probe (seeds {PROBE_SEEDS}) in {out}")
    done = cli_runs.probe(task.path.resolve(), out, PROBE_SEEDS, None, out)
    log(f"{task.name}: probes {done['steps']:,} steps, {done['wall']:.0f} s")
    return out


def recommend(run_dir: Path, budget: int, schedule: str, autol2: bool = False) -> dict[str, Any]:
    args = ["recommend", str(run_dir), "--budget", str(budget), "--lr-schedule", schedule, "--json"]
    stdout, _ = cli_runs.run_cli(args + (["--autol2"] if autol2 else []), run_dir)
    return json.loads(stdout)


def score(truth: Any, lam: float | None, budget: int) -> dict[str, Any]:
    """Accuracy at lam on the grid, its gap to the grid's best mean (points), within tolerance?"""
    means = truth.mean_peaks(budget)
    best, spread = float(np.nanmax(means)), truth.spread(budget)
    tol = max(MIN_GAIN, 1.5 * (spread if math.isfinite(spread) else 0.0))
    if lam is None or not math.isfinite(lam):
        return {"lam": lam, "acc": None, "gap_pts": None, "within": False, "outside_grid": False}
    acc = truth.accuracy_at(lam, budget)
    return {"lam": lam, "acc": acc, "gap_pts": 100 * (best - acc), "within": best - acc <= tol + 1e-12,
            "outside_grid": bool(truth.outside_grid(lam)), "tol_pts": 100 * tol}


def measure_case(task: Any, run_dir: Path, schedule: str, budget: int) -> dict[str, Any] | None:
    """One (task, schedule, budget): the advice, the grids' best lams, or None while truth is pending."""
    try:
        truth = load_truth(task.name, schedule)
        const = load_truth(task.name, "constant")
        truth.best_lam(budget), const.best_lam(budget)
    except (FileNotFoundError, ValueError) as missing:
        log(f"{task.name} {schedule} T={budget}: pending ({missing})")
        return None
    advice = recommend(run_dir, budget, schedule)
    best_s, best_c = truth.best_lam(budget), const.best_lam(budget)
    return {"task": task.name, "schedule": schedule, "budget": budget, "verdict": advice["verdict"],
            "lr_integral": advice["lr_integral"], "tau_clock_lam": advice["weight_decay"],
            "naive_lam": advice["constant_lr_weight_decay"], "best_lam": best_s, "best_const_lam": best_c,
            "best_ratio": best_s / best_c if best_c > 0 else math.nan,
            "best_acc": float(np.nanmax(truth.mean_peaks(budget))), "spread": truth.spread(budget),
            "lam_matters": bool(truth.lam_matters(budget)), "seeds": len(truth.seeds),
            "tau_clock": score(truth, advice["weight_decay"], budget),
            "naive": score(truth, advice["constant_lr_weight_decay"], budget),
            # the rule itself, without the probes: the constant-lr grid's best lam x T / T_eff
            "grid_tau_clock": score(truth, best_c / advice["lr_integral"], budget)}


def add_ratio_rule(cases: list[dict[str, Any]]) -> None:
    """Score the leave-one-out ratio rule: naive x geometric mean of the other cases' best ratios
    (same schedule; any other schedule when a case is its schedule's only one)."""
    for i, case in enumerate(cases):
        usable = [(j, c) for j, c in enumerate(cases) if j != i and math.isfinite(c["best_ratio"]) and c["best_ratio"] > 0]
        same = [c["best_ratio"] for _, c in usable if c["schedule"] == case["schedule"]]
        others = same or [c["best_ratio"] for _, c in usable]  # another schedule's ratio when alone
        if not others:
            case["ratio"] = {"lam": None, "acc": None, "gap_pts": None, "within": False, "factor": None}
            continue
        factor = float(np.exp(np.mean(np.log(others))))
        truth = load_truth(case["task"], case["schedule"])
        case["ratio"] = {**score(truth, case["naive_lam"] * factor, case["budget"]), "factor": factor}


def table(cases: list[dict[str, Any]]) -> list[str]:
    def cell(s: dict[str, Any]) -> str:
        if s.get("acc") is None:
            return "-"
        mark = "yes" if s["within"] else "NO"
        return f"{s['lam']:.3g} ({s['gap_pts']:+.2f}, {mark})"

    lines = ["| task | schedule | T | verdict | lam matters | best lam (acc %, sd) | best/const-best | "
             "tau-clock lam (gap pts, within) | naive lam | ratio rule | const-grid best x T/T_eff |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    for c in cases:
        sd = 100 * c["spread"] if math.isfinite(c["spread"]) else math.nan
        lines.append(f"| {c['task']} | {c['schedule']} | {c['budget']} | {c['verdict']} | "
                     f"{'yes' if c['lam_matters'] else 'no'} | {c['best_lam']:.3g} ({100 * c['best_acc']:.2f}, "
                     f"{sd:.2f}) | {c['best_ratio']:.2g} | {cell(c['tau_clock'])} | {cell(c['naive'])} | "
                     f"{cell(c.get('ratio', {}))} | {cell(c['grid_tau_clock'])} |")
    return lines


def summary(cases: list[dict[str, Any]]) -> str:
    held = [c for c in cases if c["verdict"] != "does not hold" and c["lam_matters"]]
    parts = []
    for rule in ("tau_clock", "naive", "ratio", "grid_tau_clock"):
        n = sum(bool(c.get(rule, {}).get("within")) for c in held)
        parts.append(f"{rule} {n}/{len(held)}")
    ratios = [c["best_ratio"] for c in cases if math.isfinite(c["best_ratio"]) and c["best_ratio"] > 0]
    geo = float(np.exp(np.mean(np.log(ratios)))) if ratios else math.nan
    return (f"within tolerance on the cases where the relations hold and lam matters: {', '.join(parts)}; "
            f"grid-best lam ratio schedule/constant: geometric mean {geo:.2g} over {len(ratios)} cases "
            f"(tau clock predicts ~2)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", type=Path, default=Path("runs/schedule_suite"))
    parser.add_argument("--tasks", default="", help="comma-separated (default: every task with schedule truth)")
    parser.add_argument("--schedules", default=",".join(SCHEDULES))
    parser.add_argument("--budgets", default="short,long", help="short, long or both")
    parser.add_argument("--probes-from", type=Path, help="reuse ROOT/<task>/any/seeds0-1/probes.jsonl")
    parser.add_argument("--quick", action="store_true", help="the first task with schedule truth, short budget")
    parser.add_argument("--json", type=Path, help="write the cases here")
    args = parser.parse_args()
    schedules = [s for s in args.schedules.split(",") if s]
    names = [n for n in args.tasks.split(",") if n] or [
        n for n, t in TASKS.items() if any(s in t.schedules for s in schedules)]
    if args.quick:
        names, args.budgets = names[:1], "short"
    cases = []
    for name in names:
        task = TASKS[name]
        run_dir = probe_dir(task, args.work.resolve(), args.probes_from)
        for which in args.budgets.split(","):
            budget = task.budgets[0 if which == "short" else 1]
            for schedule in schedules:
                case = measure_case(task, run_dir, schedule, budget)
                if case is not None:
                    cases.append(case)
    add_ratio_rule(cases)
    print("\n".join(table(cases)))
    print(summary(cases))
    if args.json:
        args.json.write_text(json.dumps(cases, indent=1))


if __name__ == "__main__":
    main()
