"""The negative control through the real code path, as a rate over many seeds.

Feeds the probe plan `l2advisor probe` really makes (probing/settings.py: the default ladder
with its early stop, or a ladder sized to a budget) with simulated curves whose metric depends
on steps only (probing/simulate.py; binomial noise of the validation set's size) into the real
fit and verdict, and prints how often the verdict says "does not hold", and how often the plan's
curves asked for one more seed (probing/follow_up.py; simulated too, as `l2advisor probe` runs it). The positive control
(the top on the tau clock) prints how often it is NOT called a null. No torch; about a minute.

    python benchmarks/null_control.py            # 40 seeds per case
    python benchmarks/null_control.py --quick    # 10 seeds
"""

from __future__ import annotations

import argparse
import time

from l2advisor.probing.plan import plan_probes
from l2advisor.probing.settings import probe_settings
from l2advisor.probing.simulate import simulate_probes, steps_only_rise, tau_clock_peak
from l2advisor.science.fit import CANNOT, FAILS, fit_relations

METRICS = {
    "null: fast rise, flat top": (steps_only_rise(), True),
    "null: fast rise, slow creep": (steps_only_rise(creep=0.02, t_creep=3000.0), True),
    "positive: top at tau = 3": (tau_clock_peak(), False),
}
PLANS = {"default ladder": {}, "--budget 6400": {"budget_steps": 6_400}, "--budget 25600": {"budget_steps": 25_600},
         "--budget 100000": {"budget_steps": 100_000}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, default=40)
    parser.add_argument("--quick", action="store_true", help="10 seeds")
    parser.add_argument("--n-val", type=int, default=1000, help="validation images (binomial noise)")
    args = parser.parse_args()
    seeds = 10 if args.quick else args.seeds
    print("| metric | plan | 'does not hold' | 'cannot tell' | wanted | one more seed | seconds |\n"
          "|---|---|---:|---:|---|---:|---:|")
    for name, (metric, is_null) in METRICS.items():
        for plan_name, plan in PLANS.items():
            settings, _ = probe_settings(0.1, 0.0, n_val=args.n_val, batch_size=64, **plan)
            start = time.perf_counter()
            planned = len(plan_probes(settings))
            curves = [simulate_probes(settings, metric, args.n_val, seed) for seed in range(seeds)]
            said = [fit_relations(c, n_bootstrap=100).verdict for c in curves]
            extra = sum(len(c) > planned for c in curves)  # the follow-up seed (probing/follow_up.py)
            fails = sum(v == FAILS for v in said)
            wanted = f">= {seeds - seeds // 20} (a null)" if is_null else "few (lam sets the time)"
            cannot = sum(v == CANNOT for v in said)
            print(f"| {name} | {plan_name} | {fails}/{seeds} | {cannot}/{seeds} | {wanted} | {extra}/{seeds} | "
                  f"{time.perf_counter() - start:.0f} |",
                  flush=True)


if __name__ == "__main__":
    main()
