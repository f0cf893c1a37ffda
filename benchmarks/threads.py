"""Threads against model size: training steps/s with 1 torch thread, 2 threads, and 2 jobs of 1
thread each (what `probe --jobs 2` runs), for small to large models, side by side.

Each measurement is a fresh process running `l2advisor.training.train.train` for a fixed number
of steps (evaluating 4 times); "2 jobs" is two such processes at once, their steps/s summed.
Rounds alternate the three set-ups so that a busy machine slows them alike; the figure is the
median over rounds. Also printed: each model's parameters and matmul/conv FLOPs per training
step (forward + backward of one batch), the quantity the default thread rule thresholds
(`l2advisor.training.threads`), and the load average (the machine may be shared).

    python benchmarks/threads.py            # 5 rounds of 1500 steps: ~30 min on 2 idle cores
    python benchmarks/threads.py --quick    # 2 rounds of 200 steps
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benchmarks"))

from model_files import DEFAULT_CNN, write_mlp  # noqa: E402

SETUPS = ("1 thread", "2 threads", "2 jobs x 1")


def models(folder: Path) -> dict[str, Path]:
    return {"MLP 784-8-10": write_mlp(folder, hidden=8, depth=1),
            "MLP 784-32-10": write_mlp(folder, hidden=32, depth=1),
            "MLP 784-256-256-10": write_mlp(folder, hidden=256, depth=2),
            "default CNN": DEFAULT_CNN,
            "MLP 784-1024x3-10": write_mlp(folder, hidden=1024, depth=3)}


def worker(model_file: str, threads: int, steps: int) -> None:
    """One measurement, in this process: prints steps/s."""
    import torch

    torch.set_num_threads(threads)
    from l2advisor.modelfile.spec import load_spec
    from l2advisor.modelfile.task import build_task
    from l2advisor.training.train import TrainConfig, train

    spec = load_spec(Path(model_file), {})
    task = build_task(spec)
    config = TrainConfig(lr=spec.lr, batch_size=spec.batch_size, max_steps=steps, eval_every=steps // 4,
                         momentum=spec.momentum, optimizer=spec.optimizer, device="cpu")
    train(task, dataclasses.replace(config, max_steps=20, eval_every=20), 1e-3)  # warm-up (allocator, kernels)
    start = time.perf_counter()
    result = train(task, config, 1e-3)
    print(result.steps / (time.perf_counter() - start))


def measure(model_file: Path, setup: str, steps: int) -> float:
    """Steps/s of one set-up (2 jobs: both processes at once, summed)."""
    threads, jobs = {"1 thread": (1, 1), "2 threads": (2, 1), "2 jobs x 1": (1, 2)}[setup]
    env = {**os.environ, "OMP_NUM_THREADS": str(threads), "PYTHONPATH": str(ROOT)}
    args = [sys.executable, __file__, "--worker", str(model_file), str(threads), str(steps)]
    procs = [subprocess.Popen(args, env=env, stdout=subprocess.PIPE, text=True) for _ in range(jobs)]
    return sum(float(p.communicate()[0].strip().splitlines()[-1]) for p in procs)


def step_cost(model_file: Path) -> tuple[int, float]:
    """(parameters, matmul/conv FLOPs of one training step)."""
    from l2advisor.modelfile.spec import load_spec
    from l2advisor.modelfile.task import build_task
    from l2advisor.training.threads import model_cost

    spec = load_spec(model_file, {})
    task = build_task(spec)
    return model_cost(spec.build_model(), task.train.tensors[0][:spec.batch_size])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="2 rounds of 200 steps")
    parser.add_argument("--worker", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(args.worker[0], int(args.worker[1]), int(args.worker[2]))
        return
    rounds, steps = (2, 200) if args.quick else (5, 1500)
    print(f"{rounds} rounds of {steps} steps, {os.cpu_count()} CPUs; load average before "
          f"{', '.join(f'{x:.2f}' for x in os.getloadavg())} (1, 5, 15 min)")
    with tempfile.TemporaryDirectory() as folder:
        files = models(Path(folder))
        costs = {name: step_cost(path) for name, path in files.items()}
        rates: dict[tuple[str, str], list[float]] = {}
        for _ in range(rounds):
            for name, path in files.items():
                for setup in SETUPS:
                    rates.setdefault((name, setup), []).append(measure(path, setup, steps))
                    print(f"  {name}, {setup}: {rates[(name, setup)][-1]:.0f} steps/s", flush=True)
    print(f"{'model':<20}{'params':>10}{'MFLOP/step':>12}" + "".join(f"{s:>12}" for s in SETUPS)
          + f"{'2 thr / 1':>11}{'2 jobs / 1':>11}")
    for name in files:
        medians = [statistics.median(rates[(name, setup)]) for setup in SETUPS]
        params, flops = costs[name]
        print(f"{name:<20}{params:>10,}{flops / 1e6:>12.1f}" + "".join(f"{m:>12.0f}" for m in medians)
              + f"{medians[1] / medians[0]:>11.2f}{medians[2] / medians[0]:>11.2f}")
    print("steps/s: medians over rounds; '2 jobs x 1' is the two processes' steps/s summed")
    print(f"load average after {', '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
