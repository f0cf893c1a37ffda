"""How right is the advice? Probe the bundled default, recommend for budgets well beyond the
probe horizon, then train a grid of lams around each advice (advice x 1/4 .. 4, 3 seeds, the
full budget, constant lr) and compare the advised lam with the grid's best.

    python benchmarks/advice_accuracy.py              # budgets 16000 and 32000 (the README figures; ~1 h, 2 cores)
    python benchmarks/advice_accuracy.py --quick      # budgets 2000 and 4000, a smaller probe (~5 min)
    python benchmarks/advice_accuracy.py --probe-dir runs/mnist_cnn   # reuse a finished probe

The probe and the advice go through the command line (`l2advisor probe`, `l2advisor recommend
--json`), the grid through the library's trainer in joblib worker processes, the lams of one
seed and budget together as stacked replicas (`l2advisor.training.batched`, the numbers of one
`train()` per lam). "Peak" is the best validation accuracy over the run's evaluations (every
budget/100 steps), as a user keeping the best checkpoint would get. Target: the advised lam
within the seed spread (about 0.3 points) of the grid's best, at a probe cost below half a
budget run.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
MODEL = ROOT / "examples" / "mnist_cnn.py"
FACTORS = (0.25, 0.5, 1.0, 2.0, 4.0)
TARGET_POINTS = 0.3  # accuracy points


def probe(run_dir: Path, quick: bool) -> dict:
    """Run `l2advisor probe` (default settings; --quick: one seed, a smaller budget)."""
    args = ["l2advisor", "probe", str(MODEL), "--out", str(run_dir), "--json"]
    if quick:
        args += ["--seeds", "0", "--probe-budget", "6000"]
    start = time.perf_counter()
    env = {**os.environ, "OMP_NUM_THREADS": "1"}  # a tiny CNN: one thread is fastest, and fair
    done = subprocess.run(args, capture_output=True, text=True, env=env)
    if done.returncode != 0:
        sys.exit(f"probe failed ({done.returncode}):\n{done.stderr[-2000:]}")
    return {"seconds": time.perf_counter() - start}


def probe_cost(run_dir: Path) -> tuple[int, float]:
    """Steps and seconds the probes actually took (early stops included)."""
    from l2advisor.runs.rundir import results_path
    from l2advisor.runs.store import read_results

    runs = read_results(results_path(run_dir)).runs.values()
    ends = [r.end or {} for r in runs]
    return sum(int(e.get("steps") or 0) for e in ends), sum(float(e.get("seconds") or 0) for e in ends)


def recommend(run_dir: Path, budget: int) -> dict:
    done = subprocess.run(["l2advisor", "recommend", str(run_dir), "--budget", str(budget), "--json"],
                          capture_output=True, text=True)
    if done.returncode != 0:
        sys.exit(f"recommend failed ({done.returncode}):\n{done.stderr[-2000:]}")
    return json.loads(done.stdout)


def train_group(lams: list[float], seed: int, budget: int) -> list[dict]:
    """Full-budget runs at constant lams, one seed (in a worker process): each run's peak and
    when. The lams train together as stacked replicas (l2advisor.training.batched: the same numbers as
    one `train()` per lam, in less time); a model that cannot be stacked trains one by one."""
    import torch

    from l2advisor.modelfile.spec import load_spec
    from l2advisor.modelfile.task import build_task
    from l2advisor.science.curves import smooth
    from l2advisor.training.batched import Replica, train_batched
    from l2advisor.training.replicas import CannotBatch
    from l2advisor.training.train import TrainConfig, train

    torch.set_num_threads(1)
    task = build_task(load_spec(MODEL))
    spec = task.spec
    config = TrainConfig(lr=spec.lr, batch_size=spec.batch_size, max_steps=budget,
                         eval_every=max(1, budget // 100), seed=seed, momentum=spec.momentum,
                         optimizer=spec.optimizer, device="cpu")
    try:
        results = train_batched(task, config, [Replica(lam, budget, config.eval_every) for lam in lams])
    except CannotBatch:
        results = [train(task, config, lam) for lam in lams]
    out = []
    for lam, result in zip(lams, results, strict=True):
        val = np.array([r["val_metric"] for r in result.records], dtype=float)
        steps = np.array([r["step"] for r in result.records], dtype=float)
        ok = np.isfinite(val).any()
        i = int(np.nanargmax(val)) if ok else 0
        out.append({"lam": lam, "seed": seed, "budget": budget, "status": result.status,
                    "peak": float(np.nanmax(val)) if ok else math.nan,
                    "peak_step": int(steps[i]) if steps.size else 0,
                    "smoothed_peak": float(np.nanmax(smooth(val))) if ok else math.nan,
                    "final": float(val[-1]) if val.size else math.nan, "seconds": result.seconds})
    return out


def rounded(lam: float) -> float:
    return float(f"{lam:.4g}")


def formula_lam(a: dict) -> float | None:
    """c/(lr*T), the paper's budget formula, when the advice did not use it (verdict "does not
    hold" gives a measured lam instead, science/equal_steps.py): trained beside the grid, for contrast."""
    c, lr, budget = a.get("c"), a.get("lr"), a.get("budget_steps")
    if not (c and lr and budget) or a.get("unclipped") is not None:
        return None
    return rounded(c / (lr * budget))


