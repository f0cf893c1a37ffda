"""How right and how cheap is the advice, task by task? For every suite task and budget, probe and
recommend as a user would (`l2advisor probe`, `l2advisor recommend --json`, subprocesses), then
score the advised lam against the task's ground truth (benchmarks/ground_truth/, interpolated in
log lam), judge the verdict, and price the probe against one budget run timed right after it.

    python benchmarks/advice_suite.py --work runs/suite              # every task, both budgets
    python benchmarks/advice_suite.py --quick --work runs/suite_quick  # a few minutes
    python benchmarks/advice_suite.py --tasks cnn_bn_digits --budgets short --spot-check --json out.json
    python benchmarks/advice_suite.py --work runs/suite --schedules cosine,linear   # + the schedule cases

Per case: the advised lam (probe seeds 0,1), the grid's best lam, the accuracy gap (points) and
whether it is within max(0.3 points, 1.5 x the seed sd at the grid's best lam), the verdict (and
those of probe seeds 2,3 and 4,5) and whether the ground truth agrees, the probe's cost in steps
and in wall time as a fraction of one budget run (`l2advisor train` at the advised lam, run right
after the probe, one torch thread for both), and the advised lam's spread (max/min) over the three
disjoint probe-seed sets. `--spot-check` trains 3 real seeds at the advised lam (short budget).
When `l2advisor probe` takes `--budget` the probes are planned per budget; otherwise one probe per
seed set serves both budgets, as a user would reuse it. Everything measured is cached in
`--work DIR/<task>/measured.json` (and the CLI resumes its own run directories): a rerun skips it.
Progress goes to stderr, the table and the summary line to stdout.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.harness import cli_runs  # noqa: E402
from benchmarks.harness.accounting import ProbeCost  # noqa: E402
from benchmarks.harness.cases import score_case, summary, table  # noqa: E402
from benchmarks.harness.truths import complete_truth  # noqa: E402

# disjoint probe-seed sets, the first the case's own; each leaves room for the one more seed that
# `probe` adds when its two leave the verdict near an edge (probing/follow_up.py): 0,1 (+2), 3,4 (+5)
SEED_SETS = ((0, 1), (3, 4), (6, 7))
SPOT_SEEDS = (0, 1, 2)


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


class Measured:
    """A task's measurements, kept in one JSON file and written after each one (resumable)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.data: dict[str, Any] = json.loads(path.read_text()) if path.exists() else {}

    def get(self, key: str) -> Any:
        return self.data.get(key)

    def put(self, key: str, value: Any) -> Any:
        self.data[key] = value
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps(self.data, indent=1))
        os.replace(tmp, self.path)
        return value


def seeds_key(seeds: tuple[int, ...]) -> str:
    return "-".join(map(str, seeds))


def measure_probe(m: Measured, model: Path, out: Path, seeds: tuple[int, ...], budget: int | None,
                  cwd: Path) -> dict[str, Any]:
    key = f"probe/{budget or 'any'}/{seeds_key(seeds)}"
    if m.get(key) is None:
        resumed = (out / "probes.jsonl").exists()
        log(f"  probe seeds {seeds_key(seeds)}" + (f" --budget {budget}" if budget else "")
            + (" (resuming)" if resumed else ""))
        try:
            done = cli_runs.probe(model, out, seeds, budget, cwd)
            m.put(key, {**{k: v for k, v in done.items() if k != "rows"}, "resumed": resumed})
        except cli_runs.CommandFailed as failed:
            return {"error": str(failed)}
        log(f"    {done['steps']:,} steps, {done['wall']:.0f} s")
    return m.get(key)


def measure_budget_run(m: Measured, model: Path, lam: float, budget: int, work: Path, cwd: Path,
                       most_steps: int) -> dict[str, Any] | None:
    """One budget run at the advised lam (seed 0), timed; with most_steps < budget only that many
    steps are trained (evaluating every budget/100 steps, as the whole run would) and the loop's
    time scaled up to the budget, the start-up counted once."""
    key = f"budget_run/{budget}"
    if m.get(key) is None:
        steps = min(budget, most_steps) if most_steps > 0 else budget
        log(f"  budget run: {steps:,} of {budget:,} steps at lam {lam:.3g} (timing)")
        try:
            done = cli_runs.train(model, lam, budget, 0, work / f"train_T{budget}_seed0", cwd, steps)
        except cli_runs.CommandFailed as failed:
            log(f"    failed: {failed}")
            return None
        # start-up (wall - loop seconds) once, the training loop scaled to the whole budget
        loop = float(done.get("seconds") or done["wall"])
        m.put(key, {**done, "lam": lam, "scale": budget / steps,
                    "budget_wall": done["wall"] - loop + loop * budget / steps})
        log(f"    {done['wall']:.0f} s")
    return m.get(key)


