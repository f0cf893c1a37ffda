"""Regenerate or resume the suite's ground truth: every lam of each task's grid, 3 seeds, trained
with l2advisor's own trainer, one JSON line per finished run in benchmarks/ground_truth/<task>.jsonl.

    python benchmarks/ground_truth.py                                  # constant lr, all tasks
    python benchmarks/ground_truth.py --schedule cosine --tasks mlp_bn_mnist14,mixer_adamw_digits
    python benchmarks/ground_truth.py --quick                          # a smoke subset, into /tmp
    OMP_NUM_THREADS=1 nohup nice -n 5 python benchmarks/ground_truth.py > /tmp/gt_constant.log 2>&1 &

The lams of one (task, seed) train together as stacked replicas
(`l2advisor.training.batched.train_batched`, falling back to `train` per lam when the model
cannot be stacked). Constant lr: each to the long budget; its prefix serves the short budget
(constant lr and lam do not depend on the budget). Cosine and linear-to-zero: one stack per
budget, the lr set per step (`lr_at`; the first cosine grid of mlp_momentum_digits at 6,400
steps was trained one run per lam, before the stacked trainer took a schedule). Order: task by task, cheapest first (`COST_MS`), all seeds of a
task before the next, so a partial ground truth has complete tasks. Runs already in the file are
skipped (resume); a grid extended with new lams trains only those; a file written for another
grid, budget or model file is refused. Progress goes to stderr; one torch thread.
"""

from __future__ import annotations

import argparse
import json
import math
import platform
import sys
import time
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
import torch  # noqa: E402

import l2advisor  # noqa: E402
from benchmarks.suite import QUICK_TASKS, TASKS, SuiteTask  # noqa: E402
from l2advisor.modelfile.spec import load_spec  # noqa: E402
from l2advisor.modelfile.task import Task, build_task  # noqa: E402
from l2advisor.training.batched import CannotBatch, Replica, train_batched  # noqa: E402
from l2advisor.training.train import TrainConfig, TrainResult, train  # noqa: E402

OUT = ROOT / "benchmarks" / "ground_truth"
SEEDS = (0, 1, 2)
# CPU ms per stacked step (9 lams, one thread, measured on the 2-core dev box): cheap tasks first
COST_MS = {"mlp_momentum_digits": 2.0, "mlp_tiny_data": 3.1, "mlp_bn_mnist14": 3.7, "null_weightnorm": 4.7,
           "mixer_adamw_digits": 12.1, "cnn_bn_digits": 13.6, "cnn_plain_mnist14": 16.2}


def lr_schedule(name: str, lr: float, steps: int):
    """lr_at(step) for step 0 .. steps-1. `linear`: lr * (1 - step/steps), to zero at the end;
    the library's own definition is used when l2advisor.training.lr_schedules has it."""
    from l2advisor.training import lr_schedules
    if name in lr_schedules.SCHEDULES:
        return lr_schedules.make_lr_at(name, lr, steps)
    if name == "linear":  # same definition, written here until the library has it
        return lambda step: lr * (1.0 - min(step, steps) / steps)
    raise SystemExit(f"unknown schedule {name!r}")


def header(task: SuiteTask, spec_settings: dict, command: str) -> dict:
    return {"kind": "header", "task": task.name, "model_file": str(task.path.relative_to(ROOT)),
            "settings": spec_settings, "budgets": list(task.budgets), "lams": list(task.lams),
            "eval_every": task.eval_every, "seeds": list(SEEDS), "command": command,
            "versions": {"l2advisor": l2advisor.__version__, "torch": torch.__version__,
                         "numpy": np.__version__, "python": platform.python_version()},
            "machine": platform.machine(), "torch_threads": torch.get_num_threads()}


