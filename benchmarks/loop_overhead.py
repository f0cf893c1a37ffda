"""Loop overhead: steps/s of `l2advisor.training.train.train` against a minimal hand-written loop.

Both train the same model on the same resident data on the same device, with evaluation on
the validation set about 100 times per run; l2advisor also records its whole curve (train
loss and accuracy, weight norm, tau). Runs alternate (plain, l2advisor, l2advisor, plain, ...)
so that a busy machine slows both alike; the ratio is the median of the per-round ratios.
Also reported: the plain loop without evaluation (what the ~100 evaluations cost), and the
data path: the share of a step spent selecting its batch, and the host-to-device copies
seen by the profiler during steps (there should be none: the data are resident).

    python benchmarks/loop_overhead.py            # full: ~10 min on 2 idle cores
    python benchmarks/loop_overhead.py --quick    # ~3 min
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import torch
from torch.nn import functional as F

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from model_files import DEFAULT_CNN, write_mlp  # noqa: E402

from l2advisor.modelfile.spec import load_spec  # noqa: E402
from l2advisor.modelfile.task import build_task  # noqa: E402
from l2advisor.training.batches import train_batches  # noqa: E402
from l2advisor.training.train import TrainConfig, build_seeded_model, train  # noqa: E402

LAM = 1e-3


def model_files(work: Path) -> dict[str, Path]:
    """The default CNN, and a tiny MLP 784-32-10 whose step is mostly Python overhead."""
    work.mkdir(parents=True, exist_ok=True)
    return {"default CNN (examples/mnist_cnn.py)": DEFAULT_CNN,
            "tiny MLP 784-32-10": write_mlp(work, hidden=32, depth=1)}


def plain_loop(task, config: TrainConfig, evaluate: bool = True) -> float:
    """The minimal loop: same init, same batches, torch.optim.SGD; evaluates val loss and accuracy."""
    device = torch.device(config.device)
    model = build_seeded_model(task, config.seed, device)
    optimizer = torch.optim.SGD(model.parameters(), lr=config.lr, weight_decay=LAM)
    inputs, targets = (t.to(device) for t in task.train.tensors)
    val_x, val_y = (t.to(device) for t in task.val.tensors)
    generator = torch.Generator().manual_seed(config.seed)
    per_epoch = len(targets) // config.batch_size
    curve = []
    start = time.perf_counter()
    model.train()
    for step in range(config.max_steps):
        if step % per_epoch == 0:
            order = torch.randperm(len(targets), generator=generator).to(device)
        index = order[(step % per_epoch) * config.batch_size:(step % per_epoch + 1) * config.batch_size]
        loss = F.cross_entropy(model(inputs[index]), targets[index])
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        if evaluate and (step + 1) % config.eval_every == 0:
            model.eval()
            with torch.no_grad():
                out = model(val_x)
                curve.append((float(F.cross_entropy(out, val_y)), float((out.argmax(1) == val_y).float().mean())))
            model.train()
    return config.max_steps / (time.perf_counter() - start)


def library_loop(task, config: TrainConfig) -> float:
    records = []
    start = time.perf_counter()
    result = train(task, config, LAM, on_eval=records.append)
    assert result.status == "finished", result.message
    return result.steps / (time.perf_counter() - start)


def compare(task, config: TrainConfig, rounds: int) -> dict[str, float]:
    plain, lib, bare, ratios = [], [], [], []
    library_loop(task, TrainConfig(**{**config.__dict__, "max_steps": 20}))  # warm up both
    plain_loop(task, TrainConfig(**{**config.__dict__, "max_steps": 20}))
    for i in range(rounds):
        order = (plain_loop, library_loop) if i % 2 == 0 else (library_loop, plain_loop)
        speeds = {fn: fn(task, config) for fn in order}
        plain.append(speeds[plain_loop])
        lib.append(speeds[library_loop])
        ratios.append(speeds[library_loop] / speeds[plain_loop])
        bare.append(plain_loop(task, config, evaluate=False))
        print(f"    round {i + 1}: plain {plain[-1]:.0f} steps/s, l2advisor {lib[-1]:.0f} steps/s, "
              f"ratio {ratios[-1]:.3f}, plain without evaluation {bare[-1]:.0f} steps/s", flush=True)
    return {"plain": statistics.median(plain), "l2advisor": statistics.median(lib),
            "ratio": statistics.median(ratios), "ratio_min": min(ratios), "ratio_max": max(ratios),
            "no_eval": statistics.median(bare)}


class Items(torch.utils.data.Dataset):
    """The same examples, but not as tensors: l2advisor must use its DataLoader path."""

    def __init__(self, dataset) -> None:
        self.dataset = dataset

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, i: int):
        return self.dataset[i]


def data_path(task, config: TrainConfig, steps: int, loader: bool = False) -> dict[str, float]:
    """Batch fetch time vs whole step time, and host-to-device copies seen by the profiler.

    Resident path by default; `loader` wraps the training set so that batches come through a
    DataLoader (2 workers, pinned memory on a GPU) instead."""
    device = torch.device(config.device)
    model = build_seeded_model(task, config.seed, device)
    optimizer = torch.optim.SGD(model.parameters(), lr=config.lr, weight_decay=LAM)
    batches = train_batches(Items(task.train) if loader else task.train, config.batch_size, config.seed, device)
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    select = total = 0.0
    for _ in range(steps):
        sync()
        t0 = time.perf_counter()
        x, y = next(batches)
        sync()
        t1 = time.perf_counter()
        loss = F.cross_entropy(model(x), y)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        sync()
        select += t1 - t0
        total += time.perf_counter() - t0
    from torch.profiler import profile

    with profile() as prof:
        for _ in range(50):
            x, y = next(batches)
            loss = F.cross_entropy(model(x), y)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
    names = [e.key for e in prof.key_averages()]
    copies = sum(e.count for e in prof.key_averages() if e.key in ("aten::_to_copy", "Memcpy HtoD (Pageable -> Device)",
                                                                     "Memcpy HtoD (Pinned -> Device)"))
    return {"share": select / total, "select_us": 1e6 * select / steps, "step_us": 1e6 * total / steps,
            "copies_per_50_steps": copies, "resident": type(batches).__name__ == "ResidentBatches",
            "profiled_ops": len(names)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer steps and rounds (about a minute)")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=0, help="torch threads [default: torch's choice]")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    print(f"loop overhead: about 100 evaluations per run, alternating rounds, device {args.device}, "
          f"{torch.get_num_threads()} torch threads", flush=True)
    for name, path in model_files(Path("/tmp") / "l2advisor_bench_loop").items():
        cnn = "CNN" in name
        steps = (400 if args.quick else 1000) * (1 if cnn else 3)  # steps per run
        rounds = (3 if args.quick else 5) if cnn else (5 if args.quick else 11)  # short runs: more rounds
        print(f"  {name}: {steps} steps per run, an evaluation every {steps // 100} steps, {rounds} rounds",
              flush=True)
        task = build_task(load_spec(path))
        config = TrainConfig(lr=task.spec.lr, batch_size=task.spec.batch_size, max_steps=steps,
                             eval_every=steps // 100, seed=0, device=args.device)
        got = compare(task, config, rounds)
        print(f"  {name}: median plain {got['plain']:.0f} steps/s, l2advisor {got['l2advisor']:.0f} steps/s, "
              f"ratio {got['ratio']:.3f} (rounds {got['ratio_min']:.3f}-{got['ratio_max']:.3f}); "
              f"plain without evaluation {got['no_eval']:.0f} steps/s "
              f"(evaluation costs {1 - got['plain'] / got['no_eval']:.0%} of the plain loop)")
        data = data_path(task, config, 200 if args.quick else 500)
        print(f"    data path: resident={data['resident']}, batch selection {data['select_us']:.0f} us of a "
              f"{data['step_us']:.0f} us step ({data['share']:.1%}); host-to-device copies in 50 profiled "
              f"steps: {data['copies_per_50_steps']}", flush=True)
        data = data_path(task, config, 100 if args.quick else 300, loader=True)
        print(f"    data path through a DataLoader (2 workers): waiting for a batch {data['select_us']:.0f} us of a "
              f"{data['step_us']:.0f} us step ({data['share']:.1%})", flush=True)


if __name__ == "__main__":
    main()
