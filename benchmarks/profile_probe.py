"""Where a probe step's time goes: torch.profiler over the bundled default's training loop,
once as one sequential `train()` and once as K = 8 batched replicas.

Prints, per path, the CPU time by kind of operator (convolution, batch norm, matmul, pooling
and activations, optimizer update, loss, evaluation forward, other) as a share of the
operators' total, the top operators, and how much of the wall time no operator accounts for
(Python and dispatch overhead). Profile before optimizing: this is what decides where work pays.

    python benchmarks/profile_probe.py            # 300 steps per path, ~1 min on 2 idle cores
    python benchmarks/profile_probe.py --quick    # 100 steps
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import defaultdict
from pathlib import Path

import torch
from torch.profiler import ProfilerActivity, profile

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from l2advisor.modelfile.spec import load_spec  # noqa: E402
from l2advisor.modelfile.task import build_task  # noqa: E402
from l2advisor.training.batched import Replica, train_batched  # noqa: E402
from l2advisor.training.train import TrainConfig, train  # noqa: E402

K = 8
KINDS = (  # (kind, substrings of the aten op name); first match wins
    ("convolution", ("conv", "mkldnn_convolution", "thnn_conv")),
    ("batch norm", ("batch_norm", "native_batch_norm")),
    ("matmul", ("addmm", "bmm", "::mm", "matmul", "linear")),
    ("pool/activation", ("max_pool", "relu", "threshold", "avg_pool")),
    ("loss", ("cross_entropy", "log_softmax", "nll_loss")),
    ("optimizer update", ("foreach", "add_", "mul_", "addcmul", "lerp", "sub_")),
)


def kind_of(name: str) -> str:
    low = name.lower()
    for kind, keys in KINDS:
        if any(k in low for k in keys):
            return kind
    return "other"


def profiled(run) -> tuple[float, list]:
    """Wall seconds of run() under the profiler, and its operator averages."""
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        start = time.perf_counter()
        run()
        wall = time.perf_counter() - start
    return wall, prof.key_averages()


def report(title: str, wall: float, events) -> None:
    top_level = [e for e in events if e.key.startswith("aten::")]
    total_us = sum(e.self_cpu_time_total for e in top_level)
    by_kind: dict[str, float] = defaultdict(float)
    for e in top_level:
        by_kind[kind_of(e.key)] += e.self_cpu_time_total
    print(f"\n{title}: {wall:.2f} s wall, operators {total_us / 1e6:.2f} s "
          f"({100 * total_us / 1e6 / wall:.0f}% of wall; the rest is Python, dispatch and waiting)")
    for kind, us in sorted(by_kind.items(), key=lambda kv: -kv[1]):
        print(f"  {kind:<18} {100 * us / total_us:5.1f}%")
    print("  top operators (self CPU):")
    for e in sorted(top_level, key=lambda e: -e.self_cpu_time_total)[:8]:
        print(f"    {e.key:<36} {100 * e.self_cpu_time_total / total_us:5.1f}%  {e.count:>6} calls")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="100 steps per path")
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()
    steps = 100 if args.quick else 300
    task = build_task(load_spec(ROOT / "examples" / "mnist_cnn.py"))
    spec = task.spec
    config = TrainConfig(lr=spec.lr, batch_size=spec.batch_size, max_steps=steps,
                         eval_every=max(1, steps // 25), seed=0, device=args.device)  # 25 evaluations
    lams = [0.1 * 2.0 ** -i for i in range(K)]
    print(f"profile: examples/mnist_cnn.py, {steps} steps, an evaluation every "
          f"{config.eval_every} steps, {torch.get_num_threads()} torch threads, device {args.device}")
    train(task, config, lams[0])  # warm up (allocator, kernels)
    wall, events = profiled(lambda: train(task, config, lams[0]))
    report(f"sequential train(), {steps} steps", wall, events)
    replicas = [Replica(lam, steps, config.eval_every) for lam in lams]
    train_batched(task, config, replicas)
    wall, events = profiled(lambda: train_batched(task, config, replicas))
    report(f"batched, K={K} replicas x {steps} steps", wall, events)


if __name__ == "__main__":
    main()
