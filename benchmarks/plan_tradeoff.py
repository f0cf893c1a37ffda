"""What a cheaper probe plan would cost the verdict: simulated controls under candidate ladders.

At a 6,400-step budget the plan `l2advisor probe --budget 6400` makes (3 rungs from lr*lam =
0.01, factor 2, every rung tau = 4, 2 seeds: 5,600 steps) costs more than half a budget run.
This feeds the cheaper candidates (a shorter window, a finer factor, a higher top rung, one
seed) with the simulated curves of benchmarks/null_control.py (a metric that depends on steps
only, with and without a slow creep; a top on the tau clock at tau = 3; binomial noise of
1,000 validation images) through the real fit, and prints how often each verdict comes out.
A plan is only worth its price if the nulls still read "does not hold" and the positive
control is rarely called a null. No torch; about a minute (--quick: 10 seeds).

    python benchmarks/plan_tradeoff.py
    python benchmarks/plan_tradeoff.py --quick
"""

from __future__ import annotations

import argparse
import math
import time

from l2advisor.probing.plan import ProbeSettings
from l2advisor.probing.simulate import simulate_probes, steps_only_rise, tau_clock_peak
from l2advisor.science.fit import CANNOT, FAILS, fit_relations

LR = 0.1
METRICS = {"null: flat top": steps_only_rise(), "null: slow creep": steps_only_rise(creep=0.02, t_creep=3000.0),
           "positive: top at tau = 3": tau_clock_peak()}
# name: (window in tau, factor between rungs, seeds, top rung's lr*lam)
PLANS = {"the plan (tau 4, factor 2, 2 seeds)": (4.0, 2.0, 2, 0.01),
         "one seed": (4.0, 2.0, 1, 0.01),
         "window tau 3": (3.0, 2.0, 2, 0.01),
         "window tau 2.5": (2.5, 2.0, 2, 0.01),
         "window tau 2": (2.0, 2.0, 2, 0.01),
         "factor sqrt 2": (4.0, math.sqrt(2), 2, 0.01),
         "top rung x sqrt 2": (4.0, 2.0, 2, 0.01 * math.sqrt(2))}


def settings_for(window: float, factor: float, seeds: int, top: float) -> ProbeSettings:
    lams = tuple(float(f"{top / LR / factor**i:.4g}") for i in range(3))
    return ProbeSettings(lrs=(LR,), seeds=tuple(range(seeds)), horizon=window, probe_budget=10**6, lambdas=lams,
                         factor=factor, early_stop=False, budget_steps=6400, eval_per_decade=10)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, default=40, help="simulated probe sets per cell [40]")
    parser.add_argument("--quick", action="store_true", help="10 simulated probe sets per cell")
    args = parser.parse_args()
    n = 10 if args.quick else args.seeds
    print("| plan | steps | share of 6,400 | " + " | ".join(METRICS) + " | seconds |")
    print("|---|---:|---:|" + "---|" * len(METRICS) + "---:|")
    for name, plan in PLANS.items():
        settings = settings_for(*plan)
        steps = len(settings.seeds) * sum(math.ceil(settings.horizon / (LR * lam)) for lam in settings.lambdas)
        start, cells = time.perf_counter(), []
        for metric in METRICS.values():
            said = [fit_relations(simulate_probes(settings, metric, 1000, seed), n_bootstrap=100).verdict
                    for seed in range(n)]
            cells.append(f"does not hold {sum(v == FAILS for v in said)}/{n}, cannot tell {sum(v == CANNOT for v in said)}")
        print(f"| {name} | {steps:,} | {steps / 6400:.2f} | " + " | ".join(cells)
              + f" | {time.perf_counter() - start:.0f} |", flush=True)


if __name__ == "__main__":
    main()
