"""`l2advisor probe --plan`: the probes a command would train and what they would cost, before any.

A probe of a large model on a small machine can take hours; `--plan` says so first. It lists the
planned probes (lam, lr*lam, seed, steps, evaluations), and prices them with two short timed runs
of the model on this machine: seconds per training step and per validation pass (`timed_step`). One by one, the probes would take about
(their steps) x (a step) + (their evaluations) x (a pass); stacked, they usually take less (the
replicas share each step's overhead), so that figure is an upper bound. With `--budget`, the
budget run is priced the same way (evaluated every budget/100 steps, as `train` does). Nothing
is written: no run directory, no results.
"""

from __future__ import annotations

import dataclasses
import datetime
from typing import Any

from l2advisor.cli.app import err, out
from l2advisor.cli.tables import Column, fitted_table

TIMED_STEPS = 10  # the timed runs take 10 and 20 steps: past the first step's warm-up, short on a slow model
EVALS_PER_RUN = 100  # as `l2advisor train` evaluates a budget run: every budget/100 steps


def timed_step(task: Any, base: Any) -> tuple[float, float]:
    """(seconds per training step, seconds per validation pass) of one model on this machine.
    Two runs at a small lam, of S and 2S steps (S = TIMED_STEPS), each evaluated at its start
    and its end: from the first evaluation to the last, the first run takes S steps and a pass,
    the second 2S steps and a pass, so their difference is S steps (start-up and warm-up cancel)."""
    from l2advisor.errors import RunFailed
    from l2advisor.training.train import train

    spans = []
    for steps in (TIMED_STEPS, 2 * TIMED_STEPS):
        config = dataclasses.replace(base, max_steps=steps, eval_every=steps, eval_per_decade=0, seed=0)
        result = train(task, config, 1e-4)
        if result.status != "finished" or len(result.records) < 2:
            raise RunFailed(f"The model's timed run ended {result.status} at step {result.steps}"
                            + (f": {result.message}" if result.message else "."))
        spans.append(result.records[-1]["seconds"] - result.records[0]["seconds"])  # each taken after its evaluation
    step = max(spans[1] - spans[0], 0.0) / TIMED_STEPS
    return step, max(spans[0] - TIMED_STEPS * step, 0.0)


def plan_rows(runs: list[Any]) -> list[dict[str, Any]]:
    """One row per planned probe: lam, lr, lr*lam, seed, steps and evaluations (step 0's included)."""
    from l2advisor.training.eval_schedule import count_evals

    return [{"lam": r.lam, "lr": r.lr, "lr_lam": r.lr * r.lam, "seed": r.seed, "steps": r.max_steps,
             "evaluations": count_evals(r.max_steps, r.eval_every, r.eval_per_decade)} for r in runs]


def estimates(rows: list[dict[str, Any]], step_s: float, eval_s: float, budget_steps: int | None) -> dict[str, Any]:
    """The probes' steps and evaluations, their seconds one by one, and the budget run's seconds."""
    from l2advisor.training.eval_schedule import count_evals

    steps, evals = sum(r["steps"] for r in rows), sum(r["evaluations"] for r in rows)
    found: dict[str, Any] = {"probe_steps": steps, "probe_evaluations": evals, "step_seconds": step_s,
                             "evaluation_seconds": eval_s, "probes_one_by_one_seconds": steps * step_s + evals * eval_s,
                             "budget_steps": budget_steps, "budget_run_seconds": None}
    if budget_steps is not None:
        every = max(1, budget_steps // EVALS_PER_RUN)
        found["budget_run_seconds"] = budget_steps * step_s + count_evals(budget_steps, every) * eval_s
    return found


def show_plan(spec: Any, task: Any, settings: Any, device: str, as_json: bool) -> None:
    """Print the planned probes and their price (stdout: the table or JSON; stderr: the estimate)."""
    import json

    from l2advisor.probing.settings import prepare_probes
    from l2advisor.runs.store import json_safe

    runs, base, _ = prepare_probes(spec, task, settings, device)
    err.print(f"Timing {spec.path.name} on {device}: two runs of {TIMED_STEPS} and {2 * TIMED_STEPS} steps...",
              highlight=False)
    step_s, eval_s = timed_step(task, base)
    rows = plan_rows(runs)
    found = estimates(rows, step_s, eval_s, settings.budget_steps)
    if as_json:
        out.print_json(json.dumps(json_safe({"probes": rows, **found})))
    else:
        columns = [Column("lam"), Column("lr*lam"), Column("seed"), Column("steps"), Column("evaluations")]
        table = [[f"{r['lam']:g}", f"{r['lr_lam']:g}", str(r["seed"]), f"{r['steps']:,}", str(r["evaluations"])]
                 for r in rows]
        out.print(fitted_table(columns, table, out, title="Planned probes"))
    err.print(_estimate_words(found, len(rows)), highlight=False)


def _estimate_words(found: dict[str, Any], probes: int) -> str:
    line = (f"{probes} probes, {found['probe_steps']:,} steps and {found['probe_evaluations']:,} evaluations: one by one "
            f"about {_clock(found['probes_one_by_one_seconds'])} on this machine (a step {found['step_seconds'] * 1e3:.3g} "
            f"ms, a validation pass {found['evaluation_seconds'] * 1e3:.3g} ms); stacked (when the model allows it) "
            "usually less. When two seeds cannot decide the verdict, probe adds one more seed at every lam.")
    if found["budget_run_seconds"] is not None:
        ratio = found["probes_one_by_one_seconds"] / max(found["budget_run_seconds"], 1e-9)
        line += (f" The budget run's training ({found['budget_steps']:,} steps): about {_clock(found['budget_run_seconds'])}, so "
                 f"the probes one by one cost about {ratio:.2g} of it. Nothing was written; drop --plan to train them.")
    else:
        line += " Nothing was written; drop --plan to train them."
    return line


def _clock(seconds: float) -> str:
    """h:mm:ss, or seconds below a minute."""
    if seconds < 60:
        return f"{seconds:.0f} s" if seconds >= 10 else f"{seconds:.1f} s"
    return str(datetime.timedelta(seconds=round(seconds)))
