"""`l2advisor compare FILE`: every arm on one model file, budget and data order, as a table,
compare.json and a figure (Optuna's best so far against cumulative compute)."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from l2advisor.cli.app import Threads, app, catch_interrupt, err, handle_errors, out
from l2advisor.cli.budget import check_run_budget, refuse_unusable_out
from l2advisor.cli.compare_words import arm_name, match_line, seconds_text
from l2advisor.cli.json_out import print_json_text
from l2advisor.cli.lists import parse_ints
from l2advisor.cli.tables import Column, fitted_table
from l2advisor.cli.tune import (
    Bars,
    BatchSize,
    Budget,
    Device,
    EvalEvery,
    LamHigh,
    LamLow,
    Lr,
    Momentum,
    Optimizer,
    Pruner,
    SamplerSeed,
    Storage,
    Trials,
    Unit,
    fmt_num,
    spec_and_config,
    study_settings,
)
from l2advisor.errors import InputError, RunFailed
from l2advisor.runs.lock import RunLock
from l2advisor.runs.store import make_header, open_results, read_results, write_json
from l2advisor.tuning.accounting import best_so_far, cumulative, optuna_costs


@app.command()
@handle_errors
def compare(
    model_file: Annotated[Path, typer.Argument(help="Your model file (build_model, build_data, optional build_test).")],
    budget: Budget,
    trials: Trials = 20,
    unit: Unit = "steps",
    seeds: Annotated[int, typer.Option("--seeds", help="Training seeds (0..S-1) of every single-run arm.")] = 3,
    probe_budget: Annotated[int | None, typer.Option(help="Total probe steps of the advisor and AutoL2 arms' default "
                                                      "ladder [default: probes sized to --budget, as `probe --budget`].")] = None,
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
    lr: Lr = None,
    batch_size: BatchSize = None,
    momentum: Momentum = None,
    optimizer: Optimizer = None,
    lr_schedule: Annotated[str, typer.Option(help="Every arm's lr schedule: constant, cosine, linear (to 0) or step; "
                                                  "the probes stay at constant lr.")] = "constant",
    warmup: Annotated[int, typer.Option(help="Steps of linear lr warmup in every arm.")] = 0,
    force: Annotated[bool, typer.Option(help="Discard earlier results in the run directory and start over.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON on stdout.")] = False,
    threads: Threads = None,
) -> None:
    """Compare the advisor with AutoL2, a default weight decay, lam = 0 and an Optuna search.

    All on one model file, budget and data order: the advisor (probes + runs at its lam), AutoL2, a default weight decay, lam = 0, and an Optuna study whose best lam is re-run on the same seeds. Writes compare.json and compare.png; re-running resumes.
    """
    from l2advisor.modelfile.task import build_test_set
    from l2advisor.probing.probe import check_ladder_flags, check_seeds, check_settings
    from l2advisor.probing.settings import probe_settings
    from l2advisor.training.lr_schedules import SCHEDULES
    from l2advisor.training.train import resolve_device
    from l2advisor.tuning.compare import RUNS_FILE, CompareSettings, Comparison, extends
    from l2advisor.tuning.storage import default_storage, open_storage

    if seeds < 1:
        raise InputError(f"--seeds must be at least 1, got {seeds}.")
    probe_seed_list = parse_ints(probe_seeds, "--probe-seeds")
    check_seeds(probe_seed_list, "--probe-seeds")  # before check_settings, which would say probe's --seeds
    if lr_schedule not in SCHEDULES:
        raise InputError(f"--lr-schedule must be one of {', '.join(SCHEDULES)}, got {lr_schedule!r}.")
    check_run_budget(budget, unit)  # before the other flags: their checks read the budget
    refuse_unusable_out(out_dir)  # before the model file runs, as probe says it
    if probe_budget is not None and probe_budget < 1:
        raise InputError(f"--probe-budget must be at least 1 step (or left out: probes sized to --budget), "
                         f"got {probe_budget}.")
    if not (math.isfinite(default_lam) and default_lam >= 0):
        raise InputError(f"--default-lam must be a finite number >= 0, got {default_lam!r}.")
    if unit == "steps" and not 0 <= warmup < budget:  # before the model file runs, when it can be said
        raise InputError(f"--warmup must be a whole number of steps in [0, {budget:g}) (the budget), got {warmup}.")
    check_ladder_flags(horizon=horizon)  # before the model file runs, with the study's flags
    study = study_settings(trials, lam_low, lam_high, False, pruner, sampler_seed)
    overrides = {"lr": lr, "batch_size": batch_size, "momentum": momentum, "optimizer": optimizer}
    spec, task, config = spec_and_config(model_file, budget, unit, eval_every, 0, device, overrides, threads,
                                         lam_high)
    given, budget = (budget, unit), config.max_steps  # in steps from here on
    if not 0 <= warmup < budget:
        raise InputError(f"--warmup must be a whole number of steps in [0, {budget}) (the budget), got {warmup}.")
    probe, plan = probe_settings(spec.lr, spec.momentum, seeds=probe_seed_list,
                              budget_steps=None if probe_budget else budget, n_val=len(task.val),
                              batch_size=spec.batch_size, horizon=horizon, probe_budget=probe_budget)
    check_settings(probe, task)
    settings = CompareSettings(budget, trials, tuple(range(seeds)), config.eval_every, probe, study, default_lam,
                               lr_schedule, warmup, budget_as_given=given)
    run_dir = out_dir or Path("runs") / spec.name / "compare"
    test = build_test_set(spec)
    from l2advisor.training.batches import eval_chunks

    chunks = eval_chunks(test, resolve_device(config.device)) if test is not None else None
    if storage is not None:  # a wrong URL said now, as `tune` says it, not after hours of probes and arms
        open_storage(storage)
    comparison = Comparison(task, settings, run_dir, config, storage or default_storage(run_dir),
                            f"compare-{spec.name}-T{budget}" + "".join(f"-{v}" for v in settings.schedule().values()),
                            chunks, force=force)
    header = make_header("compare", {**spec.settings(), "compare": settings.to_dict(), "train_size": task.train_size},
                         config.device)
    shown = f" of {lr_schedule} lr" + (f" after {warmup} warmup steps" if warmup else "") if settings.scheduled else ""
    err.print(f"Comparing on {spec.path.name} ({config.device}): budget {budget} steps{shown}, seeds 0..{seeds - 1}, "
              f"Optuna {trials} trials; results in {run_dir}")
    from l2advisor.probing.plan import plan_probes

    planned = plan_probes(probe, spec.momentum)
    probe_steps = sum(run.max_steps for run in planned)  # not the cap: the plan
    if plan is not None and plan.over_cap:  # as `probe --budget` says it: 5,600 probe steps for 20 were silent
        from l2advisor.probing.budget import budget_words, sizing_note

        sizing, _ = sizing_note(plan, planned, probe, len(task.val), spec.batch_size, budget_words(*given, budget))
        err.print(f"[yellow]The advisor's probes: {escape(sizing)}[/]", highlight=False)
    if probe.budget_steps is None and probe_steps > probe.probe_budget:
        err.print(f"[yellow]The advisor's probes run {probe_steps:,} steps, more than --probe-budget "
                  f"{probe.probe_budget:,}: a fit needs at least 3 lams (and a follow-up seed may add more).[/]",
                  highlight=False)
    total = probe_steps + budget * (5 * seeds + trials)
    path = run_dir / RUNS_FILE
    with RunLock(run_dir), open_results(path, header, force=force, compatible=extends) as writer:
        if writer.previous_settings is not None:
            err.print(f"This directory holds a comparison with other {_changed(writer.previous_settings, header)}: "
                      "the runs the two share are reused (a study with more trials than asked keeps them).",
                      highlight=False)
        bars = Bars(total, "compare (steps)")
        comparison.progress = bars
        with bars.bars, catch_interrupt() as interrupted:
            comparison.interrupted = interrupted
            finished = comparison.run(writer.write, read_results(path).runs)
            if finished:  # every planned step ran or was reused from this directory: the bar says done
                bars.bars.update(bars.overall, completed=total, info="done")
    if not finished:
        err.print(f"[yellow]Interrupted. Everything finished so far is in {run_dir}; run the same command "
                  "again to resume.[/]")
        raise typer.Exit(130)
    report = comparison.report()
    report["conclusion"] = match_line(report)  # the sentence under the table, for scripts too
    write_json(run_dir / "compare.json", report)
    save_figure(report, run_dir / "compare.png")
    if as_json:  # what compare.json holds, versions included
        print_json_text((run_dir / "compare.json").read_text(encoding="utf-8"))
    else:
        out.print(compare_table(report))
        out.print(report["conclusion"])
    for note in report["notes"]:
        err.print(f"[yellow]{note}[/]")
    err.print(f"Wrote {run_dir / 'compare.json'} and {run_dir / 'compare.png'}.")
    if report["failed_arms"]:  # the other arms are written above; the run as a whole failed
        raise RunFailed(f"The {' and '.join(report['failed_arms'])} arms failed: "
                        f"{next(iter(report['failed_arms'].values()))}. compare.json marks them failed.")


def compare_table(report: dict[str, Any], console: Console = out) -> Table:
    """One row per arm, mean over seeds with ± sd below it; on a narrow console the compute
    seconds give way and the arm names and notes wrap, rather than a number being cut."""
    metric = report["metric"][:10]
    columns = [Column("arm", "left", wrap=True), Column("lam"), Column(f"peak val\n{metric}"),
               Column(f"test\n{metric}"), Column("compute\nsteps"), Column("compute\ns", drop=1),
               Column("note", "left", wrap=True)]
    cells = []
    for row in report["rows"]:
        label = "optuna, its lam re-run" if row["arm"] == "optuna" else row["arm"]
        label = f"[bold red]{label} FAILED[/]" if row.get("failed") else label
        cells.append([label, fmt_num(row["lam"], ".3g"), _pm(row["peak_mean"], row["peak_sd"]),
                      _pm(row["test_mean"], row["test_sd"]), fmt_num(row["compute_steps"], ",.0f"),
                      seconds_text(row["compute_seconds"]), row["note"]])
        if row["arm"] == "optuna":
            cells.append(["optuna raw best", fmt_num(row["lam"], ".3g"), fmt_num(row["raw_best"]), "-",
                          fmt_num(row["compute_steps"], ",.0f"), seconds_text(row["compute_seconds"]),
                          _raw_note(row)])
    settings, given = report["settings"], report.get("budget_as_given") or {}
    n_seeds = len(settings["seeds"])
    budget = (f"{given['value']:g} epochs ({settings['budget']} steps)" if given.get("unit") == "epochs"
              else f"{settings['budget']} steps")
    schedule = settings.get("lr_schedule", "constant")
    lr = "" if schedule == "constant" and not settings.get("warmup") else (
        f", {schedule} lr" + (f" after {settings['warmup']} warmup steps" if settings.get("warmup") else ""))
    title = f"Comparison: budget {budget}{lr}, {n_seeds} seed{'s' if n_seeds != 1 else ''}"
    return fitted_table(columns, cells, console, title=title)


def _changed(before: dict[str, Any], header: dict[str, Any]) -> str:
    """What differs from the comparison found (`extends` allows only these): "numbers of trials",
    "seeds", "default lam", "probe seeds", joined; a header's settings against the earlier ones."""
    old, new = before.get("compare") or {}, (header.get("settings") or {}).get("compare") or {}
    words = [word for key, word in (("trials", "numbers of trials"), ("seeds", "seeds"), ("default_lam", "default lam"))
             if old.get(key) != new.get(key)]
    if (old.get("probe") or {}).get("seeds") != (new.get("probe") or {}).get("seeds"):
        words.append("probe seeds")
    return " and ".join(words) or "settings"


