"""Do stacked replicas and one-by-one training give statistically the same curves?

Over seeds: the bundled default at lam = 0.05 and 0.025 (lr*lam = 0.005, 0.0025), trained one
by one (`train`) and as stacked replicas of one seed (`train_batched`, both lams together), to
tau = 8. Float rounding differs between the two paths, and over hundreds of SGD steps the
trajectories part (as two runs on different machines would); what must agree is the
distribution over seeds. Printed per lam: the peak validation accuracy and the final
validation loss, mean +- sd over seeds for each path, and the paired difference with its
standard error (|mean| < 2 se: no detectable difference).

    python benchmarks/batched_vs_sequential.py            # 6 seeds
    python benchmarks/batched_vs_sequential.py --quick    # 3 seeds, lam 0.05 only
    python benchmarks/batched_vs_sequential.py --first-seed 6    # seeds 6-11: a fresh sample
"""

from __future__ import annotations

import argparse
import math
import statistics
from pathlib import Path

from l2advisor.modelfile.spec import load_spec
from l2advisor.modelfile.task import build_task
from l2advisor.training.batched import Replica, train_batched
from l2advisor.training.train import TrainConfig, train

DEFAULT = Path(__file__).resolve().parent.parent / "examples" / "mnist_cnn.py"


def summary(records: list[dict]) -> tuple[float, float]:
    """(peak validation accuracy, final validation loss) of one run."""
    return max(r["val_metric"] for r in records), records[-1]["val_loss"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, default=6)
    parser.add_argument("--first-seed", type=int, default=0, help="seeds first-seed .. first-seed + seeds - 1 [0]")
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    task = build_task(load_spec(DEFAULT, {}))
    lams = [0.05] if args.quick else [0.05, 0.025]
    seeds = range(args.first_seed, args.first_seed + (3 if args.quick else args.seeds))
    per = {lam: {"sequential": [], "stacked": []} for lam in lams}
    for seed in seeds:
        config = TrainConfig(lr=0.1, batch_size=64, max_steps=1, eval_every=1, seed=seed, eval_per_decade=10)
        replicas = [Replica(lam, round(8 / (0.1 * lam)), 1, 10) for lam in lams]
        for lam, result in zip(lams, train_batched(task, config, replicas), strict=True):
            per[lam]["stacked"].append(summary(result.records))
        for lam in lams:
            one = TrainConfig(lr=0.1, batch_size=64, max_steps=round(8 / (0.1 * lam)), eval_every=1, seed=seed,
                              eval_per_decade=10)
            per[lam]["sequential"].append(summary(train(task, one, lam).records))
    print("| lam | quantity | one by one (mean +- sd) | stacked (mean +- sd) | paired diff +- se | n |")
    print("|---:|---|---:|---:|---:|---:|")
    for lam in lams:
        for k, name in enumerate(("peak val accuracy", "final val loss")):
            a = [v[k] for v in per[lam]["sequential"]]
            b = [v[k] for v in per[lam]["stacked"]]
            d = [y - x for x, y in zip(a, b, strict=True)]
            se = statistics.stdev(d) / math.sqrt(len(d)) if len(d) > 1 else float("nan")
            print(f"| {lam:g} | {name} | {statistics.mean(a):.4f} +- {statistics.pstdev(a):.4f} | "
                  f"{statistics.mean(b):.4f} +- {statistics.pstdev(b):.4f} | {statistics.mean(d):+.4f} +- {se:.4f} | {len(d)} |")
    for lam in lams:  # each seed's pair, to see a single outlier
        pairs = zip(per[lam]["sequential"], per[lam]["stacked"], strict=True)
        print(f"lam {lam:g}, per seed {list(seeds)} (stacked - one by one): peak accuracy "
              + ", ".join(f"{100 * (y[0] - x[0]):+.2f}" for x, y in zip(per[lam]["sequential"], per[lam]["stacked"], strict=True))
              + " points; final val loss " + ", ".join(f"{y[1] - x[1]:+.3f}" for x, y in pairs))


if __name__ == "__main__":
    main()