def measure_advice(m: Measured, run_dir: Path, budget: int, seeds: tuple[int, ...], cwd: Path,
                   schedule: str = "constant") -> dict[str, Any]:
    key = f"advice/{budget}/{seeds_key(seeds)}" if schedule == "constant" else \
        f"advice/{schedule}/{budget}/{seeds_key(seeds)}"
    if m.get(key) is None:
        try:
            m.put(key, cli_runs.recommend(run_dir, budget, cwd, schedule))
        except cli_runs.CommandFailed as failed:
            return {"verdict": "error", "weight_decay": None, "error": str(failed)}
    return m.get(key)


def spot_check(m: Measured, model: Path, lam: float, budget: int, work: Path, cwd: Path) -> list[float]:
    """Peaks of 3 real seeds at the advised lam; the timing run is seed 0 when it ran in full."""
    peaks = []
    for seed in SPOT_SEEDS:
        run = m.get(f"budget_run/{budget}")
        if seed == 0 and run and run.get("scale") == 1 and run.get("lam") == lam:
            peaks.append(run["peak_metric"])
            continue
        key = f"spot/{budget}/{lam:.6g}/{seed}"
        if m.get(key) is None:
            log(f"  spot check: seed {seed} at lam {lam:.3g}, {budget:,} steps")
            m.put(key, cli_runs.train(model, lam, budget, seed, work / f"spot_T{budget}_seed{seed}", cwd))
        peaks.append(m.get(key)["peak_metric"])
    return peaks


def run_task(task: Any, budgets: list[int], args: argparse.Namespace, aware: bool) -> list[dict[str, Any]]:
    work = (args.work / task.name).resolve()
    work.mkdir(parents=True, exist_ok=True)
    m, cwd, model = Measured(work / "measured.json"), work, task.path.resolve()
    seed_sets = SEED_SETS[: args.seed_sets]
    rows = []
    # Probe plans per budget when the CLI sizes them; otherwise one probe per seed set serves all.
    plans = [(b, [b]) for b in budgets] if aware else [(None, budgets)]
    advices: dict[int, list[dict[str, Any]]] = {b: [] for b in budgets}
    probes: dict[int, list[dict[str, Any]]] = {b: [] for b in budgets}
    for plan_budget, served in plans:
        for i, seeds in enumerate(seed_sets):
            out = work / (f"T{plan_budget}" if plan_budget else "any") / f"seeds{seeds_key(seeds)}"
            if args.cached_only and m.get(f"probe/{plan_budget or 'any'}/{seeds_key(seeds)}") is None:
                log(f"  probe seeds {seeds_key(seeds)} not measured (--cached-only): left out")
                continue
            done = measure_probe(m, model, out, seeds, plan_budget, cwd)
            for budget in served:
                probes[budget].append(done)
                advice = measure_advice(m, out, budget, seeds, cwd) if "error" not in done else {
                    "verdict": "probe failed", "weight_decay": None, "error": done["error"]}
                advices[budget].append(advice)
                if i == 0 and advice.get("weight_decay") is not None:  # time one budget run right after
                    measure_budget_run(m, model, advice["weight_decay"], budget, work, cwd, args.timing_steps)
    truth = load_truth(task, budgets) if args.score else None
    for budget in budgets:
        if not probes[budget]:
            continue
        first, run = probes[budget][0], m.get(f"budget_run/{budget}")
        run_loop = float(run["seconds"]) * run["scale"] if run and run.get("seconds") else None
        cost = ProbeCost(int(first.get("steps") or 0), float(first.get("wall") or 0.0), budget,
                         run["budget_wall"] if run else None, first.get("training_seconds"), run_loop)
        lam = advices[budget][0].get("weight_decay")
        spot = []
        if lam is not None and budget == min(task.budgets):
            if args.spot_check:
                spot = spot_check(m, model, lam, budget, work, cwd)
            else:  # a spot check measured by an earlier run is still reported
                cached = [m.get(f"spot/{budget}/{lam:.6g}/{seed}") for seed in SPOT_SEEDS]
                spot = [c["peak_metric"] for c in cached] if all(cached) else []
        row = score_case(truth, budget, tuple(task.budgets), advices[budget], cost, spot)
        row.update(task=task.name, probe_steps_all=[p.get("steps") for p in probes[budget]],
                   probe_resumed=bool(first.get("resumed")),
                   errors=[a["error"] for a in advices[budget] if a.get("error")])
        rows.append(row)
    for schedule in [s for s in args.schedules if s in task.schedules]:
        rows += schedule_rows(task, schedule, budgets, args, m, cwd, work, probes, aware)
    return rows


