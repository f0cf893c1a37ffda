"""Evaluation's share of probe time, before and after log-spaced evaluations.

Trains the default ladder's rungs of the bundled default (lr*lam = 0.01, 0.005, 0.0025 to tau
= 8: 800, 1,600 and 3,200 steps) three ways, side by side in alternating rounds: without
evaluation (the pure training time), evaluating every steps/100 steps (before: ~100 points per
probe), and evaluating 10 times per decade of steps (after: ~33 points). The share is
(time with evaluation - time without) / time with evaluation, per rung and for the ladder.

    python benchmarks/eval_share.py            # 2 rounds
    python benchmarks/eval_share.py --quick    # 1 round, the 800- and 1,600-step rungs
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import torch

from l2advisor.modelfile.spec import load_spec
from l2advisor.modelfile.task import build_task
from l2advisor.training.eval_schedule import count_evals
from l2advisor.training.train import TrainConfig, train

DEFAULT = Path(__file__).resolve().parent.parent / "examples" / "mnist_cnn.py"
WAYS = {"none": (10**9, 0), "every steps/100 (before)": (None, 0), "10 per decade (after)": (None, 10)}


def timed(task, steps: int, lam: float, way: tuple[int | None, int]) -> float:
    every, per_decade = way
    config = TrainConfig(lr=0.1, batch_size=64, max_steps=steps, eval_every=every or max(1, steps // 100),
                         eval_per_decade=per_decade)
    start = time.perf_counter()
    result = train(task, config, lam)
    assert result.status == "finished", result.message
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "2")))
    task = build_task(load_spec(DEFAULT, {}))
    rungs = [(800, 0.1), (1600, 0.05)] + ([] if args.quick else [(3200, 0.025)])
    rounds = 1 if args.quick else args.rounds
    seconds = {(s, w): [] for s, _ in rungs for w in WAYS}
    print(f"torch threads {torch.get_num_threads()}, load average at the start {os.getloadavg()[0]:.1f} (2 cores)")
    print("| rung (steps) | evaluations before / after | s, no evaluation | s, before | s, after | eval share before | after |")
    print("|---:|---|---:|---:|---:|---:|---:|", flush=True)
    total = dict.fromkeys(WAYS, 0.0)
    for steps, lam in rungs:  # rounds alternate the order of the three ways, so load hits them alike
        for r in range(rounds):
            for w in (list(WAYS) if r % 2 == 0 else list(WAYS)[::-1]):
                seconds[(steps, w)].append(timed(task, steps, lam, WAYS[w]))
        t = {w: min(seconds[(steps, w)]) for w in WAYS}
        for w in WAYS:
            total[w] += t[w]
        before, after = count_evals(steps, max(1, steps // 100)), count_evals(steps, 1, 10)
        share = {w: 1 - t["none"] / t[w] for w in list(WAYS)[1:]}
        print(f"| {steps} | {before} / {after} | {t['none']:.1f} | {t[list(WAYS)[1]]:.1f} | {t[list(WAYS)[2]]:.1f} "
              f"| {share[list(WAYS)[1]]:.0%} | {share[list(WAYS)[2]]:.0%} |", flush=True)
    print(f"| ladder | | {total['none']:.1f} | {total[list(WAYS)[1]]:.1f} | {total[list(WAYS)[2]]:.1f} | "
          f"{1 - total['none'] / total[list(WAYS)[1]]:.0%} | {1 - total['none'] / total[list(WAYS)[2]]:.0%} |")
    print(f"load average at the end: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
