"""What `l2advisor recommend` does, behind its option parsing (advice.py); `report` is in
report_run.py and uses load_and_fit from here.

It reads the finished probes of a run directory, fits the relations (writing `fit.json`) and
advises for a budget (writing `advice.json`; a panel or JSON on stdout). Under an lr schedule
the advice's own numbers (`budget_steps`, `predicted_peak_step`) stay in constant-lr steps, the
tau clock's; the schedule view adds the run's (`run_steps`, `peak_step`). The math is in
science/fit.py and advise.py, the panel in advice_panel.py; this module orchestrates, stores and prints. advice.py
imports it when a command runs, so `--help` never loads numpy.
"""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path
from typing import Any

from rich.markup import escape

from l2advisor.cli.advice_panel import advice_panel
from l2advisor.cli.app import err, out
from l2advisor.cli.autol2_advice import autol2_flags, autol2_snippet, print_autol2
from l2advisor.cli.budget import budget_steps, check_unit_has_budget
from l2advisor.cli.json_out import print_json
from l2advisor.errors import InputError
from l2advisor.probing.budget import budget_words, far_budget_warning, halved_window_note
from l2advisor.probing.follow_up import gaps_with_follow_up
from l2advisor.reporting.data import run_peak_step
from l2advisor.runs.lock import running_holder
from l2advisor.runs.rundir import (
    MADE_IN_KEY,
    PLAN_KEY,
    SIZED_FOR_KEY,
    ProbeGap,
    advice_lr,
    baseline_of,
    load_probe_curves,
    sized_for,
    unusable_error,
)
from l2advisor.runs.store import Results, read_json, write_json
from l2advisor.science.advise import (
    Advice,
    advice_flags,
    advice_to_dict,
    advise,
    caveats,
)
from l2advisor.science.autol2_setup import AutoL2Advice, autol2_config
from l2advisor.science.curves import Curve
from l2advisor.science.fit import (
    MIN_LAMS,
    Fit,
    fit_to_dict,
    nothing_learned,
)
from l2advisor.science.fit_memo import fit_once, remembered
from l2advisor.science.schedules import SCHEDULES, schedule_budget
from l2advisor.science.verdict import FAILS, PROBE_LONGER

FIT_FILE, ADVICE_FILE = "fit.json", "advice.json"
DEFAULT_TOLERANCE = 0.005


def load_and_fit(run_dir: Path, refuse_pending: bool = True, lr: float | None = None
                 ) -> tuple[Results, list[Curve], Fit, tuple[list[ProbeGap], list[ProbeGap]]]:
    """Finished probes -> Fit, with the probe's own tolerance, read at `lr` where it was probed
    (default: the model file's lr; see `fit_relations`' main_lr); writes fit.json. Reader
    warnings (e.g. a skipped partial line) and planned probes the fit lacks go to stderr."""
    if not Path(run_dir).is_dir():
        raise InputError(f"{run_dir} is not a directory; give the run directory that `l2advisor probe` wrote.")
    results, curves = load_probe_curves(run_dir)
    for warning in results.warnings:
        err.print(f"[yellow]{escape(warning)}[/]", highlight=False)
    settings = results.header.get("settings", {})
    tolerance = (settings.get("probe") or {}).get("tolerance", DEFAULT_TOLERANCE)
    fit = fit_once(curves, float(tolerance), main_lr=advice_lr(settings, lr), baseline=baseline_of(results.header))
    write_json(Path(run_dir) / FIT_FILE, fit_to_dict(fit))
    gaps = check_gaps(run_dir, results, fit, refuse_pending)
    if fit.n_usable == 0:
        raise unusable_error(fit.reasons, curves, run_dir)
    return results, curves, fit, gaps


def _names(gaps: list[ProbeGap], most: int = 8) -> str:
    shown = [f"{g.run} ({g.state})" for g in gaps[:most]]
    return ", ".join(shown) + (f" and {len(gaps) - most} more" if len(gaps) > most else "")


