"""Batched probes: replica-steps/s of K lams trained together vs one `train()` after another.

Each model trains K = 8 lams for the same number of steps with about 100 evaluations per run,
once as K stacked replicas (`l2advisor.training.batched.train_batched`) and, in alternating rounds,
as sequential `train()` runs (two of them per round: the sequential speed does not depend
on lam). The ratio is the median over rounds of (replica-steps/s batched) / (steps/s
sequential). The last column checks the numbers: the largest relative difference of the
validation loss between replica 0 and the sequential run at the same lam.

Full mode adds the end-to-end default probe plan of the bundled example (2 seeds x the
automatic ladder, early stopping on) run by `run_probes` with and without `replicas=8`.

    python benchmarks/batched_probes.py            # full: ~20 min on 2 idle cores
    python benchmarks/batched_probes.py --quick    # ~5 min
    python benchmarks/batched_probes.py --ladder-only    # the default probe plan only, ~5 min
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from model_files import DEFAULT_CNN, write_custom_cnn, write_mlp  # noqa: E402

from l2advisor.modelfile.spec import load_spec  # noqa: E402
from l2advisor.modelfile.task import build_task  # noqa: E402
from l2advisor.probing.plan import ProbeSettings, plan_probes  # noqa: E402
from l2advisor.probing.probe import run_probes  # noqa: E402
from l2advisor.training.batched import Replica, train_batched  # noqa: E402
from l2advisor.training.replicas import stack_replicas  # noqa: E402
from l2advisor.training.train import TrainConfig, build_seeded_model, train  # noqa: E402

K = 8


def model_files(work: Path, full: bool) -> dict[str, Path]:
    files = {"default CNN (examples/mnist_cnn.py)": DEFAULT_CNN,
             "MLP 784-256-256-10": write_mlp(work, hidden=256, depth=2)}
    if full:
        files["MLP 784-512x3-10 (probes/mlp_mnist.py)"] = ROOT / "probes" / "mlp_mnist.py"
        files["default CNN in a custom Module (vmap)"] = write_custom_cnn(work)
    return files


def measure(task, steps: int, rounds: int, device: str) -> dict[str, float | str]:
    config = TrainConfig(lr=task.spec.lr, batch_size=task.spec.batch_size, max_steps=steps,
                         eval_every=max(1, steps // 100), seed=0, momentum=task.spec.momentum,
                         optimizer=task.spec.optimizer, device=device)
    lams = [0.1 * task.spec.lr * 2.0 ** -i for i in range(K)]  # any lams: the speed does not depend on them
    replicas = [Replica(lam, steps, config.eval_every) for lam in lams]
    models = [build_seeded_model(task, 0, torch.device(device)) for _ in range(2)]
    kind = stack_replicas(models, torch.stack([task.train[i][0] for i in range(4)]).to(device)).kind
    seq_speed, batch_speed, ratios = [], [], []
    worst = 0.0
    for i in range(rounds):
        took = {}
        for which in (("batched", "sequential") if i % 2 == 0 else ("sequential", "batched")):
            start = time.perf_counter()
            if which == "batched":
                batched = train_batched(task, config, replicas)
            else:
                reference = [train(task, config, lam) for lam in lams[:2]]
            took[which] = time.perf_counter() - start
        seq, bat = 2 * steps / took["sequential"], K * steps / took["batched"]
        seq_speed.append(seq)
        batch_speed.append(bat)
        ratios.append(bat / seq)
        for a, b in zip(batched[0].records, reference[0].records, strict=True):
            worst = max(worst, abs(a["val_loss"] - b["val_loss"]) / abs(b["val_loss"]))
    return {"kind": kind, "seq": statistics.median(seq_speed), "batched": statistics.median(batch_speed),
            "ratio": statistics.median(ratios), "min": min(ratios), "max": max(ratios), "worst": worst}


def ladder(device: str) -> None:
    """The bundled example's default probe plan, end to end, sequential vs batched (full mode)."""
    import l2advisor.cli.app  # noqa: F401 - registers the commands (cli_probe imports it first)
    from l2advisor.cli.probe import DEFAULT_HORIZON

    task = build_task(load_spec(ROOT / "examples" / "mnist_cnn.py"))
    spec = task.spec
    settings = ProbeSettings(lrs=(spec.lr,), seeds=(0, 1), horizon=DEFAULT_HORIZON * (1 - spec.momentum),
                             probe_budget=24000)
    runs = plan_probes(settings, spec.momentum)
    base = TrainConfig(lr=spec.lr, batch_size=spec.batch_size, max_steps=1, eval_every=1, device=device)
    times = {}
    for replicas in (1, K):
        records: list[dict] = []
        start = time.perf_counter()
        results = run_probes(task, runs, base, settings, records.append, replicas=replicas)
        times[replicas] = time.perf_counter() - start
        steps = sum(r.steps for r in results)
        print(f"  default probe plan ({len(runs)} probes, {steps} replica-steps after early stops), "
              f"replicas={replicas}: {times[replicas]:.1f} s")
    print(f"  default probe plan speedup: {times[1] / times[K]:.2f}x")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer steps and rounds, two models")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=0, help="torch threads [default: torch's choice]")
    parser.add_argument("--ladder-only", action="store_true", help="only the default probe plan, end to end")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    steps, rounds = (400, 2) if args.quick else (800, 3)  # 800: the default ladder's shortest probe
    print(f"batched probes: K={K} replicas vs sequential train(), {steps} steps, an evaluation every "
          f"{max(1, steps // 100)} steps, {rounds} alternating rounds, device {args.device}, "
          f"{torch.get_num_threads()} torch threads")
    if args.ladder_only:
        return ladder(args.device)
    with tempfile.TemporaryDirectory() as work:
        for name, path in model_files(Path(work), not args.quick).items():
            task = build_task(load_spec(path))
            got = measure(task, steps, rounds, args.device)
            print(f"  {name} [{got['kind']}]: sequential {got['seq']:.0f} steps/s, batched {got['batched']:.0f} "
                  f"replica-steps/s, ratio {got['ratio']:.2f}x (rounds {got['min']:.2f}-{got['max']:.2f}); "
                  f"max rel. val-loss difference {got['worst']:.1e}")
    if not args.quick:
        ladder(args.device)


if __name__ == "__main__":
    main()
