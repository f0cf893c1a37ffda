"""What advice costs on top of the budget run, paid as separate commands or as one.

A user who wants a trained model can run `l2advisor probe --budget T`, `l2advisor recommend
--budget T` and `l2advisor train --weight-decay W`: three processes, each loading Python, torch
and the data (torch's import alone is about 1.1 s here, and torch.optim's first optimizer imports
torch._dynamo, about 0.9 s more). Or `l2advisor train --budget T --advise`: the same probes and the
same advice in the process that then trains, so that start-up is paid once. On the suite's small
models a 6,400-step budget run takes 2-3 s of training, so start-up decides the separate
commands' price. For every task and budget, side by side on one machine, one torch thread:

  alone     `l2advisor train --weight-decay W` (W: the advice), a fresh run directory;
  one       `l2advisor train --advise` (probes, advice and the same run), a fresh run directory;
  separate  `l2advisor probe --budget T`, then `l2advisor recommend --budget T`, fresh.

Each round runs the three in a rotated order; the medians over rounds give
  one command:        (one - alone) / alone   (what the advice adds to the run you train anyway)
  probe command:      probe / alone           (as advice_suite.py prices it)
  probe + recommend:  (probe + recommend) / alone

    python benchmarks/one_command_cost.py                        # every suite task, short budget, 2 rounds
    python benchmarks/one_command_cost.py --quick                # 2 small tasks, 1 round, about a minute
    python benchmarks/one_command_cost.py --tasks mlp_bn_mnist14 --budgets short,long --rounds 3

The table and a summary line go to stdout, progress to stderr; `--json F` keeps every timing.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.harness import cli_runs  # noqa: E402

QUICK_TASKS = ("mlp_tiny_data", "mlp_momentum_digits")
ARMS = ("alone", "one", "separate")


def log(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def run_arm(arm: str, model: Path, budget: int, work: Path, wd: float | None, cwd: Path) -> dict[str, Any]:
    """One timed arm in a fresh directory under `work`; wall seconds and the advised weight decay."""
    out = work / arm
    if arm == "one":
        stdout, wall = cli_runs.run_cli(["train", str(model), "--budget", str(budget), "--advise", "--out",
                                         str(out), "--json"], cwd)
        return {"wall": wall, "weight_decay": json.loads(stdout)["advice"]["weight_decay"]}
    if arm == "alone":
        assert wd is not None, "the alone arm trains at the advice: run `one` first"
        return {"wall": cli_runs.train(model, wd, budget, 0, out, cwd)["wall"]}
    probe = cli_runs.probe(model, out, (0, 1), budget, cwd)
    stdout, advise_wall = cli_runs.run_cli(["recommend", str(out), "--budget", str(budget), "--json"], cwd)
    return {"wall": probe["wall"], "recommend_wall": advise_wall, "weight_decay": json.loads(stdout)["weight_decay"]}


def measure(task: Any, budget: int, rounds: int, cwd: Path) -> dict[str, Any]:
    """`rounds` rounds of the three arms, rotated; the timings of each."""
    timings: dict[str, list[dict[str, Any]]] = {arm: [] for arm in ARMS}
    wd = None
    for r in range(rounds):
        order = ARMS[r % 3:] + ARMS[:r % 3]
        if wd is None:  # the first round needs the advice before the run alone
            order = ("one", *[a for a in order if a != "one"])
        with tempfile.TemporaryDirectory(prefix="one_command_") as tmp:
            for arm in order:
                started = time.perf_counter()
                done = run_arm(arm, task.path, budget, Path(tmp), wd, cwd)
                wd = done.get("weight_decay", wd) if arm == "one" else wd
                timings[arm].append(done)
                log(f"  round {r + 1}: {arm} {time.perf_counter() - started:.1f} s")
    return timings


def ratios(timings: dict[str, list[dict[str, Any]]]) -> dict[str, float]:
    """Medians over rounds, as fractions of the run alone."""
    alone = statistics.median(t["wall"] for t in timings["alone"])
    one = statistics.median(t["wall"] for t in timings["one"])
    probe = statistics.median(t["wall"] for t in timings["separate"])
    both = statistics.median(t["wall"] + t["recommend_wall"] for t in timings["separate"])
    return {"alone_s": alone, "one_s": one, "one_command": (one - alone) / alone, "probe_command": probe / alone,
            "probe_and_recommend": both / alone}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tasks", help="comma-separated suite task names [default: all; --quick: QUICK_TASKS]")
    parser.add_argument("--budgets", default="short", help="short, long or steps, comma-separated [short]")
    parser.add_argument("--rounds", type=int, default=2, help="rounds of the three arms [2; --quick: 1]")
    parser.add_argument("--quick", action="store_true", help="2 small tasks, short budget, 1 round")
    parser.add_argument("--json", type=Path, help="write every timing here")
    args = parser.parse_args()
    from benchmarks.suite import TASKS

    names = args.tasks.split(",") if args.tasks else list(QUICK_TASKS if args.quick else TASKS)
    unknown = [n for n in names if n not in TASKS]
    if unknown:
        sys.exit(f"unknown tasks {unknown}; the suite has {sorted(TASKS)}")
    rounds = 1 if args.quick else args.rounds
    if rounds < 1:
        sys.exit("--rounds must be at least 1")
    cwd = Path(tempfile.gettempdir())  # outside the repository: the CLI on PATH (or PYTHONPATH) is measured
    log(f"l2advisor from {cli_runs.code_origin(cwd)['file']}")
    rows = []
    for name in names:
        task = TASKS[name]
        for spec in args.budgets.split(","):
            budget = {"short": task.budgets[0], "long": task.budgets[1]}.get(spec) or int(spec)
            log(f"{name} at {budget:,} steps")
            timings = measure(task, budget, rounds, cwd)
            rows.append({"task": name, "budget": budget, **ratios(timings), "timings": timings,
                         "advised": [t["weight_decay"] for t in timings["one"] + timings["separate"]]})
    print("| task | budget | run alone (s) | one command (s) | cost in one command | probe command | "
          "probe + recommend | advised (one; separate) |")
    print("|---|---|---|---|---|---|---|---|")
    for row in rows:
        print(f"| {row['task']} | {row['budget']:,} | {row['alone_s']:.1f} | {row['one_s']:.1f} | "
              f"{row['one_command']:.2f} | {row['probe_command']:.2f} | {row['probe_and_recommend']:.2f} | "
              f"{', '.join(f'{w:.3g}' for w in row['advised'])} |")
    worst = {k: max(r[k] for r in rows) for k in ("one_command", "probe_command", "probe_and_recommend")}
    middle = {k: statistics.median(r[k] for r in rows) for k in worst}
    print(f"\nadvice cost in budget runs (median / worst over {len(rows)} cases): one command "
          f"{middle['one_command']:.2f} / {worst['one_command']:.2f}; probe command {middle['probe_command']:.2f} / "
          f"{worst['probe_command']:.2f}; probe + recommend {middle['probe_and_recommend']:.2f} / "
          f"{worst['probe_and_recommend']:.2f}")
    if args.json:
        args.json.write_text(json.dumps({"rounds": rounds, "rows": rows}, indent=1))


if __name__ == "__main__":
    main()
