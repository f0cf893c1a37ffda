"""Probe cost in the user's own process: the Python API against one budget run, torch loaded once.

`advice_suite.py` prices the probe as a user of the command line pays it: `l2advisor probe` and
`l2advisor train` are separate processes, so each pays Python's and torch's start-up (about 1.2 s
here) and, for the small suite models, that start-up is a third to a half of a 6,400-step budget
run. A user of the Python API (a notebook, a training script) pays it once. This benchmark puts
both sides in one process, as such a user would: `l2advisor.probe(build_model, train, val,
budget=N)` (the plan `probe --budget N` makes, stacked, results written to a run directory)
against the run they then train, `train()` at the advised lam with `torch.optim` for N steps,
evaluating every N/100 steps as `l2advisor train` does. Both start from the model file's datasets
already built; one torch thread (as the suite); the first round warms both paths (imports,
allocator, torch.optim's first construction) and is not counted; then `--rounds` rounds, the
two sides alternating task by task, and the median of each.

    python benchmarks/inprocess_cost.py                  # every suite task at 6,400 steps, 3 rounds
    python benchmarks/inprocess_cost.py --quick          # mlp_tiny_data and cnn_bn_digits, 1 round
    python benchmarks/inprocess_cost.py --budget 9600 --tasks mlp_bn_mnist14,null_weightnorm

Prints one row per task (probe seconds, budget-run seconds, the ratio) to stdout, progress to stderr.
"""

from __future__ import annotations

import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import l2advisor  # noqa: E402
from benchmarks.harness.task_args import chosen, task_parser  # noqa: E402
from l2advisor.modelfile.spec import call_user, load_spec  # noqa: E402
from l2advisor.modelfile.task import build_task  # noqa: E402
from l2advisor.training.train import TrainConfig, train  # noqa: E402

SUITE = ROOT / "benchmarks" / "suite"
TASKS = ("cnn_bn_digits", "cnn_plain_mnist14", "mixer_adamw_digits", "mlp_bn_mnist14", "mlp_tiny_data",
         "mlp_momentum_digits", "null_weightnorm")
QUICK_TASKS = ("mlp_tiny_data", "cnn_bn_digits")
EVALS_PER_RUN = 100  # as `l2advisor train`: every budget/100 steps


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


class Side:
    """One suite task's spec and datasets, loaded once; times a probe and a budget run of it."""

    def __init__(self, name: str, budget: int, work: Path) -> None:
        self.name, self.budget, self.work = name, budget, work
        self.spec = load_spec(SUITE / f"{name}.py")
        self.train_set, self.val_set = call_user(self.spec, self.spec.build_data, "build_data()")
        self.lam: float | None = None  # the advised lam, from the first probe

    def probe(self, round_: int) -> float:
        spec = self.spec
        started = time.perf_counter()
        results = l2advisor.probe(spec.build_model, self.train_set, self.val_set, lr=spec.lr, budget=self.budget,
                                  out=self.work / f"{self.name}_{round_}", progress=False,
                                  batch_size=spec.batch_size, momentum=spec.momentum, optimizer=spec.optimizer,
                                  loss=spec.loss, metric=spec.metric, force=True, name=self.name)
        seconds = time.perf_counter() - started
        if self.lam is None:
            advice = l2advisor.recommend(results, self.budget)
            smallest = min(row["lam"] for row in results.probes)
            self.lam = advice.weight_decay if advice.weight_decay is not None else smallest
        return seconds

    def budget_run(self) -> float:
        """`l2advisor train`'s work without its process: the task checked, then the whole run."""
        spec, steps = self.spec, self.budget
        started = time.perf_counter()
        task = build_task(_prebuilt(spec, self.train_set, self.val_set))
        config = TrainConfig(lr=spec.lr, batch_size=spec.batch_size, max_steps=steps,
                             eval_every=max(1, steps // EVALS_PER_RUN), seed=0, momentum=spec.momentum,
                             optimizer=spec.optimizer, device="cpu")
        result = train(task, config, float(self.lam or 0.0))
        if result.status != "finished":
            raise RuntimeError(f"{self.name}: the budget run {result.status}: {result.message}")
        return time.perf_counter() - started


def _prebuilt(spec: Any, train_set: Any, val_set: Any) -> Any:
    """The spec with build_data returning the datasets already built (the API's probe gets them too)."""
    from dataclasses import replace

    return replace(spec, build_data=lambda: (train_set, val_set))


def main() -> None:
    parser = task_parser(__doc__.split("\n\n")[0], "two tasks, one counted round", "counted rounds after the warm-up [3]")
    args = parser.parse_args()
    names, rounds = chosen(parser, args, TASKS, QUICK_TASKS)
    torch.set_num_threads(1)  # as advice_suite's subprocesses (OMP_NUM_THREADS=1)
    times: dict[str, dict[str, list[float]]] = {n: {"probe": [], "budget_run": []} for n in names}
    with tempfile.TemporaryDirectory() as tmp:
        sides = [Side(name, args.budget, Path(tmp)) for name in names]
        for round_ in range(rounds + 1):  # round 0 warms up
            for side in sides:
                probe, run = side.probe(round_), side.budget_run()
                log(f"round {round_}{' (warm-up)' if round_ == 0 else ''} {side.name}: probe {probe:.2f} s, "
                    f"budget run {run:.2f} s (lam {side.lam:.3g})")
                if round_ > 0:
                    times[side.name]["probe"].append(probe)
                    times[side.name]["budget_run"].append(run)
    rows = [row(name, times[name], args.budget) for name in names]
    print(f"Probe cost in one process (API), budget {args.budget:,} steps, median of {rounds} round(s), "
          "one torch thread:")
    print(f"{'task':22s} {'probe s':>8s} {'budget run s':>13s} {'ratio':>6s}")
    for r in rows:
        print(f"{r['task']:22s} {r['probe_s']:8.2f} {r['budget_run_s']:13.2f} {r['ratio']:6.2f}")
    print(f"worst ratio {max(r['ratio'] for r in rows):.2f}, median "
          f"{statistics.median(r['ratio'] for r in rows):.2f}")
    if args.json:
        args.json.write_text(json.dumps({"budget": args.budget, "rounds": rounds, "rows": rows}, indent=1))


def row(name: str, measured: dict[str, list[float]], budget: int) -> dict[str, Any]:
    probe, run = statistics.median(measured["probe"]), statistics.median(measured["budget_run"])
    return {"task": name, "budget": budget, "probe_s": probe, "budget_run_s": run, "ratio": probe / run,
            "probe_all_s": measured["probe"], "budget_run_all_s": measured["budget_run"]}


if __name__ == "__main__":
    main()
