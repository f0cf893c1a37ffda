"""`l2advisor tune FILE`: an Optuna study over lam, with progress and a trial table.

The option types and helpers here are shared with `l2advisor compare` (cli/compare.py).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from l2advisor.cli.app import (
    Threads,
    app,
    catch_interrupt,
    err,
    handle_errors,
    load_task,
    out,
    say_notes,
    use_threads_for,
)
from l2advisor.cli.budget import UNIT_HELP
from l2advisor.cli.decay_checks import say_strong_decay
from l2advisor.cli.json_out import print_json
from l2advisor.cli.tables import Column, fitted_table, step_bars
from l2advisor.errors import InputError
from l2advisor.tuning.accounting import best_so_far

if TYPE_CHECKING:  # torch and optuna: imported inside the commands, so that `--help` never loads them
    from l2advisor.training.train import Record, TrainConfig
    from l2advisor.tuning.baseline import StudySettings, TrialOutcome

Budget = Annotated[float, typer.Option("--budget", help="Training budget of every run (each trial, each seed), in "
                                                        "--unit (steps by default).")]
Unit = Annotated[str, typer.Option(help=UNIT_HELP)]
Trials = Annotated[int, typer.Option("--trials", help="Optuna trials the study ends with (COMPLETE + PRUNED, all workers).")]
Out = Annotated[Path | None, typer.Option("--out", help="Run directory (default: runs/<file name>).")]
Storage = Annotated[str | None, typer.Option("--storage", help="Optuna storage: an RDB URL (sqlite:///f.db, postgresql://...) "
                                             "or journal:PATH (default: sqlite file in the run directory).")]
Pruner = Annotated[str, typer.Option(help="none, median or hyperband (on the running peak, reported at 20 points of "
                                           "the budget; where a whole run takes a second or so, the pruner's storage "
                                           "round trips can cost more than pruning saves).")]
LamLow = Annotated[float, typer.Option(help="Smallest lam Optuna searches (log-uniform).")]
LamHigh = Annotated[float, typer.Option(help="Largest lam Optuna searches.")]
SamplerSeed = Annotated[int, typer.Option(help="Seed of the TPE sampler.")]
EvalEvery = Annotated[int | None, typer.Option(help="Steps between evaluations (default: budget/100).")]
Device = Annotated[str, typer.Option(help="auto, cpu, cuda or cuda:N.")]
Lr = Annotated[float | None, typer.Option(help="Override the file's learning rate.")]
BatchSize = Annotated[int | None, typer.Option(help="Override the file's batch size.")]
Momentum = Annotated[float | None, typer.Option(help="Override the file's momentum.")]
Optimizer = Annotated[str | None, typer.Option(help="Override the file's optimizer: sgd or adamw.")]


class Bars:
    """An overall bar (steps, with ETA) and a bar for the run in progress, on stderr."""

    def __init__(self, total: int, title: str) -> None:
        self.bars = step_bars()
        self.overall = self.bars.add_task(title, total=total, info="")
        self.current: Any = None
        self.base = 0  # overall steps before the current run
        self.planned = 0

    def begin(self, label: str, steps: int) -> None:
        if self.current is not None:
            self.bars.remove_task(self.current)
        self.current = self.bars.add_task(label, total=steps, info="")
        self.base, self.planned = int(self.bars.tasks[self.overall].completed), steps

    def update(self, record: Record) -> None:
        self.bars.update(self.current, completed=record["step"], info=f"val {record['val_metric']:.4f}")
        self.bars.update(self.overall, completed=self.base + record["step"])

    def finish(self, label: str, status: str, steps: int) -> None:
        # a run that stopped early skips the rest of its plan: the overall ETA drops with it
        self.bars.update(self.overall, completed=self.base + self.planned)
        self.bars.update(self.current, info=f"{status} at step {steps}")

    def note(self, message: str) -> None:
        self.bars.console.print(f"[yellow]{message}[/]")


class TuneBars(Bars):
    """Bars for `tune`: the overall bar says trial k of K and the best value so far. It counts
    steps trained: a trial pruned (or stopped) early takes the steps it skipped off the total, so
    the ETA is not read from steps that never ran."""

    def __init__(self, trials: int, budget: int) -> None:
        super().__init__(trials * budget, f"trial - of {trials}")
        self.trials, self.budget = trials, budget
        self.skipped = 0  # steps of this command's trials that stopped before the budget

    def begin(self, number: int, lam: float, counted: int, total: int) -> None:  # type: ignore[override]
        super().begin(f"trial {number}: lam={lam:.3g}", self.budget)
        self.base = counted * self.budget - self.skipped
        self.bars.update(self.overall, description=f"trial {counted + 1} of {total}", completed=self.base)

    def done(self, counted: int) -> None:
        """The study holds its trials (this run's, or a finished study found): the overall bar full."""
        total = self.bars.tasks[self.overall].total or 0
        self.bars.update(self.overall, description=f"trial {min(counted, self.trials)} of {self.trials}",
                         completed=total, info="done")

    def finish(self, outcome: TrialOutcome, best: float | None, counted: int) -> None:  # type: ignore[override]
        if outcome.state in ("COMPLETE", "PRUNED"):  # counted; a failed or lost trial is run again in full
            self.skipped += max(0, self.budget - outcome.steps)
        self.bars.update(self.current, info=f"{outcome.state.lower()} at step {outcome.steps}")
        best_text = f"best so far {best:.4f}" if best is not None else ""
        self.bars.update(self.overall, total=self.trials * self.budget - self.skipped,
                         completed=counted * self.budget - self.skipped, info=best_text)


def spec_and_config(model_file: Path, budget: float, unit: str, eval_every: int | None, seed: int, device: str,
                     overrides: dict[str, Any], threads: int | None,
                     lam_high: float | None = None) -> tuple[Any, Any, TrainConfig]:
    """The model file, its task and the training config of every run; config.max_steps is the
    budget in steps (--unit epochs converted with the training set's size). A `lam_high` (the
    search's top) whose decay takes half the weights a step is said before the data loads."""
    from l2advisor.cli.budget import budget_steps, check_run_budget
    from l2advisor.training.train import TrainConfig, resolve_device

    check_run_budget(budget, unit)
    from l2advisor.modelfile.spec import load_spec

    spec = load_spec(model_file, overrides)
    say_notes(spec)
    say_strong_decay(spec, lam_high, "--lam-high")
    torch_device = resolve_device(device)
    task = load_task(spec)
    steps = budget_steps(budget, unit, task.train_size, spec.batch_size)
    every = eval_every if eval_every is not None else max(1, steps // 100)
    if not 1 <= every <= steps:  # beyond the budget only the last step would count
        raise InputError(f"--eval-every must be a number of steps in [1, {steps}] (the budget), got {every}.")
    err.print(f"[dim]Threads: {use_threads_for(task, threads)}[/]", highlight=False)
    config = TrainConfig(lr=spec.lr, batch_size=spec.batch_size, max_steps=steps, eval_every=every, seed=seed,
                         momentum=spec.momentum, optimizer=spec.optimizer, device=str(torch_device))
    return spec, task, config


def study_settings(trials: int, lam_low: float, lam_high: float, include_zero: bool, pruner: str,
                    sampler_seed: int) -> StudySettings:
    from l2advisor.tuning.baseline import StudySettings
    from l2advisor.tuning.pruning import check_pruner

    check_pruner(pruner)  # before anything trains: compare trains its probes and arms first
    if trials < 1:
        raise InputError(f"--trials must be at least 1, got {trials}.")
    if not (0 < lam_low < lam_high and math.isfinite(lam_high)):
        raise InputError(f"--lam-low and --lam-high must satisfy 0 < low < high, got {lam_low:g} and {lam_high:g}.")
    return StudySettings(trials=trials, lam_low=lam_low, lam_high=lam_high, include_zero=include_zero,
                         pruner=pruner, sampler_seed=sampler_seed)


def fmt_num(value: Any, fmt: str = ".4f") -> str:
    return "-" if value is None or (isinstance(value, float) and not math.isfinite(value)) else format(value, fmt)


def trials_table(rows: list[dict[str, Any]], metric: str, title: str, console: Console = out) -> Table:
    """One row per trial; on a narrow console the seconds give way rather than a number being cut."""
    columns = [Column("trial"), Column("lam"), Column("state", justify="left"), Column(f"peak\n{metric[:10]}"),
               Column("best\nso far"), Column("steps"), Column("sec", drop=1), Column("note", "left", wrap=True)]
    best = best_so_far([r["value"] if r["state"] == "COMPLETE" else None for r in rows])
    cells = []
    for row, so_far in zip(rows, best, strict=True):
        note = "surplus" if row["surplus"] else (f"retry of {row['retry_of']}" if row["retry_of"] is not None else "")
        cells.append([str(row["number"]), fmt_num(row["lam"], ".3g"), row["state"], fmt_num(row["value"]),
                      fmt_num(so_far), fmt_num(row["steps"], "d"), fmt_num(row["seconds"], ".1f"), note])
    return fitted_table(columns, cells, console, title=title)


@app.command()
@handle_errors
def tune(
    model_file: Annotated[Path, typer.Argument(help="Your model file (build_model, build_data, optional settings).")],
    budget: Budget,
    trials: Trials,
    unit: Unit = "steps",
    storage: Storage = None,
    study_name: Annotated[str | None, typer.Option(help="Study name (default: <file>-T<budget>-seed<seed>).")] = None,
    pruner: Pruner = "none",
    seed: Annotated[int, typer.Option(help="Training seed of every trial (initial weights and data order).")] = 0,
    sampler_seed: SamplerSeed = 0,
    include_zero: Annotated[bool, typer.Option(help="Also try lam = 0 (one queued trial, counted among the K).")] = False,
    lam_low: LamLow = 1e-6,
    lam_high: LamHigh = 1e-1,
    eval_every: EvalEvery = None,
    out_dir: Out = None,
    lr: Lr = None,
    batch_size: BatchSize = None,
    momentum: Momentum = None,
    optimizer: Optimizer = None,
    device: Device = "auto",
    as_json: Annotated[bool, typer.Option("--json", help="Print the trials as JSON on stdout.")] = False,
    threads: Threads = None,
    force: Annotated[bool, typer.Option(help="Delete the study of this name in the storage and start it over (its "
                                             "trials are lost, other workers' included; other studies stay).")] = False,
) -> None:
    """Search lam with Optuna (TPE); each trial trains the full budget.

    The objective is the peak validation metric. Re-running resumes the study; several processes (machines) sharing one --storage work on one study, and together stop at --trials trials.
    """
    from l2advisor.cli.budget import refuse_unusable_out
    from l2advisor.tuning.baseline import counted, run_study, study_objective, trial_rows
    from l2advisor.tuning.storage import (
        default_storage,
        delete_study,
        in_memory,
        masked_url,
        open_storage,
        open_study,
        pruner_note,
        sampler_note,
    )

    if storage is None:  # the study's file goes in --out: a file there is --out's mistake, not the storage's
        refuse_unusable_out(out_dir)
    settings = study_settings(trials, lam_low, lam_high, include_zero, pruner, sampler_seed)  # before the model file
    spec, task, config = spec_and_config(model_file, budget, unit, eval_every, seed, device,
                                          {"lr": lr, "batch_size": batch_size, "momentum": momentum,
                                           "optimizer": optimizer}, threads, lam_high)
    given_budget, budget = budget, config.max_steps  # in steps from here on (the study's name, the bars)
    run_dir = out_dir or Path("runs") / spec.name
    url = storage or default_storage(run_dir)
    name = study_name or f"{spec.name}-T{budget}-seed{seed}"
    opened = open_storage(url)
    if force and delete_study(opened, name):
        err.print(f"[yellow]--force: deleted study {name!r} in {masked_url(url)}; starting it over.[/]", highlight=False)
    study = open_study(opened, name, settings, study_objective(task, config, settings), budget)
    for note in (pruner_note(study, pruner, will_run=counted(study) < trials),
                 sampler_note(study, sampler_seed, will_run=counted(study) < trials)):
        if note is not None:
            err.print(f"[yellow]{note}[/]", highlight=False)
    if in_memory(url):
        err.print(f"[yellow]{url} keeps the study in this process's memory: a rerun starts it over and other "
                  "processes cannot join it (sqlite:///FILE.db or journal:PATH keep it).[/]", highlight=False)
    err.print(f"Tuning lam of {spec.path.name} on {config.device}: study {name!r} in {masked_url(url)}, "
              f"{trials} trials of {budget} steps, lam in [{lam_low:g}, {lam_high:g}]"
              + (" and 0" if include_zero else "") + f", pruner {pruner}")
    bars = TuneBars(trials, budget)
    with bars.bars, catch_interrupt() as interrupted:
        run_study(task, config, study, settings, bars, interrupted)
        if not interrupted() and counted(study) >= trials:  # a study found complete: the bar says so, not "0%"
            bars.done(counted(study))
    rows = trial_rows(study)
    complete = [r for r in rows if r["state"] == "COMPLETE" and r["value"] is not None]
    best = max(complete, key=lambda r: r["value"]) if complete else None
    if as_json:
        slim = [{k: v for k, v in r.items() if k != "curve"} for r in rows]
        print_json({
            "study_name": name, "storage": masked_url(url), "trials": slim, "sampler": study.sampler.describe(),
            "budget_steps": budget, "budget_as_given": {"value": given_budget, "unit": unit},
            "best": None if best is None else {**{k: best[k] for k in ("number", "lam", "value")},
                                               "tied": [r["number"] for r in tied_with(complete, best)]}})
    else:
        out.print(trials_table(rows, spec.metric_name, f"Optuna study {name!r}"))
    if interrupted():
        err.print("[yellow]Interrupted: the trial in progress was marked failed and its lam queued again. "
                  "Run the same command to resume.[/]")
        raise typer.Exit(130)
    if best is not None:
        done = sum(r["state"] in ("COMPLETE", "PRUNED") for r in rows)
        count = f"{done} of {trials} trials" if done <= trials else \
            f"{done} trials (the study already had more than --trials {trials}: none added)"
        (err if as_json else out).print(  # the answer is data (`tune ... > out.txt` lost it); stdout is the JSON's
            f"Best: lam = {best['lam']:.4g} (trial {best['number']}, peak {spec.metric_name} {best['value']:.4f}); "
            f"{count}{tie_words(tied_with(complete, best), spec.metric_name)}.")


def tied_with(complete: list[dict[str, Any]], best: dict[str, Any]) -> list[dict[str, Any]]:
    """The complete trials whose peak equals the best's (the best among them): a tie goes to the
    first trial drawn, which says nothing of lam."""
    return [r for r in complete if math.isclose(r["value"], best["value"], rel_tol=0.0, abs_tol=1e-12)]


def tie_words(tied: list[dict[str, Any]], metric: str) -> str:
    """", tied: ..." where several trials reached the best peak (a reviewer's 6 of 8 at 0.9625, over
    two decades of lam, named the first one drawn "Best")."""
    if len(tied) < 2:
        return ""
    lams = [r["lam"] for r in tied]
    return (f"; {len(tied)} trials tie at that peak {metric} (lam {min(lams):.3g} .. {max(lams):.3g}): the first "
            "drawn is named, and single runs at one seed say nothing between them")