def check_gaps(run_dir: Path, results: Results, fit: Fit,
               refuse_pending: bool = True) -> tuple[list[ProbeGap], list[ProbeGap]]:
    """Name the planned probes the fit lacks (stderr). Refuse (`refuse_pending`) while probes
    are still to come and fewer than MIN_LAMS lams are usable: advice then would rest on a
    verdict about an unfinished design (figures of partial probes are still worth drawing).
    Returns (missing, failed), follow-up probes included."""
    missing, failed = gaps_with_follow_up(results)
    planned = len(results.header.get(PLAN_KEY) or results.runs)
    lams = {r.lam for r in fit.table if r.n_seeds > 0 and r.lr == fit.lr}
    running = running_holder(run_dir)
    again = (f"wait for the probe running in {run_dir} (pid {running}) to finish" if running is not None
             else "run the same `l2advisor probe` command again (it resumes)")
    if refuse_pending and missing and len(lams) < MIN_LAMS:
        raise InputError(f"{len(missing)} of the {planned} planned probes in {run_dir} have not finished "
                         f"({_names(missing)}) and only {len(lams)} lam(s) have usable probes; a fit needs "
                         f"{MIN_LAMS}. To finish them, {again}.")
    if missing:
        err.print(f"[yellow]Warning: {len(missing)} of the {planned} planned probes have not finished and "
                  f"are left out of this fit: {escape(_names(missing))}. The advice may change once they "
                  f"finish: {again}.[/]", highlight=False)
    if failed:
        err.print(f"[yellow]Warning: {len(failed)} of the {planned} planned probes failed or diverged and are "
                  f"left out of this fit: {escape(_names(failed))}.[/]", highlight=False)
    return missing, failed


def _budget(results: Results, budget: float, unit: str) -> int:
    """--budget in steps; epochs use the probe header's train size and batch size."""
    settings = results.header.get("settings", {})
    size, batch = settings.get("train_size"), settings.get("batch_size")
    if unit == "epochs" and not (isinstance(size, int) and isinstance(batch, int) and size > 0 and batch > 0):
        raise InputError("--unit epochs needs the training set size and batch size, which this probe "
                         "file's header lacks; give --budget in steps.")
    steps = budget_steps(budget, unit, size or 1, batch or 1)
    given = results.header.get(SIZED_FOR_KEY) or {}
    if unit == "steps" and given.get("unit") == "epochs" and given.get("value") == budget and given.get("steps") != steps:
        err.print(f"[yellow]--budget {budget:g} is read as steps; the probes were sized for {budget:g} epochs "
                  f"({given.get('steps')} steps): add --unit epochs if you meant those.[/]", highlight=False)
    return steps


def _sized_for(results: Results, run_dir: Path) -> tuple[float, str]:
    """The budget `probe --budget` sized these probes for, in the unit it was given (`sized_for`),
    said on stderr; none: exit 2."""
    sized = ((results.header.get("settings", {}).get("probe") or {}).get("budget_steps"))
    if not isinstance(sized, int) or sized < 1:
        raise InputError(f"Give --budget: the probes in {run_dir} were not sized for a budget (`probe` without --budget).")
    budget, unit = sized_for(results.header, sized)
    err.print(f"No --budget: advising for the {budget_words(budget, unit, sized)} the probes were sized for.",
              highlight=False)
    return budget, unit


def _check_schedule(name: str, warmup: int, steps: int) -> bool:
    """True when the run is not plain constant lr (a known `name`); one sentence for a bad warmup."""
    if not 0 <= warmup < steps:
        raise InputError(f"--warmup must be a whole number of steps in [0, {steps}) (the budget), got {warmup}.")
    return name != "constant" or warmup > 0


def _check_lr(lr: float | None) -> None:
    if lr is not None and not (math.isfinite(lr) and lr > 0):
        raise InputError(f"--lr must be a finite number > 0, got {lr!r}.")


