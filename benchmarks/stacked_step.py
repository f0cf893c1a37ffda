"""A stacked probe step in two memory layouts: convolutions on NCHW inputs against channels-last.

For each CNN model file, K replicas of it are packed (`PackedStacked`, as `train_batched` packs
them), each with its own batch (K seeds in one stack, as budget-sized probes run), and timed
side by side in alternating rounds, one torch thread:

- a training step: forward, per-replica cross-entropy, gradients (no optimizer update: it
  does not depend on the layout);
- an evaluation pass over 512 validation images in the chunks `train_batched` uses.

Printed per model and K: milliseconds per step and per evaluation pass in each layout (median of
the rounds), and the speed-up; and, for scale, one unstacked step of the user's model.

    python benchmarks/stacked_step.py            # 5 rounds, 3 CNNs, K = 2, 4, 6
    python benchmarks/stacked_step.py --quick    # 2 rounds, 2 CNNs, K = 2, 6
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import torch
from torch.nn import functional as F

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from l2advisor.modelfile.spec import load_spec  # noqa: E402
from l2advisor.modelfile.task import build_task  # noqa: E402
from l2advisor.training.batches import eval_chunks  # noqa: E402
from l2advisor.training.replicas import PackedStacked  # noqa: E402
from l2advisor.training.train import build_seeded_model  # noqa: E402

MODELS = {"bundled default (28x28)": ROOT / "examples" / "mnist_cnn.py",
          "cnn_plain_mnist14": ROOT / "benchmarks" / "suite" / "cnn_plain_mnist14.py",
          "cnn_bn_digits": ROOT / "benchmarks" / "suite" / "cnn_bn_digits.py"}
LAYOUTS = {"NCHW": False, "channels-last": True}
VAL_IMAGES = 512


def ms_per_call(fn: Callable[[], object], calls: int) -> float:
    fn()  # warm-up: kernels chosen, memory allocated
    start = time.perf_counter()
    for _ in range(calls):
        fn()
    return (time.perf_counter() - start) / calls * 1e3


def timers(task, k: int, channels_last: bool) -> tuple[Callable[[], object], Callable[[], object]]:
    """(training step, evaluation pass) of K packed replicas, each on its own batch."""
    device = torch.device("cpu")
    stacked = PackedStacked([build_seeded_model(task, seed, device) for seed in range(k)], channels_last)
    size = task.spec.batch_size
    inputs = torch.stack([torch.stack([task.train[(r * size + i) % len(task.train)][0] for i in range(size)])
                          for r in range(k)])  # (K, B, ...)
    targets = torch.stack([torch.stack([torch.as_tensor(task.train[(r * size + i) % len(task.train)][1])
                                        for i in range(size)]) for r in range(k)])  # (K, B)
    params = list(stacked.params.values())
    val = eval_chunks(torch.utils.data.Subset(task.val, range(min(VAL_IMAGES, len(task.val)))), device,
                      chunk=max(128, 1024 // k))

    def step() -> None:
        outputs = stacked(inputs, True, per_replica=True)  # (K, B, classes)
        loss = F.cross_entropy(outputs.transpose(1, 2), targets, reduction="none").mean(1).sum()
        torch.autograd.grad(loss, params)

    @torch.no_grad()
    def evaluate() -> None:
        for x, _ in val:
            stacked(x, False)
    return step, evaluate


def single_step(task) -> Callable[[], object]:
    model = build_seeded_model(task, 0, torch.device("cpu"))
    size = task.spec.batch_size
    x = torch.stack([task.train[i][0] for i in range(size)])
    y = torch.stack([torch.as_tensor(task.train[i][1]) for i in range(size)])
    params = list(model.parameters())
    return lambda: torch.autograd.grad(F.cross_entropy(model(x), y), params)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="2 rounds, 2 models, K = 2 and 6")
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    torch.set_num_threads(1)
    rounds, ks = (2, (2, 6)) if args.quick else (args.rounds, (2, 4, 6))
    models = dict(list(MODELS.items())[:2]) if args.quick else MODELS
    print(f"torch {torch.__version__}, 1 thread, load average at the start {os.getloadavg()[0]:.1f}, "
          f"{rounds} rounds (medians)")
    print("| model | K | one model's step (ms) | step NCHW (ms) | step channels-last (ms) | speed-up | "
          f"eval {VAL_IMAGES} NCHW (ms) | eval channels-last (ms) | speed-up |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|", flush=True)
    for name, path in models.items():
        task = build_task(load_spec(path, {}))
        one = statistics.median(ms_per_call(single_step(task), 50) for _ in range(rounds))
        for k in ks:
            fns = {layout: timers(task, k, flag) for layout, flag in LAYOUTS.items()}
            step: dict[str, list[float]] = {layout: [] for layout in LAYOUTS}
            ev: dict[str, list[float]] = {layout: [] for layout in LAYOUTS}
            for r in range(rounds):  # alternate the order, so drift in load hits both alike
                for layout in (list(LAYOUTS) if r % 2 == 0 else list(LAYOUTS)[::-1]):
                    step[layout].append(ms_per_call(fns[layout][0], 50))
                    ev[layout].append(ms_per_call(fns[layout][1], 3))
            s = {layout: statistics.median(v) for layout, v in step.items()}
            e = {layout: statistics.median(v) for layout, v in ev.items()}
            print(f"| {name} | {k} | {one:.2f} | {s['NCHW']:.2f} | {s['channels-last']:.2f} | "
                  f"{s['NCHW'] / s['channels-last']:.2f}x | {e['NCHW']:.1f} | {e['channels-last']:.1f} | "
                  f"{e['NCHW'] / e['channels-last']:.2f}x |", flush=True)


if __name__ == "__main__":
    main()
