"""`l2advisor probe --plan`: the probes a command would train and what they would cost, before any.

A probe of a large model on a small machine can take hours; `--plan` says so first. It lists the
planned probes (lam, lr*lam, seed, steps, evaluations), and prices them with the model's steps and a
validation pass timed on this machine (`timed_step`, one model through `train()`). One by one, the probes would take about
(their steps) x (a step) + (their evaluations) x (a pass); stacked, as they train, less (the
replicas share each step's overhead): plan_stacked.py times one short run of the largest stack. With `--budget`, the
budget run is priced the same way (evaluated every budget/100 steps, as `train` does). The run
directory is read as `probe` would find it (plan_directory.py): probes finished there are marked
and left out of the price, and a directory `probe` would refuse is said. Nothing is written: no
run directory, no results.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

from l2advisor.cli.app import err, out
from l2advisor.cli.json_out import print_json
from l2advisor.cli.plan_directory import plan_directory
from l2advisor.cli.plan_stacked import StackedPrice, stacked_price, step_and_pass
from l2advisor.cli.tables import Column, fitted_table
from l2advisor.logged_progress import clock
from l2advisor.training.stack_speed import short_seconds

TIMED_STEPS = 10  # the first timed run: short on a slow model
TIMED_SECONDS = 0.5  # then a run whose steps take about this, so a fast model's steps outweigh the clock's noise
MOST_TIMED_STEPS = 2_000


def timed_step(task: Any, base: Any) -> tuple[float, float]:
    """(seconds per training step, seconds per validation pass) of one model on this machine, at a
    small lam, through `train()` itself (plan_stacked.step_and_pass reads its records): a run of
    TIMED_STEPS steps, then, for a fast model, one whose steps take about TIMED_SECONDS."""
    step, evaluation = _timed_run(task, base, TIMED_STEPS)
    steps = min(MOST_TIMED_STEPS, round(TIMED_SECONDS / max(step, 1e-6)))
    return _timed_run(task, base, steps) if steps > TIMED_STEPS else (step, evaluation)


def _timed_run(task: Any, base: Any, steps: int) -> tuple[float, float]:
    from l2advisor.errors import RunFailed
    from l2advisor.training.train import train

    config = dataclasses.replace(base, max_steps=steps + 1, eval_every=steps, eval_per_decade=0, seed=0)
    result = train(task, config, 1e-4)
    if result.status != "finished":  # the user's model or data, said as `train` says it
        raise RunFailed(f"The model's timed steps failed: {result.message or result.status}")
    return step_and_pass(result.records, steps)


def plan_rows(runs: list[Any], reused: frozenset[str] = frozenset()) -> list[dict[str, Any]]:
    """One row per planned probe: lam, lr, lr*lam, seed, steps, evaluations (step 0's included)
    and whether it is already finished in the run directory (`reused`: run ids)."""
    from l2advisor.training.eval_schedule import count_evals

    return [{"lam": r.lam, "lr": r.lr, "lr_lam": r.lr * r.lam, "seed": r.seed, "steps": r.max_steps,
             "evaluations": count_evals(r.max_steps, r.eval_every, r.eval_per_decade),
             "reused": r.run_id in reused} for r in runs]


def estimates(rows: list[dict[str, Any]], step_s: float, eval_s: float, budget_steps: int | None) -> dict[str, Any]:
    """The probes' steps and evaluations, their seconds one by one, and the budget run's seconds
    (evaluated every budget/EVALS_PER_RUN steps, as `train` evaluates it)."""
    from l2advisor.cli.train import EVALS_PER_RUN
    from l2advisor.training.eval_schedule import count_evals

    steps, evals = sum(r["steps"] for r in rows), sum(r["evaluations"] for r in rows)
    found: dict[str, Any] = {"probe_steps": steps, "probe_evaluations": evals, "seeds": len({r["seed"] for r in rows}),
                             "step_seconds": step_s,
                             "evaluation_seconds": eval_s, "probes_one_by_one_seconds": steps * step_s + evals * eval_s,
                             "budget_steps": budget_steps, "budget_run_seconds": None}
    if budget_steps is not None:
        every = max(1, budget_steps // EVALS_PER_RUN)
        found["budget_run_seconds"] = budget_steps * step_s + count_evals(budget_steps, every) * eval_s
    return found


def show_plan(spec: Any, task: Any, settings: Any, plan: Any, device: str, as_json: bool,
              budget_text: str | None, replicas: int, run_dir: Path, force: bool, workers: int = 0) -> None:
    """Print the planned probes and their price (stdout: the table or JSON; stderr: the sizing line
    `probe` prints before training, what `run_dir` holds, then the estimate). `plan`: the budget's
    `BudgetPlan` or None; `replicas`: the most probes in one stack (1: one by one); `workers`: the
    --jobs the run would use, which the estimate (one process's) does not price."""

    from rich.markup import escape

    from l2advisor.probing.budget import sizing_note
    from l2advisor.probing.settings import prepare_probes

    runs, base, header = prepare_probes(spec, task, settings, device, baseline=False)  # nothing is written
    sizing, warns = sizing_note(plan, runs, settings, len(task.val), spec.batch_size, budget_text)
    err.print(f"[yellow]{escape(sizing)}[/]" if warns else escape(sizing), highlight=False)
    where = plan_directory(run_dir, header, runs, force)
    if (said := where.words(len(runs))) is not None:
        err.print(f"[yellow]{escape(said)}[/]" if where.refused else escape(said), highlight=False)
    ended = where.ended
    rows = plan_rows(runs, frozenset(ended))
    found = _price(spec, task, base, [r for r in runs if r.run_id not in ended],
                   [r for r in rows if not r["reused"]], device, replicas, settings.budget_steps)
    found["seeds"] = len({r["seed"] for r in rows})  # planned, not only those left to train
    found["follow_up_steps"] = sum(r["steps"] for r in rows if r["seed"] == rows[0]["seed"]) if rows else 0
    found["cost_of_budget_run"] = budget_ratios(found)
    if as_json:
        print_json({"probes": rows, **found, "directory": where.to_dict()})
    else:
        several = len({r["lr"] for r in rows}) > 1  # which rows are which lr (the summary shows it so too)
        columns = [Column("lam"), *([Column("lr")] if several else []), Column("lr*lam"), Column("seed"),
                   Column("steps"), Column("evaluations")]
        table = [[f"{r['lam']:g}", *([f"{r['lr']:.4g}"] if several else []), f"{r['lr_lam']:.3g}", str(r["seed"]),
                  f"{r['steps']:,}", str(r["evaluations"])] for r in rows]
        if ended:
            columns.append(Column("in the directory"))
            table = [[*line, ended.get(run.run_id, "to train")] for line, run in zip(table, runs, strict=True)]
        out.print(fitted_table(columns, table, out, title="Planned probes"))
    err.print(_estimate_words(found, len(rows) - len(ended)) if found["probe_steps"] else
              "Nothing was written.", highlight=False)
    if workers:
        err.print(f"These seconds are for one process: --jobs {workers} is not priced (each worker starts its own "
                  "Python, torch and model file, a second or more, then trains its share).", highlight=False)


def _price(spec: Any, task: Any, base: Any, todo: list[Any], rows: list[dict[str, Any]], device: str,
           replicas: int, budget_steps: int | None) -> dict[str, Any]:
    """`estimates` of the probes left to train, one by one and stacked, timed on this machine;
    nothing timed when none is left (every priced figure then 0 or None)."""
    if not todo:
        return {**estimates([], 0.0, 0.0, None), "step_seconds": None, "evaluation_seconds": None,
                "budget_steps": budget_steps, "stacked": None}
    err.print(f"Timing {spec.path.name} on {device}: its steps and validation passes, alone and stacked (a second "
              "or two, or a few dozen steps of a slow model)...", highlight=False)
    step_s, eval_s = timed_step(task, base)
    found = estimates(rows, step_s, eval_s, budget_steps)
    stacked = stacked_price(task, base, todo, replicas, step_s, found["probe_evaluations"])
    found["stacked"] = dataclasses.asdict(stacked) if isinstance(stacked, StackedPrice) else {"not_stacked": stacked}
    return found


def budget_ratios(found: dict[str, Any]) -> dict[str, float | None] | None:
    """The probes left to train as fractions of the budget run's training, one by one and stacked
    (None where not priced: no budget, nothing to train, or a stack that would not pay)."""
    if found.get("budget_run_seconds") is None or not found["probe_steps"]:
        return None
    run = max(found["budget_run_seconds"], 1e-9)
    stacked = found["stacked"]["probes_seconds"] / run if _stack_pays(found) else None
    return {"one_by_one": found["probes_one_by_one_seconds"] / run, "stacked": stacked}


def _estimate_words(found: dict[str, Any], probes: int) -> str:
    line = (f"{probes} probe{'' if probes == 1 else 's'}, {found['probe_steps']:,} steps and "
            f"{found['probe_evaluations']:,} evaluations: one by one "
            f"about {_clock(found['probes_one_by_one_seconds'])} on this machine (a step {short_seconds(found['step_seconds'])}, "
            f"a validation pass {_pass_words(found['evaluation_seconds'])}); {_stacked_words(found)}.")
    if found["seeds"] >= 2:  # one seed gets no follow-up (probing/follow_up.py)
        line += (f" When {found['seeds']} seeds cannot decide the verdict, probe adds one more seed at every lam: "
                 f"{_follow_up(found)}.")
    if (ratios := found["cost_of_budget_run"]) is not None:
        ratio = f"{ratios['one_by_one']:.2g} of it one by one"
        if ratios["stacked"] is not None:
            ratio += f", {ratios['stacked']:.2g} stacked"
        line += (f" The budget run's training ({found['budget_steps']:,} steps): about {_clock(found['budget_run_seconds'])}, so "
                 f"the probes cost about {ratio}. Nothing was written; drop --plan to train them.")
    else:
        line += " Nothing was written; drop --plan to train them."
    return line


def _follow_up(found: dict[str, Any]) -> str:
    """What one more seed would add: a seed's share of the probes, as they would train."""
    seconds = found["stacked"]["probes_seconds"] if _stack_pays(found) else found["probes_one_by_one_seconds"]
    share = found["follow_up_steps"] / max(found["probe_steps"], 1)  # at the price of the probes left
    return f"{found['follow_up_steps']:,} more steps, about {_clock(seconds * share)}"


def _stack_pays(found: dict[str, Any]) -> bool:
    """Whether the probes would train stacked: a stack whose step is not dearer than the probes'
    margin allows (training/stack_speed.py) over one model's steps."""
    from l2advisor.training.stack_speed import DEARER

    stacked = found["stacked"]
    return "not_stacked" not in stacked and stacked["step_seconds"] <= DEARER * stacked["k"] * found["step_seconds"]


def _stacked_words(found: dict[str, Any]) -> str:
    stacked = found["stacked"]
    if "not_stacked" in stacked:
        return f"they train one by one: {stacked['not_stacked']}"
    words = (f"stacked ({stacked['form']}, up to {stacked['k']} at once: a step of {stacked['k']} "
             f"{short_seconds(stacked['step_seconds'])}, a pass of them {_pass_words(stacked['evaluation_seconds'])}), "
             f"about {_clock(stacked['probes_seconds'])}")
    if not _stack_pays(found):  # a large model's stack on a CPU
        words += (", more than one by one: the probes time a stacked step before the first and then train one "
                  "after another (--no-batched skips the timing)")
    elif stacked["probes_seconds"] > found["probes_one_by_one_seconds"]:
        words += ", a little more than one by one: --no-batched trains them one after another"
    return words


def _clock(seconds: float) -> str:
    """Seconds below a minute, else h:mm:ss (logged_progress.clock)."""
    if seconds < 60:
        return f"{seconds:.0f} s" if seconds >= 10 else f"{seconds:.1f} s"
    return clock(seconds)


def _pass_words(seconds: float) -> str:
    """A validation pass's time; one lost in the timing's noise (the difference of two timed spans
    came out at or below 0) is said so, not "0 ms"."""
    return short_seconds(seconds) if seconds > 0 else "too short to time beside a step"