def open_store(path: Path, head: dict) -> set[tuple]:
    """Write the header of a new file, or check an existing one; the keys of its finished runs."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(head) + "\n")
        return set()
    text = path.read_text().splitlines()
    lines = [json.loads(line) for line in text if line.strip()]
    old = lines[0]
    if old.get("lams") != head["lams"] and set(old.get("lams", ())) < set(head["lams"]):  # the grid was extended
        old["lams"] = head["lams"]
        path.write_text("\n".join([json.dumps(old), *text[1:]]) + "\n")  # runs so far stay valid
    for key in ("budgets", "lams", "eval_every"):
        if old.get(key) != head[key]:
            raise SystemExit(f"{path}: written for {key}={old.get(key)}, the suite now says {head[key]}; "
                             "move the file away to regenerate it.")
    if old["settings"]["model_sha256"] != head["settings"]["model_sha256"]:
        raise SystemExit(f"{path}: written for another version of {head['model_file']}; move it away.")
    return {(r["schedule"], r["budget"], r["lam"], r["seed"]) for r in lines[1:] if r.get("kind") == "run"}


def run_record(task: SuiteTask, schedule: str, budget: int, lam: float, seed: int, result: TrainResult,
               wall_s: float, stacked: int, command: str) -> dict:
    curve = [[r["step"], round(r["val_metric"], 6)] for r in result.records if math.isfinite(r["val_metric"])]
    return {"kind": "run", "task": task.name, "schedule": schedule, "budget": budget, "lam": lam, "seed": seed,
            "steps": result.steps, "status": result.status, "wall_s": round(wall_s, 2), "stacked": stacked,
            "command": command, "curve": curve}


def train_grid(task: SuiteTask, loaded: Task, config: TrainConfig, lams: list[float],
               lr_at=None) -> tuple[list[TrainResult], float, int]:
    """All `lams` to config.max_steps (lr per step from `lr_at`, if given), stacked when the model
    allows it; (results, wall s per run, stacked). Stacked runs share one wall time and CPU time
    (the whole stack's)."""
    start = time.perf_counter()
    replicas = [Replica(lam, config.max_steps, config.eval_every) for lam in lams]
    try:
        return train_batched(loaded, config, replicas, lr_at=lr_at), time.perf_counter() - start, len(lams)
    except CannotBatch as err:
        print(f"  {task.name}: cannot stack ({err}); one run per lam", file=sys.stderr)
    results = []
    for lam in lams:
        results.append(train(loaded, config, lam, lr_at=lr_at))
    return results, (time.perf_counter() - start) / len(lams), 1


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", default="", help="comma-separated task names (default: all with this schedule)")
    parser.add_argument("--schedule", default="constant", choices=("constant", "cosine", "linear"))
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--quick", action="store_true", help="2 tasks, 3 lams, 1 seed, budgets / 32, into --out")
    parser.add_argument("--out", type=Path, default=None, help="output folder (default benchmarks/ground_truth; "
                        "--quick: /tmp/l2advisor_gt_quick)")
    args = parser.parse_args()
    torch.set_num_threads(1)
    command = " ".join(["python", "benchmarks/ground_truth.py", *sys.argv[1:]])
    names = [n for n in args.tasks.split(",") if n] or [n for n, t in TASKS.items() if args.schedule in t.schedules]
    if args.quick:
        names = [n for n in names if n in QUICK_TASKS] or list(QUICK_TASKS)
    out = args.out or (Path("/tmp/l2advisor_gt_quick") if args.quick else OUT)
    seeds = [int(s) for s in args.seeds.split(",")][:1 if args.quick else None]
    tasks = {}
    for name in names:
        if name not in TASKS:
            raise SystemExit(f"unknown task {name!r}; the suite has {', '.join(TASKS)}")
        task = TASKS[name]
        if args.quick:
            task = replace(task, budgets=(task.budgets[0] // 32, task.budgets[1] // 32),
                           lams=(0.0, task.lams[3], task.lams[-1]), eval_every=task.eval_every // 8)
        spec = load_spec(task.path)
        loaded = build_task(spec)
        path = out / f"{name}.jsonl"
        done = open_store(path, header(task, spec.settings(), command))
        tasks[name] = (task, spec, loaded, path, done)
    for name in sorted(tasks, key=lambda n: COST_MS.get(n, 0.0)):  # complete tasks, cheapest first
        for seed in seeds:
            run_task_seed(*tasks[name], args.schedule, seed, command)
    print("done", file=sys.stderr)


def run_task_seed(task: SuiteTask, spec, loaded: Task, path: Path, done: set, schedule: str, seed: int,
                  command: str) -> None:
    base = TrainConfig(lr=spec.lr, batch_size=spec.batch_size, max_steps=task.budgets[1],
                       eval_every=task.eval_every, seed=seed, momentum=spec.momentum, optimizer=spec.optimizer)
    budgets = [task.budgets[1]] if schedule == "constant" else list(task.budgets)
    for budget in budgets:
        lams = [lam for lam in task.lams if (schedule, budget, lam, seed) not in done]
        if not lams:
            continue
        print(f"{time.strftime('%H:%M:%S')} {task.name} {schedule} budget {budget} seed {seed}: "
              f"{len(lams)} lams", file=sys.stderr, flush=True)
        config = replace(base, max_steps=budget)
        lr_at = None if schedule == "constant" else lr_schedule(schedule, spec.lr, budget)
        cpu = time.process_time()
        results, wall, stacked = train_grid(task, loaded, config, lams, lr_at)
        cpu = (time.process_time() - cpu) / (1 if stacked > 1 else len(lams))
        pairs = [(lam, r, wall, cpu) for lam, r in zip(lams, results, strict=True)]
        records = [run_record(task, schedule, budget, lam, seed, result, wall, stacked, command) | {"cpu_s": round(cpu, 2)}
                   for lam, result, wall, cpu in pairs]
        with path.open("a") as f:
            for record in records:
                f.write(json.dumps(record) + "\n")
                done.add((schedule, budget, record["lam"], seed))
        peaks = " ".join(f"{r['lam']:g}:{max((v for _, v in r['curve']), default=math.nan):.4f}" for r in records)
        wall = sum(p[2] for p in pairs) if stacked == 1 else pairs[0][2]
        print(f"  wall {wall:.0f}s, cpu {sum(p[3] for p in pairs) if stacked == 1 else pairs[0][3]:.0f}s; "
              f"peaks {peaks}", file=sys.stderr, flush=True)


if __name__ == "__main__":
    main()