def grid_tasks(advice: dict[int, dict], seeds: int) -> list[tuple[float, int, int]]:
    """(lam, seed, budget) to train: advice x FACTORS, plus the formula's lam where it differs."""
    tasks = set()
    for budget, a in advice.items():
        lams = {rounded(a["weight_decay"] * f) for f in FACTORS}
        extra = formula_lam(a)
        if extra is not None and all(abs(math.log(extra / lam)) > 0.1 for lam in lams):
            lams.add(extra)
        tasks |= {(lam, s, budget) for lam in lams for s in range(seeds)}
    return sorted(tasks, key=lambda t: (-t[2], t[1], t[0]))


def run_grid(tasks: list[tuple[float, int, int]], jobs: int, log: Path) -> list[dict]:
    """Train what `log` (JSON lines, one finished run each) does not hold yet, the lams of one
    (seed, budget) together; append as each group ends."""
    from joblib import Parallel, delayed

    done = [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []
    have = {(r["lam"], r["seed"], r["budget"]) for r in done}
    todo = [t for t in tasks if t not in have]
    groups: dict[tuple[int, int], list[float]] = {}
    for lam, seed, budget in todo:
        groups.setdefault((seed, budget), []).append(lam)
    print(f"grid: {len(tasks)} runs, {len(tasks) - len(todo)} already in {log.name}; "
          f"{len(groups)} groups of stacked replicas to train", flush=True)
    order = sorted(groups, key=lambda key: (-key[1], key[0]))  # long runs first: better packing
    with open(log, "a", encoding="utf-8") as f:
        for rows in Parallel(n_jobs=jobs, return_as="generator_unordered")(
                delayed(train_group)(groups[key], *key) for key in order):
            for r in rows:
                f.write(json.dumps(r) + "\n")
                done.append(r)
                print(f"  lam={r['lam']:.4g} seed={r['seed']} budget={r['budget']}: peak {100 * r['peak']:.2f}% "
                      f"at step {r['peak_step']} ({r['seconds']:.0f} s)", flush=True)
            f.flush()
    return [r for r in done if (r["lam"], r["seed"], r["budget"]) in set(tasks)]


def stats(values: list[float]) -> tuple[float, float]:
    v = np.asarray(values, float)
    return float(v.mean()), float(v.std(ddof=1)) if v.size > 1 else math.nan


def summarize(budget: int, a: dict, runs: list[dict], probe_steps: int) -> dict:
    """The advised lam against the grid's best lam at one budget (accuracy in points)."""
    mine = [r for r in runs if r["budget"] == budget]
    lams = sorted({r["lam"] for r in mine})
    rows = []
    for lam in lams:
        peaks = [100 * r["peak"] for r in mine if r["lam"] == lam]
        mean, sd = stats(peaks)
        rows.append({"lam": lam, "mean": mean, "sd": sd, "n": len(peaks),
                     "peak_step": float(np.mean([r["peak_step"] for r in mine if r["lam"] == lam]))})
    best = max(rows, key=lambda r: r["mean"])
    adv_lam = float(f"{a['weight_decay']:.4g}")
    adv = next(r for r in rows if math.isclose(r["lam"], adv_lam, rel_tol=1e-6))
    spread = max(v for v in (best["sd"], adv["sd"], 0.0) if math.isfinite(v))
    gap = best["mean"] - adv["mean"]
    f_lam = formula_lam(a)
    formula = next((r for r in rows if f_lam and math.isclose(r["lam"], f_lam, rel_tol=1e-6)), None)
    return {"budget": budget, "advised": adv_lam, "interval": a["interval"], "verdict": a["verdict"],
            "predicted": 100 * a["predicted_metric"] if a["predicted_metric"] is not None else None,
            "extrapolated": a["extrapolated"], "c": a["c"], "best": best["lam"],
            "ratio": best["lam"] / adv_lam, "adv_mean": adv["mean"], "adv_sd": adv["sd"],
            "best_mean": best["mean"], "best_sd": best["sd"], "gap": gap,
            "met": bool(gap <= max(spread, TARGET_POINTS)), "probe_fraction": probe_steps / budget,
            "formula": f_lam, "formula_mean": formula["mean"] if formula else None,
            "formula_sd": formula["sd"] if formula else None,
            "rows": rows}


def fmt(x: float | None, spec: str = ".3g") -> str:
    return "-" if x is None or not math.isfinite(x) else format(x, spec)


def print_tables(results: list[dict], probe_steps: int, probe_seconds: float, grid_seconds: float) -> None:
    print(f"\nProbe cost: {probe_steps} steps ({probe_seconds:.0f} s of training); grid: "
          f"{grid_seconds:.0f} s wall.")
    for s in results:
        lo, hi = s["interval"]
        print(f"\nbudget {s['budget']} steps: advice lam={s['advised']:.4g} (interval "
              f"{fmt(lo)}..{fmt(hi)}, verdict {s['verdict']}, c={fmt(s['c'])}, "
              f"predicted {fmt(s['predicted'], '.2f')}%{', extrapolated' if s['extrapolated'] else ''})")
        print(f"  {'lam':>9} {'x advice':>8} {'peak val acc %':>16} {'peak step':>10}")
        for r in s["rows"]:
            mark = " <- advice" if math.isclose(r["lam"], s["advised"], rel_tol=1e-6) else ""
            mark += " <- grid best" if r["lam"] == s["best"] else ""
            mark += " <- c/(lr*T), not advised" if s["formula"] and math.isclose(r["lam"], s["formula"], rel_tol=1e-6) else ""
            print(f"  {r['lam']:>9.4g} {r['lam'] / s['advised']:>8.3g} {r['mean']:>9.2f} +- {fmt(r['sd'], '.2f')} "
                  f"{r['peak_step']:>10.0f}{mark}")
        if s["best"] in (s["rows"][0]["lam"], s["rows"][-1]["lam"]):
            print("  (the grid's best is at its edge: the true best lam may lie beyond it)")
    print("\n| budget | advised lam | grid best lam | best/advised | acc @ advised (%) | acc @ best (%) "
          "| gap (pts) | within spread | probe cost / budget run | c/(lr*T) if not advised: lam, acc (%) |")
    print("|---:|---:|---:|---:|---:|---:|---:|:---:|---:|---:|")
    for s in results:
        formula = (f"{s['formula']:.4g}, {s['formula_mean']:.2f} +- {fmt(s['formula_sd'], '.2f')}"
                   if s["formula_mean"] is not None else "-")
        print(f"| {s['budget']} | {s['advised']:.4g} | {s['best']:.4g} | {s['ratio']:.2g} | "
              f"{s['adv_mean']:.2f} +- {fmt(s['adv_sd'], '.2f')} | {s['best_mean']:.2f} +- {fmt(s['best_sd'], '.2f')} | "
              f"{s['gap']:.2f} | {'yes' if s['met'] else 'NO'} | {s['probe_fraction']:.2f} | {formula} |")

def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small budgets and probe, 2 seeds")
    parser.add_argument("--budgets", default=None, help="comma-separated steps [16000,32000; quick 2000,4000]")
    parser.add_argument("--seeds", type=int, default=None, help="seeds per grid lam [3; quick 2]")
    parser.add_argument("--jobs", type=int, default=2, help="worker processes for the grid")
    parser.add_argument("--probe-dir", type=Path, default=None, help="reuse this finished probe run")
    parser.add_argument("--out", type=Path, default=None, help="where to keep the run and results.json")
    args = parser.parse_args()
    budgets = [int(b) for b in (args.budgets or ("2000,4000" if args.quick else "16000,32000")).split(",")]
    seeds = args.seeds or (2 if args.quick else 3)
    out = args.out or Path(tempfile.mkdtemp(prefix="advice_accuracy_"))
    run_dir = out / "probe"
    print(f"advice_accuracy: {MODEL.name}, budgets {budgets}, {seeds} seeds x {len(FACTORS)} lams, "
          f"{args.jobs} jobs; files in {out}", flush=True)
    if args.probe_dir:
        shutil.copytree(args.probe_dir, run_dir, dirs_exist_ok=True)
    else:
        wall = probe(run_dir, args.quick)["seconds"]
        print(f"probe: {wall:.0f} s wall", flush=True)
    probe_steps, probe_seconds = probe_cost(run_dir)
    advice = {b: recommend(run_dir, b) for b in budgets}
    for b, a in advice.items():
        print(f"budget {b}: advised weight_decay={a['weight_decay']:.4g} ({a['verdict']})", flush=True)
    start = time.perf_counter()
    runs = run_grid(grid_tasks(advice, seeds), args.jobs, out / "runs.jsonl")
    grid_seconds = time.perf_counter() - start
    results = [summarize(b, advice[b], runs, probe_steps) for b in budgets]
    print_tables(results, probe_steps, probe_seconds, grid_seconds)
    (out / "results.json").write_text(json.dumps({"results": results, "runs": runs,
                                                  "probe_steps": probe_steps}, indent=1))

if __name__ == "__main__":
    main()