def _raw_note(row: dict[str, Any]) -> str:
    """The raw best's note: the best of K noisy runs is biased upward, which a raw value below its
    lam's re-run (a reviewer's 0.9650 against 0.9663) does not show, so it is said only above it."""
    raw, rerun = row.get("raw_best"), row.get("peak_mean")
    above = raw is not None and rerun is not None and raw > rerun
    return "one noisy run, biased upward" if above or rerun is None else "one noisy run"


def _pm(mean: float | None, sd: float | None) -> str:
    """The mean, and its sd on a second line (a narrower column than `mean ± sd`)."""
    return "-" if mean is None else f"{mean:.4f}" + (f"\n± {sd:.4f}" if sd is not None else "")


def save_figure(report: dict[str, Any], path: Path) -> None:
    """Optuna's best-so-far metric against cumulative compute; the other arms as points."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8.5, 4.5))
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
        label = arm_name(row)
        ax.errorbar([row["compute_steps"]], [row["peak_mean"]], yerr=[row["peak_sd"] or 0.0], fmt=marker,
                    color=color, capsize=3, label=f"{label} (mean ± sd)")
    ax.set_xscale("log")
    ax.set_xlabel("compute (optimizer steps)")
    ax.set_ylabel(f"peak validation {report['metric']}")
    ax.set_title(f"{Path(report['model']['model_file']).name}: budget {report['settings']['budget']} steps")
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.02, 1.0))  # outside: no arm's point under it
    fig.tight_layout()
    fig.savefig(path, dpi=120, bbox_inches="tight")
    plt.close(fig)