def schedule_view(name: str, warmup: int, steps: int, advice: Advice, constant_lr_wd: float) -> dict[str, Any]:
    """What an lr schedule does to the advice, for the JSON and the panel: the run's `steps` of
    the schedule reach the tau of `effective_steps` constant-lr steps (advice.budget_steps),
    `lr_integral` = effective_steps / steps; `peak_step`: where the run reaches the peak's tau."""
    sb = schedule_budget(name, steps, warmup)
    return {"lr_schedule": name, "warmup": warmup, "run_steps": steps, "effective_steps": sb.effective_steps,
            "lr_integral": sb.lr_integral, "constant_lr_weight_decay": constant_lr_wd,
            "peak_step": run_peak_step(advice, name, steps, warmup)}


def has_train_accuracy(curves: list[Curve]) -> bool:
    """Whether the probes recorded a training accuracy (a regression's train_acc is NaN throughout)."""
    return any(math.isfinite(float(acc)) for cv in curves for acc in cv.train_acc)


def fit_summary(fit: Fit) -> dict[str, Any]:
    """What the panel's verdict line shows of the fit (fit.json has the rest)."""
    return {"b": fit.b, "b_interval": list(fit.b_interval), "steps_over_tau": fit.steps_over_tau,
            "alpha": fit.alpha, "alpha_interval": list(fit.alpha_interval), "lam_c": fit.lam_c,
            "train_acc": fit.train_acc, "n_probes": fit.n_usable, "lr": fit.lr,
            # the c the probes measured, and whether it is a bound ("lower": the panel's "c >= 3.19";
            # the advice's own c, the typical 4 under "cannot tell", is the record's "c")
            "c": fit.c, "c_interval": list(fit.c_interval), "c_bound": fit.c_bound,
            "excluded": [{"lam": e.lam, "lr": e.lr, "seed": e.seed, "reason": e.reason} for e in fit.excluded]}


@dataclasses.dataclass(frozen=True)
class Recommendation:
    """What `recommend` wrote to advice.json (`record`) and what its panel shows."""

    record: dict[str, Any]
    advice: Advice
    fit: Fit
    autol2: AutoL2Advice | None
    schedule: dict[str, Any] | None  # the schedule view, under an lr schedule
    metric: str


