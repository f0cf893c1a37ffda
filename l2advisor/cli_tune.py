"""`l2advisor tune FILE` (an Optuna study over lam) and `l2advisor compare FILE` (every arm)."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from l2advisor.accounting import best_so_far, cumulative, optuna_costs
from l2advisor.baseline import StudySettings, TrialOutcome, run_study, study_objective, trial_rows
from l2advisor.cli import app, catch_interrupt, err, handle_errors, out, parse_ints
from l2advisor.cli_probe import DEFAULT_HORIZON
from l2advisor.compare import RUNS_FILE, CompareSettings, Comparison
from l2advisor.errors import InputError
from l2advisor.lock import RunLock
from l2advisor.probe import ProbeSettings, check_settings
from l2advisor.spec import load_spec
from l2advisor.storage import default_storage, open_storage, open_study
from l2advisor.store import json_safe, make_header, open_results, read_results, write_json
from l2advisor.task import build_task, build_test_set
from l2advisor.train import Record, TrainConfig, resolve_device

Budget = Annotated[int, typer.Option("--budget", help="Training steps of every run (each trial, each seed).")]
Trials = Annotated[int, typer.Option("--trials", help="Optuna trials the study ends with (COMPLETE + PRUNED, all workers).")]
Out = Annotated[Path | None, typer.Option("--out", help="Run directory (default: runs/<file name>).")]
Storage = Annotated[str | None, typer.Option("--storage", help="Optuna storage: an RDB URL (sqlite:///f.db, postgresql://...) "
                                             "or journal:PATH (default: sqlite file in the run directory).")]
Pruner = Annotated[str, typer.Option(help="none, median or hyperband (on the running peak, at each evaluation).")]
LamLow = Annotated[float, typer.Option(help="Smallest lam Optuna searches (log-uniform).")]
LamHigh = Annotated[float, typer.Option(help="Largest lam Optuna searches.")]
SamplerSeed = Annotated[int, typer.Option(help="Seed of the TPE sampler.")]
EvalEvery = Annotated[int | None, typer.Option(help="Steps between evaluations (default: budget/100).")]
Device = Annotated[str, typer.Option(help="auto, cpu, cuda or cuda:N.")]


class Bars:
    """An overall bar (steps, with ETA) and a bar for the run in progress, on stderr."""

    def __init__(self, total: int, title: str) -> None:
        self.bars = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                             TextColumn("{task.fields[info]}"), TimeRemainingColumn(), console=err)
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
    """Bars for `tune`: the overall bar says trial k of K and the best value so far."""

    def __init__(self, trials: int, budget: int) -> None:
        super().__init__(trials * budget, f"trial - of {trials}")
        self.budget = budget

    def begin(self, number: int, lam: float, counted: int, total: int) -> None:  # type: ignore[override]
        super().begin(f"trial {number}: lam={lam:.3g}", self.budget)
        self.bars.update(self.overall, description=f"trial {counted + 1} of {total}", completed=counted * self.budget)
        self.base = counted * self.budget

    def finish(self, outcome: TrialOutcome, best: float | None, counted: int) -> None:  # type: ignore[override]
        super().finish("", outcome.state.lower(), outcome.steps)
        best_text = f"best so far {best:.4f}" if best is not None else ""
        self.bars.update(self.overall, completed=counted * self.budget, info=best_text)


def _spec_and_config(model_file: Path, budget: int, eval_every: int | None, seed: int, device: str,
                     overrides: dict[str, Any]) -> tuple[Any, Any, TrainConfig]:
    if budget < 1:
        raise InputError(f"--budget must be a positive number of steps, got {budget}.")
    spec = load_spec(model_file, overrides)
    torch_device = resolve_device(device)
    every = eval_every if eval_every is not None else max(1, budget // 100)
    if every < 1:
        raise InputError(f"--eval-every must be a positive number of steps, got {every}.")
    task = build_task(spec)
    config = TrainConfig(lr=spec.lr, batch_size=spec.batch_size, max_steps=budget, eval_every=every, seed=seed,
                         momentum=spec.momentum, optimizer=spec.optimizer, device=str(torch_device))
    return spec, task, config


def _study_settings(trials: int, lam_low: float, lam_high: float, include_zero: bool, pruner: str,
                    sampler_seed: int) -> StudySettings:
    if trials < 1:
        raise InputError(f"--trials must be at least 1, got {trials}.")
    if not (0 < lam_low < lam_high and math.isfinite(lam_high)):
        raise InputError(f"--lam-low and --lam-high must satisfy 0 < low < high, got {lam_low:g} and {lam_high:g}.")
    return StudySettings(trials=trials, lam_low=lam_low, lam_high=lam_high, include_zero=include_zero,
                         pruner=pruner, sampler_seed=sampler_seed)


def _num(value: Any, fmt: str = ".4f") -> str:
    return "-" if value is None or (isinstance(value, float) and not math.isfinite(value)) else format(value, fmt)


def trials_table(rows: list[dict[str, Any]], metric: str, title: str) -> Table:
    table = Table(title=title, title_justify="left")
    for column in ("trial", "lam", "state", f"peak {metric[:8]}", "best so far", "steps", "sec", "note"):
        table.add_column(column, justify="right", no_wrap=True)
    best = best_so_far([r["value"] if r["state"] == "COMPLETE" else None for r in rows])
    for row, so_far in zip(rows, best, strict=True):
        note = "surplus" if row["surplus"] else (f"retry of {row['retry_of']}" if row["retry_of"] is not None else "")
        table.add_row(str(row["number"]), _num(row["lam"], ".3g"), row["state"], _num(row["value"]),
                      _num(so_far), _num(row["steps"], "d"), _num(row["seconds"], ".1f"), note)
    return table


@app.command()
@handle_errors
def tune(
    model_file: Annotated[Path, typer.Argument(help="Your model file (build_model, build_data, optional settings).")],
    budget: Budget,
    trials: Trials,
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
    lr: Annotated[float | None, typer.Option(help="Override the file's learning rate.")] = None,
    batch_size: Annotated[int | None, typer.Option(help="Override the file's batch size.")] = None,
    device: Device = "auto",
    as_json: Annotated[bool, typer.Option("--json", help="Print the trials as JSON on stdout.")] = False,
) -> None:
    """Search lam with Optuna (TPE): each trial trains the full budget; the objective is the peak
    validation metric. Re-running resumes the study; several processes (machines) sharing one
    --storage work on one study, and together stop at --trials trials.
    """
    spec, task, config = _spec_and_config(model_file, budget, eval_every, seed, device,
                                          {"lr": lr, "batch_size": batch_size})
    settings = _study_settings(trials, lam_low, lam_high, include_zero, pruner, sampler_seed)
    run_dir = out_dir or Path("runs") / spec.name
    url = storage or default_storage(run_dir)
    name = study_name or f"{spec.name}-T{budget}-seed{seed}"
    study = open_study(open_storage(url), name, settings, study_objective(task, config, settings), budget)
    err.print(f"Tuning lam of {spec.path.name} on {config.device}: study {name!r} in {url}, "
              f"{trials} trials of {budget} steps, lam in [{lam_low:g}, {lam_high:g}]"
              + (" and 0" if include_zero else "") + f", pruner {pruner}")
    bars = TuneBars(trials, budget)
    with bars.bars, catch_interrupt() as interrupted:
        run_study(task, config, study, settings, bars, interrupted)
    rows = trial_rows(study)
    if as_json:
        slim = [{k: v for k, v in r.items() if k != "curve"} for r in rows]
        out.print_json(json.dumps(json_safe({"study_name": name, "storage": url, "trials": slim,
                                             "sampler": study.sampler.describe()})))
    else:
        out.print(trials_table(rows, spec.metric_name, f"Optuna study {name!r}"))
    if interrupted():
        err.print("[yellow]Interrupted: the trial in progress was marked failed and its lam queued again. "
                  "Run the same command to resume.[/]")
        raise typer.Exit(130)
    complete = [r for r in rows if r["state"] == "COMPLETE" and r["value"] is not None]
    if complete:
        best = max(complete, key=lambda r: r["value"])
        err.print(f"Best: lam = {best['lam']:.4g} (trial {best['number']}, peak {spec.metric_name} "
                  f"{best['value']:.4f}); {sum(r['state'] in ('COMPLETE', 'PRUNED') for r in rows)} of {trials} trials.")


@app.command()
@handle_errors
def compare(
    model_file: Annotated[Path, typer.Argument(help="Your model file (build_model, build_data, optional build_test).")],
    budget: Budget,
    trials: Trials = 20,
    seeds: Annotated[int, typer.Option("--seeds", help="Training seeds (0..S-1) of every single-run arm.")] = 3,
    probe_budget: Annotated[int, typer.Option(help="Total probe steps of the advisor arm.")] = 24000,
    probe_seeds: Annotated[str, typer.Option(help="Probe seeds, comma-separated.")] = "0,1",
    horizon: Annotated[float | None, typer.Option(help="Longest probe, in tau (default: 8*(1-momentum)).")] = None,
    default_lam: Annotated[float, typer.Option(help="The 'common default' arm's weight decay.")] = 5e-4,
    pruner: Pruner = "none",
    sampler_seed: SamplerSeed = 0,
    lam_low: LamLow = 1e-6,
    lam_high: LamHigh = 1e-1,
    eval_every: EvalEvery = None,
    storage: Storage = None,
    out_dir: Annotated[Path | None, typer.Option("--out", help="Run directory (default: runs/<file name>/compare).")] = None,
    device: Device = "auto",
    force: Annotated[bool, typer.Option(help="Discard earlier results in the run directory and start over.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON on stdout.")] = False,
) -> None:
    """Compare, on one model file, budget and data order: the advisor (probes + runs at its lam),
    AutoL2, a default weight decay, lam = 0, and an Optuna study whose best lam is re-run on the
    same seeds. Writes compare.json and compare.png; re-running resumes.
    """
    if seeds < 1:
        raise InputError(f"--seeds must be at least 1, got {seeds}.")
    spec, task, config = _spec_and_config(model_file, budget, eval_every, 0, device, {})
    probe = ProbeSettings(lrs=(spec.lr,), seeds=parse_ints(probe_seeds, "--probe-seeds"),
                          horizon=horizon if horizon is not None else DEFAULT_HORIZON * (1.0 - spec.momentum),
                          probe_budget=probe_budget)
    check_settings(probe, task)
    settings = CompareSettings(budget, trials, tuple(range(seeds)), config.eval_every, probe,
                               _study_settings(trials, lam_low, lam_high, False, pruner, sampler_seed), default_lam)
    run_dir = out_dir or Path("runs") / spec.name / "compare"
    test = build_test_set(spec)
    from l2advisor.batches import eval_chunks

    chunks = eval_chunks(test, resolve_device(config.device)) if test is not None else None
    comparison = Comparison(task, settings, run_dir, config, storage or default_storage(run_dir),
                            f"compare-{spec.name}-T{budget}", chunks, force=force)
    header = make_header("compare", {**spec.settings(), "compare": settings.to_dict(), "train_size": task.train_size},
                         config.device)
    err.print(f"Comparing on {spec.path.name} ({config.device}): budget {budget} steps, seeds 0..{seeds - 1}, "
              f"Optuna {trials} trials; results in {run_dir}")
    total = probe.probe_budget + budget * (5 * seeds + trials)
    path = run_dir / RUNS_FILE
    with RunLock(run_dir), open_results(path, header, force=force) as writer:
        bars = Bars(total, "compare (steps)")
        comparison.progress = bars
        with bars.bars, catch_interrupt() as interrupted:
            comparison.interrupted = interrupted
            finished = comparison.run(writer.write, read_results(path).runs)
    if not finished:
        err.print(f"[yellow]Interrupted. Everything finished so far is in {run_dir}; run the same command "
                  "again to resume.[/]")
        raise typer.Exit(130)
    report = comparison.report()
    write_json(run_dir / "compare.json", report)
    save_figure(report, run_dir / "compare.png")
    if as_json:
        out.print_json(json.dumps(json_safe(report)))
    else:
        out.print(compare_table(report))
        out.print(match_line(report))
    for note in report["notes"]:
        err.print(f"[yellow]{note}[/]")
    err.print(f"Wrote {run_dir / 'compare.json'} and {run_dir / 'compare.png'}.")


def compare_table(report: dict[str, Any]) -> Table:
    metric = report["metric"][:8]
    table = Table(title=f"Comparison: budget {report['settings']['budget']} steps, "
                        f"{len(report['settings']['seeds'])} seeds", title_justify="left")
    for column in ("arm", "lam", f"peak val {metric}", f"test {metric}", "compute steps", "compute s", "note"):
        table.add_column(column, justify="right" if column != "note" else "left", no_wrap=column == "arm")
    for row in report["rows"]:
        label = "optuna, its lam re-run" if row["arm"] == "optuna" else row["arm"]
        table.add_row(label, _num(row["lam"], ".3g"), _pm(row["peak_mean"], row["peak_sd"]),
                      _pm(row["test_mean"], row["test_sd"]), _num(row["compute_steps"], ",.0f"),
                      _num(row["compute_seconds"], ",.0f"), row["note"])
        if row["arm"] == "optuna":
            table.add_row("optuna raw best", _num(row["lam"], ".3g"), _num(row["raw_best"]), "-",
                          _num(row["compute_steps"], ",.0f"), _num(row["compute_seconds"], ",.0f"),
                          "one noisy run, biased upward")
    return table


def _pm(mean: float | None, sd: float | None) -> str:
    return "-" if mean is None else f"{mean:.4f}" + (f" ± {sd:.4f}" if sd is not None else "")


def match_line(report: dict[str, Any]) -> str:
    match = report.get("trials_to_match")
    advisor = next((r for r in report["rows"] if r["arm"] == "advisor"), None)
    if advisor is None or "optuna_trials" not in report:
        return "Trials to match the advisor: - (an arm is missing)."
    if match is None:
        return (f"Optuna never reached the advisor's mean {advisor['peak_mean']:.4f} in "
                f"{report['settings']['trials']} trials.")
    return (f"Optuna's best so far reached the advisor's mean {match['target']:.4f} after {match['trials']} trials "
            f"({match['steps']:,.0f} steps, {match['seconds']:,.0f} s; the advisor used "
            f"{advisor['compute_steps']:,.0f} steps, {advisor['compute_seconds']:,.0f} s).")


def save_figure(report: dict[str, Any], path: Path) -> None:
    """Optuna's best-so-far metric against cumulative compute; the other arms as points."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.5))
    if "optuna_trials" in report:
        values, costs = optuna_costs(report["optuna_trials"])
        xs = [c.steps for c in cumulative(costs)]
        ax.step(xs, [float("nan") if b is None else b for b in best_so_far(values)], where="post",
                color="tab:blue", label="Optuna best so far")
        ax.scatter(xs, [float("nan") if v is None else v for v in values], s=10, color="tab:blue", alpha=0.35)
    styles = {"advisor": ("tab:red", "o"), "autol2": ("tab:orange", "s"), "default": ("tab:gray", "^"),
              "zero": ("black", "v"), "optuna": ("tab:blue", "D")}
    for row in report["rows"]:
        if row["peak_mean"] is None:
            continue
        color, marker = styles.get(row["arm"], ("tab:green", "o"))
        label = "Optuna's lam re-run" if row["arm"] == "optuna" else row["arm"]
        ax.errorbar([row["compute_steps"]], [row["peak_mean"]], yerr=[row["peak_sd"] or 0.0], fmt=marker,
                    color=color, capsize=3, label=f"{label} (mean ± sd)")
    ax.set_xscale("log")
    ax.set_xlabel("compute (optimizer steps)")
    ax.set_ylabel(f"peak validation {report['metric']}")
    ax.set_title(f"{Path(report['model']['model_file']).name}: budget {report['settings']['budget']} steps")
    ax.legend(fontsize=8, loc="lower right")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