def schedule_rows(task: Any, schedule: str, budgets: list[int], args: argparse.Namespace, m: Measured,
                  cwd: Path, work: Path, probes: dict[int, list[dict[str, Any]]], aware: bool) -> list[dict[str, Any]]:
    """The same probes, `recommend --lr-schedule S`, scored on the task's ground truth under S. The
    cost is the constant-lr case's (a scheduled run trains the same steps)."""
    truth, why = complete_truth(task, budgets, schedule) if args.score else (None, "")
    if args.score and truth is None:
        log(f"  {task.name} ({schedule}): no finished ground truth ({why})")
    rows = []
    for budget in budgets:
        done = [p for p in probes[budget] if "error" not in p]
        if not done:
            continue
        advices = []
        for seeds in SEED_SETS[: args.seed_sets][: len(done)]:
            out = work / (f"T{budget}" if aware else "any") / f"seeds{seeds_key(seeds)}"
            advices.append(measure_advice(m, out, budget, seeds, cwd, schedule))
        run = m.get(f"budget_run/{budget}")
        cost = ProbeCost(int(done[0].get("steps") or 0), float(done[0].get("wall") or 0.0), budget,
                         run["budget_wall"] if run else None)
        row = score_case(truth, budget, tuple(task.budgets), advices, cost)
        row.update(task=f"{task.name} ({schedule})", schedule=schedule, probe_steps_all=[p.get("steps") for p in done],
                   probe_resumed=False, errors=[a["error"] for a in advices if a.get("error")])
        rows.append(row)
    return rows


def load_truth(task: Any, budgets: list[int]) -> Any | None:
    """The task's ground truth when its grid is finished at every budget asked (else None)."""
    truth, why = complete_truth(task, budgets)
    if truth is None:
        log(f"  {task.name}: no finished ground truth yet ({why})")
    return truth


def pick_budgets(task: Any, spec: str) -> list[int]:
    short, long = task.budgets
    named = {"short": short, "long": long}
    return [named[s] if s in named else int(s) for s in spec.split(",")]


def git_commit() -> str:
    done = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=ROOT)
    return done.stdout.strip()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--work", type=Path, default=Path("runs/advice_suite"), help="cache of probes and runs")
    parser.add_argument("--tasks", help="comma-separated suite task names [default: all; --quick: QUICK_TASKS]")
    parser.add_argument("--budgets", default=None, help="short, long or steps, comma-separated [short,long]")
    parser.add_argument("--seed-sets", type=int, default=3, help="disjoint probe-seed sets (1-3) [3]")
    parser.add_argument("--spot-check", action="store_true", help="3 real seeds at the advised lam (short budget)")
    parser.add_argument("--timing-steps", type=int, default=0,
                        help="train at most this many steps of the timing budget run, scale its wall time [0: all]")
    parser.add_argument("--cached-only", action="store_true",
                        help="report what --work holds; run no new probe (budget runs and advice still run)")
    parser.add_argument("--no-score", dest="score", action="store_false", help="measure only (no ground truth)")
    parser.add_argument("--code-label", default="", help="what code the CLI runs (recorded in --json)")
    parser.add_argument("--json", type=Path, help="write every case as JSON here")
    parser.add_argument("--quick", action="store_true", help="the quick tasks, short budget, 2 seed sets")
    parser.add_argument("--schedules", default="", help="also `recommend --lr-schedule S` on the same probes, "
                        "scored on the schedule ground truth: cosine,linear (tasks that have it)")
    args = parser.parse_args()
    args.schedules = [s for s in args.schedules.split(",") if s and s != "constant"]
    from benchmarks.suite import QUICK_TASKS, TASKS

    names = args.tasks.split(",") if args.tasks else list(QUICK_TASKS if args.quick else TASKS)
    if args.quick:
        args.budgets, args.seed_sets = args.budgets or "short", min(args.seed_sets, 2)
    unknown = [n for n in names if n not in TASKS]
    if unknown:
        sys.exit(f"unknown tasks {unknown}; the suite has {sorted(TASKS)}")
    args.work.mkdir(parents=True, exist_ok=True)
    aware = cli_runs.probe_supports_budget(args.work.resolve())
    origin = cli_runs.code_origin(args.work.resolve())
    log(f"l2advisor from {origin['file']}; probe --budget {'supported' if aware else 'not supported'}")
    rows = []
    for name in names:
        task = TASKS[name]
        log(f"{name}: budgets {task.budgets}")
        rows += run_task(task, pick_budgets(task, args.budgets or "short,long"), args, aware)
    print(table(rows))
    print()
    line = summary(rows)
    print(line)
    if args.json:
        args.json.write_text(json.dumps({"repo_commit": git_commit(), "code": origin, "code_label": args.code_label,
                                         "probe_budget_flag": aware, "seed_sets": SEED_SETS[: args.seed_sets],
                                         "timing_steps": args.timing_steps, "cases": rows,
                                         "summary": line}, indent=1, default=float))


if __name__ == "__main__":
    main()
