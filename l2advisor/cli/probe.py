"""`l2advisor probe FILE`: short runs over a ladder of lams, stored in a run directory."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.markup import escape

from l2advisor.cli.advise_first import PROBE_SEEDS
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
    worker_threads_for,
)
from l2advisor.cli.budget import UNIT_HELP
from l2advisor.cli.decay_checks import say_strong_probes
from l2advisor.cli.json_out import print_json
from l2advisor.cli.lists import parse_devices, parse_floats, parse_ints
from l2advisor.cli.probe_view import (
    ProbeBars,
    all_reused_note,
    interrupted_note,
    say_next,
    say_outcome,
    summary_table,
)
from l2advisor.consoles import unbounded
from l2advisor.errors import InputError
from l2advisor.probing.budget import DEFAULT_HORIZON  # noqa: F401 - the default horizon, in --help and benchmarks
from l2advisor.probing.notices import once
from l2advisor.runs.lock import RunLock
from l2advisor.runs.store import (
    RunState,
    open_results,
    read_results,
    settings_conflict,
)

if TYPE_CHECKING:  # torch: imported inside the commands, so that `--help` never loads it
    from l2advisor.modelfile.spec import TaskSpec
    from l2advisor.probing.budget import BudgetPlan
    from l2advisor.probing.plan import ProbeRun, ProbeSettings
    from l2advisor.training.train import TrainConfig


BATCH_REPLICAS = 8  # most replicas trained in one stack: --batch-replicas' default, and --advise's


@app.command()
@handle_errors
def probe(
    model_file: Annotated[Path, typer.Argument(help="Your model file (build_model, build_data, optional settings).")],
    out_dir: Annotated[Path | None, typer.Option("--out", help="Run directory [default: runs/<file name>].")] = None,
    budget: Annotated[float | None, typer.Option(help="Size the probes for this training budget: together, "
                                                  "evaluation included, they aim at min(0.45, 0.225*sqrt(32000/T)) of one "
                                                  "budget run; below about 25,000-30,000 steps (it depends on the "
                                                  "validation set and batch size) even the cheapest useful plan "
                                                  "(3 rungs) costs more, and probe says how much. Every rung the same "
                                                  "tau window.")] = None,
    unit: Annotated[str, typer.Option(help=UNIT_HELP)] = "steps",
    lambdas: Annotated[str | None, typer.Option(help="Explicit lams, comma-separated (skips the automatic ladder; "
                                                     "--probe-budget does not apply): 3 or more for a fit; with "
                                                     "fewer, recommend answers with a measured lam.")] = None,
    lrs: Annotated[str | None, typer.Option(help="Learning rates to probe, comma-separated [default: the file's lr]: "
                                                 "recommend reads the lr it advises for (the file's, or its --lr) "
                                                 "where probed, and every lr to check that lr*lam is the clock. Not "
                                                 "with --budget, which plans one lr.")] = None,
    lam_max: Annotated[float | None, typer.Option(help="Top of the automatic ladder [default: the lam with "
                                                       "lr*lam/(1-momentum) = 0.01].")] = None,
    factor: Annotated[float, typer.Option(help="Ratio between ladder rungs.")] = 2.0,
    horizon: Annotated[float | None, typer.Option(help="Longest probe, in tau = lr*lam*steps [default: 8*(1-momentum)]; "
                                                       "with --budget every rung's window, run as given (the default "
                                                       "window is halved when 3 full rungs would cost more than the "
                                                       "budget's cap; probe says so).")] = None,
    probe_budget: Annotated[int | None, typer.Option(help="Total probe steps, all probes and seeds together "
                                                              "[default: 24000]; not with --budget, which sizes the "
                                                              "probes itself.", show_default=False)] = None,
    seeds: Annotated[str, typer.Option(help="Seeds, comma-separated: each lam is probed once per seed.")] = PROBE_SEEDS,
    tolerance: Annotated[float, typer.Option(help="t* is the first evaluation within this of the peak (metric units).")] = 0.005,
    early_stop: Annotated[bool | None, typer.Option(help="Stop a probe once its smoothed metric has clearly peaked "
                                                         "[default: early-stop; never with --budget, whose rungs "
                                                         "all run the same tau window].",
                                                    show_default=False)] = None,
    lr: Annotated[float | None, typer.Option(help="Override the file's learning rate.")] = None,
    batch_size: Annotated[int | None, typer.Option(help="Override the file's batch size.")] = None,
    momentum: Annotated[float | None, typer.Option(help="Override the file's momentum.")] = None,
    optimizer: Annotated[str | None, typer.Option(help="Override the file's optimizer: sgd or adamw.")] = None,
    device: Annotated[str, typer.Option(help="auto, cpu, cuda or cuda:N.")] = "auto",
    force: Annotated[bool, typer.Option(help="Discard existing results in the run directory and start over.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the summary as JSON on stdout.")] = False,
    batched: Annotated[bool, typer.Option(help="Train the probes that share an lr together, as stacked replicas of "
                                               "the model (every seed in one stack when the data are tensors, else "
                                               "one stack per seed): the same computation, float rounding aside "
                                               "(it grows over long runs) and dropout's masks, which each replica "
                                               "draws on its own. A stacked step is timed against one model's "
                                               "first, and where the stack would be slower the probes train one "
                                               "by one; --no-batched: one probe after another, untimed.")] = True,
    batch_replicas: Annotated[int | None, typer.Option(help=f"Most replicas trained together when --batched "
                                                            f"[default: {BATCH_REPLICAS}].", show_default=False)] = None,
    jobs: Annotated[int | None, typer.Option(help="Probe jobs running at once, in worker processes (torch threads are "
                                           "divided among them) [default: 1, or one per --devices entry].",
                                      show_default=False)] = None,
    devices: Annotated[str | None, typer.Option(help="Spread jobs over these devices round robin, e.g. "
                                                     "cuda:0,cuda:1.")] = None,
    backend: Annotated[str, typer.Option(help="Where jobs run: loky (worker processes here) or dask "
                                              "(a Dask cluster, with --scheduler).")] = "loky",
    scheduler: Annotated[str | None, typer.Option(help="Dask scheduler address for --backend dask, e.g. "
                                                       "tcp://host:8786.")] = None,
    threads: Threads = None,
    plan_only: Annotated[bool, typer.Option("--plan", help="Print the planned probes and what they would cost on "
                                                           "this machine, one by one and stacked (the model's steps "
                                                           "and passes timed, a second or two), and exit: nothing "
                                                           "is trained or written. Probes already finished in "
                                                           "--out are marked and not priced.")] = False,
) -> None:
    """Run short probe trainings at large weight decays and record their learning curves.

    Re-running the same command resumes: finished probes are reused, unfinished ones restart.
    """
    from l2advisor.cli.budget import (
        budget_flags,
        budget_steps,
        check_budget,
        check_unit_has_budget,
        refuse_unusable_out,
        small_set_note,
    )
    from l2advisor.probing.probe import check_seeds
    from l2advisor.probing.settings import probe_settings, refuse_early_stop, refuse_hand_ladder
    from l2advisor.science.fit_memo import remembered
    from l2advisor.training.train import resolve_device

    overrides = {"lr": lr, "batch_size": batch_size, "momentum": momentum, "optimizer": optimizer}
    from l2advisor.modelfile.spec import load_spec
    from l2advisor.probing.parallel import check_backend, check_scheduler
    from l2advisor.probing.probe import check_ladder_flags

    check_unit_has_budget(budget, unit, "the default ladder, which is not sized for a budget")
    # the lists, parsed before the model file runs: a typo in them is said before anything else
    seed_list, lr_list = parse_ints(seeds, "--seeds"), parse_floats(lrs, "--lrs") or ()
    lam_list = parse_floats(lambdas, "--lambdas") or ()
    check_seeds(seed_list)
    if budget is not None:
        check_budget(budget, unit)
        refuse_hand_ladder(lambdas=lam_list, lrs=lr_list, lam_max=lam_max, probe_budget=probe_budget,
                           factor=factor)  # before the model file runs
        refuse_early_stop(early_stop)
    check_ladder_flags(lrs=lr_list, lambdas=lam_list, horizon=horizon, factor=factor, probe_budget=probe_budget,
                       lam_max=lam_max, tolerance=tolerance)  # the ranges no model file is needed for
    check_backend(backend, scheduler)
    check_scheduler(backend, scheduler)  # before the run directory's header is written
    if jobs is not None and jobs < 1:  # before anything is written (0 was taken for the default)
        raise InputError(f"--jobs must be at least 1, got {jobs}.")
    refuse_unusable_out(out_dir)  # an explicit --out only: the default is named after the model
    if batch_replicas is not None and not batched:  # it did nothing; said before the model file runs
        raise InputError("--batch-replicas sets how many probes train together: drop it, or drop --no-batched.")
    batch_replicas = BATCH_REPLICAS if batch_replicas is None else batch_replicas
    if batch_replicas < 1:
        raise InputError(f"--batch-replicas must be at least 1, got {batch_replicas}.")
    from l2advisor.probing.parallel import worker_jobs

    device_list = parse_devices(devices)
    for each in device_list or []:  # a GPU that is not here: said before anything runs
        resolve_device(each)
    spec = load_spec(model_file, overrides)
    say_notes(spec)
    say_strong_probes(spec, lam_list, lr_list, lam_max)
    torch_device = resolve_device(device)
    task = load_task(spec)
    workers = worker_jobs(jobs or 0, device_list, backend)
    per_worker, said = worker_threads_for(task, threads, workers, backend) if workers else (None, "")
    err.print(f"[dim]Threads: {said or use_threads_for(task, threads)}[/]", highlight=False)
    if (note := small_set_note(task.train_size, spec.batch_size)) is not None:
        err.print(f"[yellow]{note}[/]", highlight=False)
    steps = None if budget is None else budget_steps(budget, unit, task.train_size, spec.batch_size)
    settings, plan = probe_settings(
        spec.lr, spec.momentum, seeds=seed_list, budget_steps=steps,
        n_val=len(task.val), batch_size=spec.batch_size, lrs=lr_list,
        horizon=horizon, probe_budget=probe_budget, lambdas=lam_list,
        lam_max=lam_max, factor=factor, tolerance=tolerance, early_stop=early_stop)
    run_dir = out_dir or Path("runs") / spec.name
    if plan_only:
        from l2advisor.cli.probe_plan import show_plan
        from l2advisor.probing.budget import budget_words

        show_plan(spec, task, settings, plan, str(torch_device), as_json,
                  None if steps is None else budget_words(budget, unit, steps), batch_replicas if batched else 1,
                  run_dir, force, workers)
        return
    with remembered():  # a rerun's check for follow-ups left, the follow-up decision, the summary: one fit
        path, runs, every, training_seconds = probe_into(
            spec, task, settings, plan, run_dir, str(torch_device), force=force,
            probe_budget_given=probe_budget is not None, replicas=batch_replicas if batched else 1,
            jobs=jobs or 0, devices=device_list, backend=backend, scheduler=scheduler, model_file=model_file,
            overrides=overrides, budget=None if steps is None else (budget, unit),
            threads=per_worker)
        states, rows, extra = probe_outcome(path, runs, every, settings.tolerance)
    if as_json:
        print_json({"run_dir": str(run_dir), "probes": rows, "follow_up": extra,
                    "training_seconds": training_seconds})
    else:
        out.print(summary_table(rows, spec.metric_name, whole=unbounded(sys.stdout)))  # a file: every column
    say_outcome(states, rows, extra, spec, notes=not as_json)  # all failed: raises, with no "Next" to a fit that cannot run
    if not as_json:
        again = "--budget STEPS" if steps is None else budget_flags(budget, unit, steps)
        one_process = plan is not None and plan.over_cap and horizon is None  # train --advise has no --horizon
        say_next(run_dir, again, model_file if one_process else None, seed_list, overrides)


def probe_into(spec: TaskSpec, task: Any, settings: ProbeSettings, plan: BudgetPlan | None, run_dir: Path,
               device: str, *, force: bool, probe_budget_given: bool, replicas: int, jobs: int = 0,
               devices: list[str] | None = None, backend: str = "loky", scheduler: str | None = None,
               model_file: Path, overrides: dict[str, Any], restart_if_stale: bool = False,
               budget: tuple[float, str] | None = None, threads: int | None = None
               ) -> tuple[Path, list[ProbeRun], list[ProbeRun], float]:
    """Run the planned probes into `run_dir` (finished ones reused, a follow-up round when the
    verdict needs it), progress on stderr: what `l2advisor probe` and `train --advise` share.
    Returns the results file, the planned probes, every probe run (follow-ups included) and the
    seconds spent training and evaluating. Ctrl-C: says how to resume and exits 130.
    `restart_if_stale` (train --advise --force): probes that cannot be reused (other settings,
    an edited model file) start over; reusable ones, re-sized for another budget, are kept.
    `budget`: a sized plan's budget as the user gave it (value, unit), for the sizing line and the header;
    `devices`: --devices as parsed once by `probe` (None: not given);
    `threads`: torch threads of each worker process (None: the cores divided among the jobs)."""
    from l2advisor.probing.budget import budget_words, sizing_note
    from l2advisor.probing.follow_up import run_with_follow_up, with_follow_up
    from l2advisor.probing.plan import pending, retry_words
    from l2advisor.probing.settings import (
        carries_over,
        data_notes,
        hand_ladder_notes,
        prepare_probes,
        record_budget,
        resize_note,
    )
    from l2advisor.runs.rundir import PROBES_FILE, results_path

    runs, base, header = prepare_probes(spec, task, settings, device)
    if budget is not None:  # the header keeps the budget as given, for `recommend` without --budget
        record_budget(header, budget, settings.budget_steps, len(task.val), plan)
    budget_text = None if budget is None else budget_words(*budget, settings.budget_steps)
    for note in (*hand_ladder_notes(settings, probe_budget_given), *data_notes(task, settings.tolerance)):
        if note is not None:
            err.print(f"[yellow]{escape(note)}[/]", highlight=False)
    path = results_path(run_dir, PROBES_FILE)
    if restart_if_stale and not force and (stale := settings_conflict(path, header, carries_over)):
        err.print(f"[yellow]{escape(stale)}; --force starts them over.[/]", highlight=False)
        force = True
    with (RunLock(run_dir) as lock,
          open_results(path, header, force=force, compatible=carries_over) as writer):
        if lock.stale_taken_over:
            err.print(f"[yellow]Took over a stale lock left by process {lock.stale_taken_over}.[/]")
        found = read_results(path)
        _, reused = pending(runs, found)
        if writer.previous_settings is not None:
            err.print(resize_note(writer.previous_settings, settings, runs, found), highlight=False)
        err.print(f"Probing {spec.path.name} on {device}: {len(runs)} probes "
                  f"({len(reused)} reused), lams {', '.join(f'{lam:g}' for lam in sorted({r.lam for r in runs}, reverse=True))}, "
                  f"horizon tau={settings.horizon:g}, results in {run_dir}")
        if (retried := retry_words(runs, found)) is not None:
            err.print(escape(retried), highlight=False)
        sizing, warns = sizing_note(plan, runs, settings, len(task.val), spec.batch_size, budget_text)
        err.print(f"[yellow]{escape(sizing)}[/]" if warns else escape(sizing), highlight=False)
        if runs and not pending(with_follow_up(runs, found, settings.tolerance), found)[0]:  # nothing to train
            err.print(all_reused_note(len(runs), run_dir, scheduler), highlight=False)
        started = time.perf_counter()
        tell = once(notice)  # a follow-up round's probes would repeat the first round's notices
        with catch_interrupt("What was written so far is kept; a probe cut mid-way restarts on "
                             "resume.") as interrupted:
            def run(todo: list[ProbeRun]) -> None:
                if not todo:  # a rerun with every probe done: no bars, no workers, no scheduler to reach
                    return
                bars = ProbeBars(todo)
                with bars.bars:
                    _run(task, todo, base, settings, writer, bars, interrupted, model_file, overrides, path,
                         replicas=replicas, jobs=jobs, devices=devices, backend=backend,
                         scheduler=scheduler, notice=tell, threads=threads)

            every = run_with_follow_up(runs, path, settings.tolerance, run, interrupted, tell)
        training_seconds = time.perf_counter() - started  # this command's training and evaluation
    if interrupted():
        err.print(f"[yellow]{escape(interrupted_note(path, runs, settings.tolerance))}[/]", highlight=False)
        raise typer.Exit(130)
    return path, runs, every, training_seconds


def _run(task: Any, todo: list[ProbeRun], base: TrainConfig, settings: ProbeSettings, writer: Any, bars: ProbeBars,
         interrupted: Any, model_file: Path, overrides: dict[str, Any], path: Path, *, replicas: int, jobs: int,
         devices: list[str] | None, backend: str, scheduler: str | None, notice: Callable[[str], None],
         threads: int | None) -> None:
    """Probes here, one process (batched or not), or as parallel jobs (--jobs, --devices, --backend dask)."""
    from l2advisor.probing.parallel import run_parallel, worker_jobs
    from l2advisor.probing.probe import run_probes

    if not (jobs := worker_jobs(jobs, devices, backend)):
        run_probes(task, todo, base, settings, writer.write, bars, interrupted, replicas=replicas, notice=notice)
        return
    run_parallel(model_file, overrides, todo, base, settings, path, jobs=jobs, replicas=replicas,
                 devices=devices, backend=backend, scheduler=scheduler, write=writer.write, progress=bars,
                 interrupted=interrupted, notice=notice, threads=threads)


def notice(text: str) -> None:
    """One sentence for the user on stderr (how the probes run, why more were added)."""
    err.print(f"[yellow]{escape(text)}[/]", highlight=False)


def probe_outcome(path: Path, runs: list[ProbeRun], every: list[ProbeRun], tolerance: float
                  ) -> tuple[list[RunState], list[dict[str, Any]], list[str]]:
    """After `probe_into`: every probe's recorded state, its summary row, and the follow-up probes' ids."""
    from l2advisor.probing.probe import summarize

    results = read_results(path)
    states = [results.runs[r.run_id] for r in every if r.run_id in results.runs]
    return states, summarize(states, tolerance), [r.run_id for r in every[len(runs):]]

