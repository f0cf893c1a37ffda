"""`l2advisor train FILE --budget N`: one full run at a constant weight decay or with AutoL2;
with --advise, the probes and the advice first, in the same process (advise_first.py).

The run goes through the one training loop (`l2advisor.training.train.train`) and is stored like a
probe: `<out>/train.jsonl` holds a header (command "train"), then per run a `start` record,
its `eval` records (lam and lr at each evaluation included, flushed as they arrive) and an
`end` record with the AutoL2 decay events. Runs with other seeds or weight decays append to
the same file; re-running an identical command replaces that run.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.markup import escape

from l2advisor.cli.advise_first import advise_first, advised_autol2, check_advise
from l2advisor.cli.app import (
    INTERRUPTED,
    Threads,
    app,
    as_flags,
    catch_interrupt,
    err,
    flag_names,
    handle_errors,
    load_task,
    out,
    say_notes,
    use_threads_for,
)
from l2advisor.cli.budget import (
    UNIT_HELP,
    budget_steps,
    check_budget,
    refuse_other_models_probes,
    small_set_note,
)
from l2advisor.cli.decay_checks import say_strong_decay
from l2advisor.cli.json_out import print_json
from l2advisor.cli.train_view import TrainBar, against_prediction, summarize, summary_table
from l2advisor.errors import InputError, RunFailed
from l2advisor.probing.budget import budget_words
from l2advisor.runs.lock import RunLock
from l2advisor.runs.store import (
    SCHEDULE_RUN,
    make_header,
    open_results,
    read_results,
    refuse_other_settings,
)

if TYPE_CHECKING:  # torch: imported inside the command, so that `--help` never loads it
    import torch

    from l2advisor.training.autol2 import AutoL2
    from l2advisor.training.train import Record

EVALS_PER_RUN = 100  # default evaluation points per run, evenly spaced in steps
AUTOL2_FLAGS = ("lam0", "lam_min", "refractory_tau", "decay", "check_every", "patience")  # AutoL2's keywords with a flag here
NO_RESUME = "A run does not resume: the same command trains it again from step 0."  # said on Ctrl-C


def autol2_kwargs(lam0: float | None, flags: dict[str, Any], paper: bool, lr: float,
                  momentum: float) -> dict[str, Any]:
    """AutoL2's keyword arguments from the flags, checked on a stand-in optimizer.

    lam0 defaults to the paper's 0.1 with the preset, else to a per-step shrink
    lr*lam/(1-momentum) = 0.001 (a tenth of the probe ladder's top); `l2advisor recommend
    --autol2` fills it from the probes instead (the plateau edge, no higher than that).
    """
    import torch

    from l2advisor.science.autol2_setup import autol2_lam0
    from l2advisor.training.autol2 import PAPER_RULE, AutoL2

    given = {k: v for k, v in flags.items() if v is not None}
    if paper and given:
        names = ", ".join(flag_names(given))
        raise InputError(f"--paper-preset fixes the authors' rule; drop {names} (only --lam0 may be set).")
    if lam0 is None:
        lam0 = 0.1 if paper else autol2_lam0(lr, momentum)
    kwargs = {"lam0": lam0, **(PAPER_RULE if paper else given)}
    stand_in = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=lr)
    try:
        AutoL2(stand_in, **kwargs)
    except ValueError as error:
        raise InputError(f"Bad AutoL2 setting: {as_flags(str(error), AUTOL2_FLAGS).rstrip('.')}; see l2advisor train --help.") \
            from None
    return kwargs


def _refuse_other_train_settings(path: Path, header: dict[str, Any], advise: bool) -> None:
    """`refuse_other_settings` in `train`'s words: train.jsonl holds runs of one budget, schedule and
    model; what --force replaces (its runs) and, with --advise, keeps (the probes, reused)."""
    from l2advisor.runs.store import OtherSettings

    try:
        refuse_other_settings(path, header)
    except OtherSettings as other:
        kept = " (the probes beside it are kept and reused where they fit)" if advise else ""
        raise InputError(f"{other.conflict}. {path.name} keeps the runs of one setup (budget, lr schedule, "
                         "evaluation interval, model and its settings): "
                         f"--force replaces its runs with this one{kept}, or --out trains in another "
                         "directory.") from None


def run_label(weight_decay: float | None, autol2: dict[str, Any] | None, paper: bool, seed: int) -> str:
    """The run id inside train.jsonl: what the arm is, and the seed."""
    if autol2 is None:
        return f"lam={weight_decay:g}/seed={seed}"
    if paper:
        return f"autol2-paper/lam0={autol2['lam0']:g}/seed={seed}"
    shown = ",".join(f"{k}={v:g}" for k, v in autol2.items() if isinstance(v, (int, float)))
    return f"autol2/{shown}/seed={seed}"


@app.command("train")
@handle_errors
def train_command(
    model_file: Annotated[Path, typer.Argument(help="Your model file (build_model, build_data, optional settings).")],
    budget: Annotated[float, typer.Option(help="Length of the run, in --unit.")],
    unit: Annotated[str, typer.Option(help=UNIT_HELP)] = "steps",
    autol2: Annotated[bool, typer.Option("--autol2", help="Schedule the weight decay with AutoL2.")] = False,
    weight_decay: Annotated[float | None, typer.Option(help="A constant weight decay (torch's weight_decay).")] = None,
    advise: Annotated[bool, typer.Option("--advise", help="Probe first (the probes `l2advisor probe --budget` plans, "
                                                         "into the same run directory; a re-run reuses them), then "
                                                         "train at the weight decay `l2advisor recommend` advises "
                                                         "(advice.json; --lr-schedule and --warmup carry over; --json "
                                                         "adds it to the summary): one command, one start-up. With "
                                                         "--autol2: AutoL2 as `recommend --autol2` sets it.")] = False,
    probe_seeds: Annotated[str | None, typer.Option(help="--advise: seeds of the probes, comma-separated "
                                                         "[default: 0,1].", show_default=False)] = None,
    weight_decay_schedule: Annotated[Path | None, typer.Option(help="Replay a weight-decay trajectory (the wd_trajectory.json an --autol2 run writes).")] = None,
    lr_schedule: Annotated[str, typer.Option(help="constant, cosine (to 0 at the end), linear (to 0 at the end) or step (x0.1 at 50% and 75%).")] = "constant",
    warmup: Annotated[int, typer.Option(help="Steps of linear lr warmup ((step+1)/warmup x lr) before the schedule.")] = 0,
    seed: Annotated[int, typer.Option(help="Seed of the initialisation and the data order.")] = 0,
    out_dir: Annotated[Path | None, typer.Option("--out", help="Run directory [default: runs/<file name>].")] = None,
    eval_every: Annotated[int | None, typer.Option(help="Steps between evaluations [default: budget/100].")] = None,
    lam0: Annotated[float | None, typer.Option(help="AutoL2: starting weight decay [default: lam with lr*lam/(1-momentum) = 0.001; 0.1 with --paper-preset].")] = None,
    refractory_tau: Annotated[float | None, typer.Option(help="AutoL2: least tau = sum lr*lam between decays [default: 1 - momentum, one weight-decay time].")] = None,
    lam_min: Annotated[float | None, typer.Option(help="AutoL2: floor for the weight decay [default: lam0/1e4].")] = None,
    decay: Annotated[float | None, typer.Option(help="AutoL2: divide lam by this at each decay [default: 2; the paper's rule: 10].")] = None,
    check_every: Annotated[int | None, typer.Option(help="AutoL2: steps between checks [default: 10].")] = None,
    patience: Annotated[int | None, typer.Option(help="AutoL2: stalled checks that trigger a decay [default: 2].")] = None,
    paper_preset: Annotated[bool, typer.Option("--paper-preset", help="AutoL2 exactly as the authors: raw minibatch checks, refractory 0.1/lam steps, no floor.")] = False,
    lr: Annotated[float | None, typer.Option(help="Override the file's learning rate (the schedule's peak).")] = None,
    batch_size: Annotated[int | None, typer.Option(help="Override the file's batch size.")] = None,
    momentum: Annotated[float | None, typer.Option(help="Override the file's momentum.")] = None,
    optimizer: Annotated[str | None, typer.Option(help="Override the file's optimizer: sgd or adamw.")] = None,
    device: Annotated[str, typer.Option(help="auto, cpu, cuda or cuda:N.")] = "auto",
    force: Annotated[bool, typer.Option(help="Discard the run directory's train.jsonl and start over (with "
                                             "--advise, also probes that cannot be reused: other settings or an "
                                             "edited model file).")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the summary as JSON on stdout.")] = False,
    threads: Threads = None,
) -> None:
    """Train once for the whole budget, at a given weight decay, an advised one (--advise) or with AutoL2 (--autol2, advised with --advise)."""
    from l2advisor.runs.rundir import TRAIN_FILE, results_path
    from l2advisor.training.autol2 import AutoL2
    from l2advisor.training.lr_schedules import SCHEDULES, make_lr_at
    from l2advisor.training.train import TrainConfig, resolve_device, train
    from l2advisor.training.trajectory import (
        TRAJECTORY_FILE,
        ReplaySchedule,
        WeightDecayTrajectory,
        read_trajectory,
        replay_notes,
        write_trajectory,
    )

    autol2_flags = {"refractory_tau": refractory_tau, "lam_min": lam_min, "decay": decay,
                    "check_every": check_every, "patience": patience}
    use_autol2 = autol2 or paper_preset
    seeds = check_advise(advise, weight_decay, paper_preset, {**autol2_flags, "lam0": lam0} if autol2 else {},
                         weight_decay_schedule, probe_seeds)
    if use_autol2 and weight_decay is not None:
        raise InputError(f"Give either {'--autol2' if autol2 else '--paper-preset (AutoL2)'} or --weight-decay, "
                         "not both.")
    if weight_decay_schedule is not None and (use_autol2 or weight_decay is not None):
        given = [f for f, on in (("--autol2", autol2), ("--paper-preset", paper_preset),
                                 ("--weight-decay", weight_decay is not None)) if on]
        raise InputError(f"--weight-decay-schedule replays a whole schedule: drop {' and '.join(given)}.")
    replay = read_trajectory(weight_decay_schedule) if weight_decay_schedule is not None else None
    if replay is not None:
        weight_decay = replay.lams[0]
    if not use_autol2:
        stray = flag_names(k for k, v in {**autol2_flags, "lam0": lam0}.items() if v is not None)
        if stray:
            raise InputError(f"{', '.join(stray)} only appl{'y' if len(stray) > 1 else 'ies'} with --autol2.")
        if weight_decay is None and not advise:
            raise InputError("Give --weight-decay X (e.g. from `l2advisor recommend`), --advise or --autol2.")
        if weight_decay is not None and not (math.isfinite(weight_decay) and weight_decay >= 0):
            raise InputError(f"--weight-decay must be a finite number >= 0, got {weight_decay!r}.")
    if lr_schedule not in SCHEDULES:
        raise InputError(f"--lr-schedule must be one of {', '.join(SCHEDULES)}, got {lr_schedule!r}.")
    if warmup < 0:
        raise InputError(f"--warmup must be a whole number of steps >= 0, got {warmup}.")
    if eval_every is not None and eval_every < 1:
        raise InputError(f"--eval-every must be >= 1 step, got {eval_every}.")
    from l2advisor.modelfile.spec import load_spec

    check_budget(budget, unit)
    if unit == "steps" and warmup >= budget:  # said before the model file and torch load, where it can be
        raise InputError(f"--warmup ({warmup} steps) must be shorter than the run ({budget:g} steps).")
    overrides = {"lr": lr, "batch_size": batch_size, "momentum": momentum, "optimizer": optimizer}
    spec = load_spec(model_file, overrides)
    say_notes(spec)
    say_strong_decay(spec, weight_decay, "--weight-decay")
    say_strong_decay(spec, lam0, "--lam0")
    kwargs = autol2_kwargs(lam0, autol2_flags, paper_preset, spec.lr, spec.momentum) if use_autol2 else None
    # (--advise --autol2: checked now with the defaults, then set from the probes' advice below)
    torch_device = resolve_device(device)
    task = load_task(spec)
    err.print(f"[dim]Threads: {use_threads_for(task, threads)}[/]", highlight=False)
    if (note := small_set_note(task.train_size, spec.batch_size)) is not None:
        err.print(f"[yellow]{note}[/]", highlight=False)
    steps = budget_steps(budget, unit, task.train_size, spec.batch_size)
    if warmup >= steps:
        raise InputError(f"--warmup ({warmup} steps) must be shorter than the run ({steps} steps).")
    every = eval_every or max(1, steps // EVALS_PER_RUN)
    if every > steps:
        raise InputError(f"The budget ({steps} steps) is shorter than one evaluation interval "
                         f"(--eval-every {every}); lower --eval-every or raise --budget.")
    for note in replay_notes(replay, str(weight_decay_schedule), steps, lr_schedule, spec.lr, warmup) \
            if replay is not None else ():
        err.print(f"[yellow]{escape(note)}[/]", highlight=False)
    run_dir = out_dir or Path("runs") / spec.name
    header = make_header("train", {**spec.settings(), "train_size": task.train_size, "budget_steps": steps,
                                   "lr_schedule": lr_schedule, "eval_every": every,
                                   **({"warmup": warmup} if warmup else {})}, str(torch_device))
    path = results_path(run_dir, TRAIN_FILE)
    if not (seeds is not None and force):  # --advise --force starts another model's probes over
        refuse_other_models_probes(run_dir, spec.sha256, spec.path)
    advice = None
    if not force:  # said before anything runs (with --advise, before the probes)
        _refuse_other_train_settings(path, header, seeds is not None)
    if seeds is not None:
        weight_decay, advice = advise_first(spec, task, run_dir, str(torch_device), steps, (budget, unit), seeds=seeds,
                                            lr_schedule=lr_schedule, warmup=warmup, overrides=overrides, force=force,
                                            autol2=use_autol2)
        if use_autol2:
            kwargs = autol2_kwargs(*advised_autol2(advice, autol2_flags), False, spec.lr, spec.momentum)
    lam = kwargs["lam0"] if kwargs else float(weight_decay)  # type: ignore[arg-type]
    applied = "autol2" if kwargs else "weight_decay"  # which part of an advice the run follows
    config = TrainConfig(lr=spec.lr, batch_size=spec.batch_size, max_steps=steps, eval_every=every, seed=seed,
                         momentum=spec.momentum, optimizer=spec.optimizer, device=str(torch_device))
    run_id = run_label(weight_decay, kwargs, paper_preset, seed)
    if replay is not None:
        run_id = f"{SCHEDULE_RUN}{Path(weight_decay_schedule).name}/seed={seed}"  # type: ignore[arg-type]
    made: list[AutoL2] = []

    def factory(opt: torch.optim.Optimizer) -> AutoL2:
        made.append(AutoL2(opt, param_groups="nonzero", **kwargs))  # type: ignore[arg-type]
        return made[0]

    with RunLock(run_dir) as lock, open_results(path, header, force=force) as writer:
        if lock.stale_taken_over:
            err.print(f"[yellow]Took over a stale lock left by process {lock.stale_taken_over}.[/]")
        if run_id in read_results(path).runs:
            err.print(f"[yellow]{path} already holds run {run_id}: this run replaces it.[/]")
        warming = f", {warmup} warmup steps" if warmup else ""
        err.print(f"Training {spec.path.name} on {torch_device}: {run_id}, {budget_words(budget, unit, steps)} "
                  f"({lr_schedule} lr {spec.lr:g}{warming}), evaluating every {every} steps; results in {path}")
        writer.write({"type": "start", "run": run_id, "lam": lam, "lr": spec.lr, "seed": seed, "max_steps": steps,
                      "eval_every": every, "lr_schedule": lr_schedule, "warmup": warmup, "autol2": kwargs,
                      "paper_preset": paper_preset,
                      **({"advice": advice, "advice_applied": applied} if advice else {})})  # advice.json may change
        bar = TrainBar(steps, "autol2" if kwargs else f"lam {lam:g}")

        def on_eval(record: Record) -> None:
            writer.write({"type": "eval", "run": run_id, **record})
            bar.update(record, made[0] if made else None)

        with bar.bars, catch_interrupt(f"What was measured so far is kept. {NO_RESUME}") as interrupted:
            replayer = (lambda opt: ReplaySchedule(opt, replay, param_groups=[0])) if replay else None
            result = train(task, config, lam, scheduler_factory=factory if kwargs else replayer,
                           lr_at=make_lr_at(lr_schedule, spec.lr, steps, warmup), on_eval=on_eval,
                           should_stop=lambda records: "interrupted" if interrupted() else None)
        summary = summarize(result.records, made[0] if made else None, result)
        writer.write({"type": "end", "run": run_id, "status": result.status, "steps": result.steps,
                      "seconds": result.seconds, "message": result.message,
                      "final_lam": summary["final_lam"], "events": summary["lam_history"]})
    if made:  # lam against step, for --weight-decay-schedule and the callbacks to replay
        trajectory = WeightDecayTrajectory.from_events(
            kwargs["lam0"], made[0].events, lr=spec.lr, lr_schedule=lr_schedule, warmup=warmup,  # type: ignore[index]
            budget_steps=steps,
            source=run_id, extra={"autol2": kwargs, "seed": seed, "steps_run": result.steps,
                                  "status": result.status})  # how a cut-short one ended
        err.print(f"Wrote the weight-decay trajectory to {write_trajectory(run_dir / TRAJECTORY_FILE, trajectory)}")
    failure = (f"The run {result.status} at step {result.steps}: "
               f"{result.message or 'the training loss or the weights became non-finite'}"
               if result.status in ("failed", "diverged") else None)
    error = ({"error": failure, "exit_code": RunFailed.exit_code} if failure else
             {"error": f"interrupted (Ctrl-C) at step {result.steps}", "exit_code": INTERRUPTED}
             if result.status == "interrupted" else {})
    if as_json:  # a failed or interrupted run's summary carries the error, as every --json error does
        print_json({"run_dir": str(run_dir), "run": run_id, **summary,
                    **({"advice": advice, "advice_applied": applied} if advice else {}), **error})
    else:
        out.print(summary_table(summary, spec.metric_name, autol2=bool(made)))
        if advice:
            if (said := against_prediction(summary, advice, applied, spec.metric_name)) is not None:
                err.print(escape(said), highlight=False)
            err.print(f"The probes' evidence in figures: [bold]l2advisor report {run_dir}[/]")
    if result.status == "interrupted":
        err.print(f"[yellow]Interrupted at step {result.steps}; what was measured is in {path}. {NO_RESUME}[/]")
        raise typer.Exit(INTERRUPTED)
    if failure is not None:
        raise RunFailed(failure)
