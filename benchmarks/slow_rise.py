"""How wrong is the advice when the metric's first rise is slow? Simulated positives, real plans.

The positive control of benchmarks/null_control.py puts the top on the tau clock (at tau = c)
after a fast rise that depends on steps only (t_rise = 40 steps at lr 0.1). When that rise is
slow next to the top rung's clock (lr*lam = 0.01 reaches tau = 1 at step 100), the top rung
crosses the levels near its top late, on the rise's time, not the tau clock's: b comes out
below 1 and the verdict, or the advice that uses b, goes wrong even though the top itself is
exactly on the tau clock. This prints, for tops at c = 1.5, 3, 5 and rises of 10 and 40 steps,
under the plans `l2advisor probe` makes (the default ladder and ladders sized to 6,400,
25,600 and 100,000 steps; the advice is always for the budget named in the row):

- the verdicts over the simulated probe sets (1,000 validation images, binomial noise);
- advised lam / the best lam (c / (lr*T)): median and range;
- the loss in points at the advised lam: the best run's peak over lam minus the advised lam's
  peak within T steps, both from the simulated metric itself (no noise), median and worst.

No torch; about a minute (--quick: 5 sets per cell, about 20 s).

    python benchmarks/slow_rise.py
    python benchmarks/slow_rise.py --quick
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import Counter
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from l2advisor.probing.settings import probe_settings  # noqa: E402
from l2advisor.probing.simulate import MetricFn, simulate_probes, tau_clock_peak  # noqa: E402
from l2advisor.science.advise import advise  # noqa: E402
from l2advisor.science.fit import fit_relations  # noqa: E402

LR = 0.1
PLANS = {  # name: (the budget the ladder is sized for, or None for the default ladder; the advice's budget)
    "default ladder, advice for 25,600": (None, 25_600),
    "sized for 6,400": (6_400, 6_400),
    "sized for 25,600": (25_600, 25_600),
    "sized for 100,000": (100_000, 100_000),
}
TOPS = (1.5, 3.0, 5.0)  # c: the tau of the top
RISES = (10.0, 40.0)  # steps of the lam-independent first rise


def best_within(metric: MetricFn, lam: float, budget: int) -> float:
    """The peak a run at `lam` reaches within `budget` steps (the best checkpoint kept), from the
    noiseless simulated metric on a fine log grid of steps."""
    steps = np.unique(np.geomspace(1, budget, 400).round())
    return float(np.max(metric(steps, LR, lam)))


def loss_points(metric: MetricFn, lam: float, budget: int) -> float:
    """Accuracy points lost at `lam` against the best lam of a dense grid, at `budget` steps."""
    grid = np.geomspace(1e-7, 1.0, 141) / LR  # lr*lam from 1e-7 to 1
    best = max(best_within(metric, g, budget) for g in grid)
    return 100.0 * (best - best_within(metric, lam, budget))


def cell(plan: tuple[int | None, int], c: float, rise: float, sets: int) -> str:
    sized, budget = plan
    settings, _ = probe_settings(LR, 0.0, n_val=1000, batch_size=64, budget_steps=sized)
    metric = tau_clock_peak(c=c, t_rise=rise)
    verdicts: Counter[str] = Counter()
    ratios, losses = [], []
    for seed in range(sets):
        fit = fit_relations(simulate_probes(settings, metric, 1000, seed), n_bootstrap=100)
        verdicts[fit.verdict] += 1
        lam = advise(fit, budget, LR).weight_decay
        ratios.append(lam / (c / (LR * budget)))
        losses.append(loss_points(metric, lam, budget))
    said = ", ".join(f"{v} {n}" for v, n in verdicts.most_common())
    return (f"{said} | {np.median(ratios):.2g} ({min(ratios):.2g}..{max(ratios):.2g}) | "
            f"{np.median(losses):.2f} / {max(losses):.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sets", type=int, default=20, help="simulated probe sets per cell [20]")
    parser.add_argument("--quick", action="store_true", help="5 simulated probe sets per cell")
    args = parser.parse_args()
    sets = 5 if args.quick else args.sets
    print("| plan | top c | rise (steps) | verdicts | advised / best lam: median (range) | "
          "points lost: median / worst |")
    print("|---|---:|---:|---|---|---|")
    start = time.perf_counter()
    for name, plan in PLANS.items():
        for c in TOPS:
            for rise in RISES:
                print(f"| {name} | {c:g} | {rise:g} | {cell(plan, c, rise, sets)} |", flush=True)
    print(f"{sets} simulated probe sets per cell, {time.perf_counter() - start:.0f} s", file=sys.stderr)


if __name__ == "__main__":
    main()
