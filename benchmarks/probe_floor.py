"""How close `l2advisor probe --budget N` is to the cheapest probe its plan allows, as commands.

`advice_suite.py` prices the probe command against the budget run (`l2advisor train`), both as
separate processes with one torch thread. Two parts of the probe's wall time are not the
probe's to cut: the start-up every command pays (Python, torch's import, the model file and
its data: scikit-learn's import for the digits tasks), and the longest rung, whose steps follow
one another (the plan fixes it: 3 rungs from lr*lam = 0.01*(1-momentum), a factor 2 apart, to
tau = 4, the cheapest plan that keeps the simulated controls, `benchmarks/null_control.py`).
Stacking trains the other rungs and seeds alongside it, so a probe cannot cost less than

    floor = start-up + (longest rung's steps) x (one step of the budget run)

unless a step of K stacked replicas is cheaper than a plain `torch.optim` step of one model,
as it is for MLPs (batch norms too) since their stacked gradients are written out by hand (mlp_grad.py):
there the probe can cost less than this floor.
Per task, side by side, one torch thread (OMP_NUM_THREADS=1, as the suite), alone on the machine:

  start-up  `python -c` importing l2advisor's CLI and torch and building the task (no training),
            ending as the commands do (quick_exit.py);
  probe     `l2advisor probe FILE --budget N --seeds 0,1` (a fresh run directory);
  run       `l2advisor train FILE --weight-decay W --budget N` (W: the smallest probed lam),
            evaluating every N/100 steps; its loop seconds give the plain step.

Rounds alternate the three; medians. Prints, per task: the probe's cost in budget runs, the
floor's, and what of the probe lies above the floor (stacking's overhead, evaluation, fitting).

    python benchmarks/probe_floor.py            # every suite task at 6,400 steps, 3 rounds
    python benchmarks/probe_floor.py --quick    # mlp_tiny_data and null_weightnorm, 1 round
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.harness import cli_runs  # noqa: E402
from benchmarks.harness.task_args import chosen, task_parser  # noqa: E402

SUITE = ROOT / "benchmarks" / "suite"
TASKS = ("cnn_bn_digits", "cnn_plain_mnist14", "mixer_adamw_digits", "mlp_bn_mnist14", "mlp_tiny_data",
         "mlp_momentum_digits", "null_weightnorm")
QUICK_TASKS = ("mlp_tiny_data", "null_weightnorm")
# ... and ends as the commands end: without the interpreter's teardown (l2advisor.cli.quick_exit,
# 0.2-0.3 s with torch loaded), which would otherwise count in the floor and not in the commands
START_UP = ("import sys; from pathlib import Path; import l2advisor.cli.app, l2advisor.cli.probe; "
            "from l2advisor.modelfile.spec import load_spec; from l2advisor.modelfile.task import build_task; "
            "build_task(load_spec(Path(sys.argv[1]))); from l2advisor.cli.quick_exit import quick_exit; quick_exit(0)")


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def start_up(model: Path, cwd: Path) -> float:
    """Wall seconds of a process that starts as every command does and trains nothing."""
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", START_UP, str(model)], capture_output=True, text=True,
                          env=cli_runs._env(), cwd=cwd)
    if done.returncode != 0:
        raise RuntimeError(f"start-up of {model.name} failed: {done.stderr.strip()[-400:]}")
    return time.perf_counter() - started


def one_round(model: Path, budget: int, work: Path, round_: int) -> dict[str, float]:
    probe = cli_runs.probe(model, work / f"probe_{round_}", (0, 1), budget, work)
    lam = min(float(row["lam"]) for row in probe["rows"])
    run = cli_runs.train(model, lam, budget, 0, work / f"train_{round_}", work)
    longest = max(int(row.get("steps") or 0) for row in probe["rows"])
    return {"start_up": start_up(model, work), "probe": probe["wall"], "run": run["wall"],
            "run_loop": float(run["seconds"]), "longest": longest}


def row(name: str, rounds: list[dict[str, float]], budget: int) -> dict[str, Any]:
    def median(key: str) -> float:
        return statistics.median(r[key] for r in rounds)

    step_s = median("run_loop") / budget  # one plain step of the budget run, its evaluations included
    floor = median("start_up") + rounds[0]["longest"] * step_s
    probe, run = median("probe"), median("run")
    return {"task": name, "budget": budget, "start_up_s": median("start_up"), "probe_s": probe, "run_s": run,
            "longest_rung": int(rounds[0]["longest"]), "floor_s": floor, "cost": probe / run,
            "floor_cost": floor / run, "above_floor_s": probe - floor, "rounds": rounds}


def main() -> None:
    parser = task_parser(__doc__.split("\n\n")[0], "two tasks, one round")
    args = parser.parse_args()
    names, rounds = chosen(parser, args, TASKS, QUICK_TASKS)
    measured: dict[str, list[dict[str, float]]] = {n: [] for n in names}
    with tempfile.TemporaryDirectory() as tmp:
        for round_ in range(rounds):
            for name in names:
                work = Path(tmp) / name
                work.mkdir(exist_ok=True)
                got = one_round(SUITE / f"{name}.py", args.budget, work, round_)
                measured[name].append(got)
                log(f"round {round_} {name}: start-up {got['start_up']:.2f} s, probe {got['probe']:.2f} s, "
                    f"run {got['run']:.2f} s (loop {got['run_loop']:.2f} s)")
    rows = [row(name, measured[name], args.budget) for name in names]
    print(f"Probe command against its floor, budget {args.budget:,} steps, median of {rounds} round(s), "
          "one torch thread:")
    print(f"{'task':22s} {'start-up s':>10s} {'probe s':>8s} {'run s':>6s} {'longest':>8s} {'floor s':>8s} "
          f"{'cost':>5s} {'floor':>6s} {'above floor s':>14s}")
    for r in rows:
        print(f"{r['task']:22s} {r['start_up_s']:10.2f} {r['probe_s']:8.2f} {r['run_s']:6.2f} {r['longest_rung']:8d} "
              f"{r['floor_s']:8.2f} {r['cost']:5.2f} {r['floor_cost']:6.2f} {r['above_floor_s']:14.2f}")
    if args.json:
        args.json.write_text(json.dumps({"budget": args.budget, "rounds": rounds, "rows": rows}, indent=1))


if __name__ == "__main__":
    main()
