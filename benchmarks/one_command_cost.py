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

A first, untimed round runs `one` to learn W (and warms the file cache). Then each round runs
the three in a rotated order (alone, one, separate; one, separate, alone; separate, alone, one;
...), and each round's ratios are taken against that round's run alone; the table gives their
medians and ranges over rounds:
  one command:        (one - alone) / alone   (what the advice adds to the run you train anyway)
  probe command:      probe / alone           (as advice_suite.py prices it)
  probe + recommend:  (probe + recommend) / alone
Both paths must advise the same W in every round (the same probes, the same fit): a difference
stops the benchmark.

    python benchmarks/one_command_cost.py                        # every suite task, short budget, 3 rounds
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
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.harness import cli_runs  # noqa: E402
from benchmarks.harness.task_args import chosen  # noqa: E402

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


def measure(task: Any, budget: int, rounds: int, cwd: Path) -> dict[str, list[dict[str, Any]]]:
    """An untimed round of `one` for the advice, then `rounds` rounds of the three arms, rotated."""
    with tempfile.TemporaryDirectory(prefix="one_command_") as tmp:
        wd = run_arm("one", task.path, budget, Path(tmp), None, cwd)["weight_decay"]
    timings: dict[str, list[dict[str, Any]]] = {arm: [] for arm in ARMS}
    for r in range(rounds):
        with tempfile.TemporaryDirectory(prefix="one_command_") as tmp:
            for arm in ARMS[r % 3:] + ARMS[:r % 3]:
                done = run_arm(arm, task.path, budget, Path(tmp), wd, cwd)
                if done.get("weight_decay", wd) != wd:
                    sys.exit(f"{task.name}: the {arm} arm advised {done['weight_decay']:g}, the first round {wd:g}")
                timings[arm].append(done)
                log(f"  round {r + 1}: {arm} {done['wall']:.1f} s")
    return timings


def ratios(timings: dict[str, list[dict[str, Any]]]) -> dict[str, Any]:
    """Per round, as fractions of that round's run alone; medians over rounds, and the ranges."""
    rounds = list(zip(timings["alone"], timings["one"], timings["separate"], strict=True))
    per = {"one_command": [(one["wall"] - alone["wall"]) / alone["wall"] for alone, one, _ in rounds],
           "probe_command": [sep["wall"] / alone["wall"] for alone, _, sep in rounds],
           "probe_and_recommend": [(sep["wall"] + sep["recommend_wall"]) / alone["wall"] for alone, _, sep in rounds]}
    return {"alone_s": statistics.median(a["wall"] for a in timings["alone"]),
            "one_s": statistics.median(o["wall"] for o in timings["one"]),
            **{k: statistics.median(v) for k, v in per.items()},
            **{f"{k}_range": (min(v), max(v)) for k, v in per.items()}}


def cell(row: dict[str, Any], key: str) -> str:
    low, high = row[f"{key}_range"]
    return f"{row[key]:.2f} ({low:.2f}-{high:.2f})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tasks", help="comma-separated suite task names [default: all; --quick: QUICK_TASKS]")
    parser.add_argument("--budgets", default="short", help="short, long or steps, comma-separated [short]")
    parser.add_argument("--rounds", type=int, default=3, help="timed rounds of the three arms [3; --quick: 1]")
    parser.add_argument("--quick", action="store_true", help="2 small tasks, short budget, 1 round")
    parser.add_argument("--json", type=Path, help="write every timing here")
    args = parser.parse_args()
    from benchmarks.suite import TASKS

    names, rounds = chosen(parser, args, tuple(TASKS), QUICK_TASKS)
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
                         "advised": timings["one"][0]["weight_decay"]})
    print("| task | budget | run alone (s) | one command (s) | cost in one command | probe command | "
          "probe + recommend | advised |")
    print("|---|---|---|---|---|---|---|---|")
    for row in rows:
        print(f"| {row['task']} | {row['budget']:,} | {row['alone_s']:.1f} | {row['one_s']:.1f} | "
              f"{cell(row, 'one_command')} | {cell(row, 'probe_command')} | {cell(row, 'probe_and_recommend')} | "
              f"{row['advised']:.3g} |")
    worst = {k: max(r[k] for r in rows) for k in ("one_command", "probe_command", "probe_and_recommend")}
    middle = {k: statistics.median(r[k] for r in rows) for k in worst}
    print(f"\nadvice cost in budget runs (median / worst of the cases' medians, {len(rows)} cases, {rounds} rounds): one command "
          f"{middle['one_command']:.2f} / {worst['one_command']:.2f}; probe command {middle['probe_command']:.2f} / "
          f"{worst['probe_command']:.2f}; probe + recommend {middle['probe_and_recommend']:.2f} / "
          f"{worst['probe_and_recommend']:.2f}")
    if args.json:
        args.json.write_text(json.dumps({"rounds": rounds, "rows": rows}, indent=1))


if __name__ == "__main__":
    main()