def make_recommendation(run_dir: Path, budget: float | None, unit: str, lr: float | None, autol2: bool,
                        lr_schedule: str, warmup: int, made_by: str = "recommend") -> Recommendation:
    """Fit the finished probes of `run_dir` and advise for the budget; writes fit.json and
    advice.json (`made_by`: the command, as `report` names it). Notes (a far budget, missing
    probes) go to stderr. Without a budget: the one the probes were sized for."""
    check_unit_has_budget(budget, unit, "the budget the probes were sized for")
    if lr_schedule not in SCHEDULES:  # before anything is read or said about the probes
        raise InputError(f"--lr-schedule must be one of {', '.join(SCHEDULES)}, got {lr_schedule!r}.")
    _check_lr(lr)
    if budget is not None and (not math.isfinite(budget) or budget <= 0):
        raise InputError(f"--budget must be a finite number > 0, got {budget!r}.")
    results, curves, fit, (missing, failed) = load_and_fit(run_dir, lr=lr)
    if budget is None:
        budget, unit = _sized_for(results, run_dir)
    steps = _budget(results, budget, unit)
    scheduled = _check_schedule(lr_schedule, warmup, steps)
    # a schedule is advised as its constant-lr equivalent on the tau clock: T_eff = sum_t lr_t / lr
    advice_steps = max(1, round(schedule_budget(lr_schedule, steps, warmup).effective_steps)) if scheduled else steps
    advice = advise(fit, advice_steps, lr, results.momentum)  # budget and lr checked above: an exception here is a bug
    cfg = autol2_config(fit, advice_steps, lr, momentum=results.momentum) if autol2 else None
    if cfg is not None and scheduled:  # AutoL2 runs on the tau clock; the run is the scheduled one
        cfg = dataclasses.replace(cfg, budget_steps=steps)
    sv = schedule_view(lr_schedule, warmup, steps, advice, advise(fit, steps, lr, results.momentum).weight_decay) if scheduled else None
    settings = results.header.get("settings", {})
    sized_for = (settings.get("probe") or {}).get("budget_steps")
    if (far := far_budget_warning(results, steps, measured=advice.verdict == FAILS)) is not None:
        err.print(f"[yellow]{escape(far)}[/]", highlight=False)
    if any(PROBE_LONGER in r for r in fit.reasons) and (halved := halved_window_note(results.header)):
        err.print(f"[yellow]{escape(halved)}[/]", highlight=False)
    gaps = {"missing_probes": [g.to_dict() for g in missing], "failed_probes": [g.to_dict() for g in failed]}
    schedule = sv or {"lr_schedule": "constant", "warmup": 0, "lr_integral": 1.0}
    record = {**advice_to_dict(advice), "caveats": caveats(fit, advice), **advice_flags(advice, fit),
              "budget": budget, "unit": unit,
              "run_dir": str(run_dir), **gaps, **schedule, "probes_sized_for_steps": sized_for,
              "fit": fit_summary(fit), "made_by": made_by}
    if cfg is not None:
        flags: str | None = autol2_flags(cfg, settings.get("model_file", "MODEL_FILE"), settings)
        if scheduled:
            flags += f" --lr-schedule {lr_schedule}" + (f" --warmup {warmup}" if warmup else "")
        if results.header.get(MADE_IN_KEY) == "python":  # its model_file is where build_model was defined
            flags = None
        snippet = autol2_snippet(cfg, results.optimizer, results.momentum, has_train_accuracy(curves),
                                 lr_schedule, warmup)
        record["autol2"] = {**cfg.to_dict(), "train_command": flags, "snippet": snippet, **gaps, **schedule,
                            "fit": record["fit"]}
    dropped = cfg is None and _held_autol2(Path(run_dir) / ADVICE_FILE)
    write_json(Path(run_dir) / ADVICE_FILE, record)
    if dropped:
        err.print(f"[yellow]{ADVICE_FILE} held an AutoL2 setup (which AutoL2.from_advice and the callbacks' "
                  f"from_advice read); this advice, without --autol2, replaces it: `l2advisor recommend {escape(str(run_dir))} "
                  "--autol2` writes one again.[/]", highlight=False)
    return Recommendation(record, advice, fit, cfg, sv, settings.get("metric", "metric"))


def _held_autol2(path: Path) -> bool:
    """Whether an advice.json already there holds an AutoL2 setup (an unreadable one holds none)."""
    try:
        return path.is_file() and isinstance(read_json(path).get("autol2"), dict)
    except (OSError, InputError):  # unreadable or of another schema: the advice written replaces it anyway
        return False


def recommend_command(run_dir: Path, budget: float, unit: str, lr: float | None, as_json: bool, autol2: bool,
                      lr_schedule: str, warmup: int) -> None:
    """`l2advisor recommend`: see its help."""
    with remembered():  # the check for missing follow-ups and the advice fit the same probes
        made = make_recommendation(run_dir, budget, unit, lr, autol2, lr_schedule, warmup)
    record, cfg = made.record, made.autol2
    if as_json:
        shown = record["autol2"] if cfg is not None else record
        print_json({"schema_version": 1, **shown})
    elif cfg is not None:
        print_autol2(cfg, record["autol2"]["train_command"], record["autol2"]["snippet"])
    if cfg is not None and nothing_learned(made.fit.reasons):  # the panel's "but" row, where no panel is shown
        err.print("[bold red]The probes learned nothing[/]: this AutoL2 setup, made from them, means nothing until "
                  f"they do; `l2advisor recommend {escape(str(run_dir))}` without --autol2 says what to check.")
    if cfg is None and not as_json:
        epochs = record["budget"] if record["unit"] == "epochs" else None
        out.print(advice_panel(made.advice, made.fit, made.metric, made.schedule, epochs), soft_wrap=False)
    # in every form: --autol2 and --json replaced advice.json (which `report` shows) without a word
    err.print(f"Wrote {Path(run_dir) / ADVICE_FILE} and {FIT_FILE}; figures: [bold]l2advisor report {run_dir}[/]")
