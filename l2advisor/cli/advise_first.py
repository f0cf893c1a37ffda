"""`l2advisor train FILE --budget N --advise [--autol2]`: probe, advise and train in one command.

The probes are the ones `l2advisor probe FILE --budget N` plans (sized for the budget, stored in
the same run directory as probes.jsonl, finished ones reused on a re-run), the advice the one
`l2advisor recommend RUN_DIR --budget N [--autol2]` gives (fit.json and advice.json written beside
them); then the budget run trains at the advised weight decay, or with --autol2 runs AutoL2 as the
advice configures it (the command `recommend --autol2` prints, under the same run id). One process: Python, torch and the data
are loaded once, where three commands load them three times (on a small model at a short
budget that start-up is a third of a budget run; `benchmarks/one_command_cost.py`).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from l2advisor.cli.app import err, flag_names
from l2advisor.cli.lists import parse_ints
from l2advisor.errors import InputError

if TYPE_CHECKING:
    from l2advisor.modelfile.spec import TaskSpec

PROBE_SEEDS = "0,1"  # probe's --seeds default: two seeds give the verdict its noise level


ADVISED_AUTOL2 = ("lam0", "refractory_tau", "lam_min", "decay")  # what `recommend --autol2` sets


def check_advise(advise: bool, weight_decay: float | None, paper_preset: bool, autol2_flags: dict[str, Any],
                 replay: Path | None, probe_seeds: str | None) -> tuple[int, ...] | None:
    """The probe seeds under --advise (None without it), once nothing else may choose the
    weight decay: --advise chooses the constant weight decay itself, and with --autol2 the
    AutoL2 settings `recommend --autol2` gives (`autol2_flags`: the ones given with --autol2, by
    name; without --autol2 the caller says they only apply with it)."""
    if not advise:
        if probe_seeds is not None:
            raise InputError("--probe-seeds only applies with --advise.")
        return None
    if weight_decay is not None:
        raise InputError("Give either --advise (the probes choose the weight decay) or --weight-decay, not both.")
    if paper_preset:
        raise InputError("--paper-preset fixes the authors' AutoL2 rule, which the probes do not set: drop --advise, "
                         "or use --advise --autol2 for the advised AutoL2 schedule.")
    if given := flag_names(k for k in ADVISED_AUTOL2 if autol2_flags.get(k) is not None):
        it = "them" if len(given) > 1 else "it"
        raise InputError(f"--advise --autol2 takes {', '.join(given)} from the probes (what `recommend --autol2` "
                         f"gives): drop {it}, or drop --advise to set AutoL2 yourself.")
    if replay is not None:
        raise InputError("--weight-decay-schedule replays a whole schedule: drop --advise.")
    from l2advisor.probing.probe import check_seeds

    seeds = parse_ints(PROBE_SEEDS if probe_seeds is None else probe_seeds, "--probe-seeds")
    check_seeds(seeds, "--probe-seeds")
    return seeds


def advise_first(spec: TaskSpec, task: Any, run_dir: Path, device: str, steps: int, budget: tuple[float, str], *,
                 seeds: tuple[int, ...], lr_schedule: str, warmup: int, overrides: dict[str, Any],
                 force: bool = False, autol2: bool = False) -> tuple[float, dict[str, Any]]:
    """Probe `run_dir` for a budget of `steps` (the user's `budget`: value and unit) and advise;
    returns the advised weight decay and the advice as advice.json holds it (with `autol2`, its
    "autol2" entry holds the AutoL2 configuration `recommend --autol2` gives). Progress, the
    probe table and the advice panel go to stderr (stdout is the training summary's). `force`:
    probes that cannot be reused start over (reusable ones, for another budget, are kept:
    --force is about the run, not the evidence)."""
    from l2advisor.science.fit_memo import remembered

    with remembered():  # the follow-up decision, the check for missing follow-ups, the advice: one fit
        return _probe_and_advise(spec, task, run_dir, device, steps, budget, seeds, lr_schedule, warmup, overrides,
                                 force, autol2)


def advised_autol2(advice: dict[str, Any], flags: dict[str, Any]) -> tuple[float, dict[str, Any]]:
    """(lam0, the other AutoL2 flags) of an advice made with autol2: its lam0, refractory time,
    floor and decay as `recommend --autol2` prints them (4 digits; the default decay left out),
    and the user's flags that the advice leaves alone (check_every, patience), in the order of
    `flags`: the run is the one the printed command trains, under the same run id."""
    from l2advisor.cli.autol2_advice import printed
    from l2advisor.science.autol2_setup import AUTOL2_DECAY

    cfg = advice["autol2"]
    advised = {"refractory_tau": float(printed(cfg["refractory_tau"])), "lam_min": float(printed(cfg["lam_min"])),
               "decay": None if cfg["decay"] == AUTOL2_DECAY else float(cfg["decay"])}
    merged = {k: advised[k] if k in advised else v for k, v in flags.items()}
    return float(printed(cfg["lam0"])), {k: v for k, v in merged.items() if v is not None}


def _probe_and_advise(spec: TaskSpec, task: Any, run_dir: Path, device: str, steps: int, budget: tuple[float, str],
                      seeds: tuple[int, ...], lr_schedule: str, warmup: int, overrides: dict[str, Any], force: bool,
                      autol2: bool) -> tuple[float, dict[str, Any]]:
    from l2advisor.cli.advice_panel import advice_panel
    from l2advisor.cli.advising import make_recommendation
    from l2advisor.cli.autol2_advice import autol2_panel
    from l2advisor.cli.probe import BATCH_REPLICAS, probe_into, probe_outcome
    from l2advisor.cli.probe_view import say_outcome, summary_table
    from l2advisor.probing.settings import probe_settings

    settings, plan = probe_settings(spec.lr, spec.momentum, seeds=seeds, budget_steps=steps, n_val=len(task.val),
                                    batch_size=spec.batch_size)
    path, runs, every, _ = probe_into(spec, task, settings, plan, run_dir, device, force=False,
                                      probe_budget_given=False, replicas=BATCH_REPLICAS, model_file=spec.path,
                                      overrides=overrides, restart_if_stale=force, budget=budget)
    states, rows, extra = probe_outcome(path, runs, every, settings.tolerance)
    err.print(summary_table(rows, spec.metric_name, console=err))
    say_outcome(states, rows, extra, spec)  # every probe failed: exit 1, nothing to advise from
    made = make_recommendation(run_dir, budget[0], budget[1], None, autol2, lr_schedule, warmup, "train --advise")
    if made.autol2 is not None:
        err.print(autol2_panel(made.autol2, title="l2advisor train --advise --autol2"), soft_wrap=False)
    else:
        epochs = budget[0] if budget[1] == "epochs" else None
        err.print(advice_panel(made.advice, made.fit, made.metric, made.schedule, epochs), soft_wrap=False)
    _refuse_if_nothing_learned(made.fit)
    return made.advice.weight_decay, made.record


def _refuse_if_nothing_learned(fit: Any) -> None:
    """No budget run from probes that learned nothing: the advice is known to mean nothing."""
    from l2advisor.science.failed_probes import DEAD_ADVISED_LR
    from l2advisor.science.fit import nothing_learned
    from l2advisor.science.learned import SOLVED_OPENING, smaller_lams

    if not nothing_learned(fit.reasons):
        return
    if fit.reasons[0].startswith(DEAD_ADVISED_LR):
        raise InputError("The probes learned nothing at this run's lr (the panel above says why), so no run was "
                         "trained: lower the lr or probe smaller lams at it, or train at a weight decay of your choice "
                         "with --weight-decay X.")
    if not fit.reasons[0].startswith(SOLVED_OPENING):
        raise InputError("The probes learned nothing (the panel above says what to check), so no run was "
                         "trained: weight decay at every probed lam may keep the model from learning (probe smaller "
                         f"lams: `l2advisor probe FILE --lambdas {smaller_lams(fit.lam_min_probed)}`), or fix the "
                         "model file, or train at a weight decay of your choice with --weight-decay X.")
    raise InputError("The probes learned nothing beyond the best untrained model (the panel above says more), so "
                     "no run was trained: a task solved before training has no weight decay to advise; train at "
                     "one of your choice with --weight-decay X, or fix the model file if it should learn more.")
