"""`l2advisor.recommend(...)` and `l2advisor.report(...)`: the advice and the figures, from the
results `probe` returned or from a run directory, as `l2advisor recommend` / `report` do.

Nothing here prints: what the command line shows on stderr (skipped lines, missing or failed
probes) comes back in `Recommendation.warnings`.
"""

from __future__ import annotations

import dataclasses
import math
import numbers
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from l2advisor.api.keywords import check_path, is_real, on_off
from l2advisor.api.probes import ProbeResults
from l2advisor.api.words import api_lines, speaks_api
from l2advisor.errors import InputError
from l2advisor.probing.budget import UNITS, budget_in_steps, far_budget_warning, halved_window_note
from l2advisor.probing.follow_up import gaps_with_follow_up
from l2advisor.runs.rundir import (
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
    advice_from_dict,
    advice_to_dict,
    advise,
    caveats,
)
from l2advisor.science.autol2_setup import AutoL2Advice, autol2_config
from l2advisor.science.curves import Curve
from l2advisor.science.fit import MIN_LAMS, Fit, fit_relations, fit_to_dict
from l2advisor.science.verdict import FAILS, PROBE_LONGER

FIT_FILE, ADVICE_FILE = "fit.json", "advice.json"  # as `l2advisor recommend` writes them
DEFAULT_TOLERANCE = 0.005
# the advice's reasons name probe's flags too ("probe smaller lams (--budget ...)"): said as its keywords
ADVICE_CALLS = ("recommend", "probe")


@dataclass(frozen=True)
class Recommendation:
    """The advice for one budget: `weight_decay` to pass to torch (SGD's or AdamW's), its
    `interval`, the `verdict` on the paper's relations, the metric to expect, and an AutoL2
    configuration from the same probes (`autol2`: lam0, decay, refractory_tau, lam_min).
    NaN where not measurable (None in `to_dict`). `reasons`, `caveats` and `warnings` name the
    API's keywords where the command line's say its flags (words.py); `advice` and `fit` are the
    science core's, in the command line's words."""

    weight_decay: float
    interval: tuple[float, float]
    verdict: str  # "holds", "holds approximately", "cannot tell" (probe smaller lams) or "does not hold"
    lr: float
    budget_steps: int
    predicted_metric: float
    predicted_peak_step: float
    extrapolated: bool
    reasons: tuple[str, ...]
    warnings: tuple[str, ...]  # about the results: skipped lines, planned probes missing or failed
    advice: Advice = field(repr=False)
    autol2: AutoL2Advice = field(repr=False)
    fit: Fit = field(repr=False, compare=False)
    run_dir: Path | None = None
    lr_schedule: str = "constant"  # of the real run: its steps reach the tau of budget_steps constant-lr ones
    warmup: int = 0
    run_steps: int = 0  # the real run's length (budget_steps is its constant-lr equivalent T_eff)
    caveats: tuple[str, ...] = ()  # what could be wrong with the advice (the CLI panel's "caveats")
    budget: float | None = None  # the budget as given (in `unit`); run_steps is it in steps
    unit: str = "steps"

    @property
    def flags(self) -> dict[str, bool]:
        """As `recommend --json` says them: `predicted_metric_is_floor` ("at least": a "does not hold"
        advice's probed lam, whose longer run may climb further), `predicted_peak_step_is_assumed`
        (under "cannot tell" the step rests on a c the probes did not measure: the peak may come much
        earlier; under "does not hold" with a floor it is the probed lam's own peak step, which a longer
        run may pass; under "holds (approximately)" solved on the tau clock while the fitted b's interval
        leaves out 1, it is the run's end by construction; keep the best checkpoint) and `learned_nothing`
        (the advised lam then means nothing)."""
        return advice_flags(self.advice, self.fit)

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe: the advice's keys as in `l2advisor recommend --json` and advice.json, budget
        and unit as given among them (without the command's own: the schedule's details, missing
        and failed probes, which `warnings` names), plus autol2 and warnings; reasons and caveats
        as this object says them."""
        return {**advice_to_dict(self.advice), "reasons": list(self.reasons), "caveats": list(self.caveats),
                "autol2": self.autol2.to_dict(), "warnings": list(self.warnings),
                "budget": self.budget, "unit": self.unit,
                "lr_schedule": self.lr_schedule, "warmup": self.warmup, "run_steps": self.run_steps,
                "run_dir": None if self.run_dir is None else str(self.run_dir), **self.flags}


@speaks_api(*ADVICE_CALLS)
def recommend(results_or_run_dir: ProbeResults | str | Path, budget: int | None = None, *,
              lr: float | None = None, unit: str = "steps", lr_schedule: str = "constant", warmup: int = 0,
              write: bool = True) -> Recommendation:
    """The weight decay for a run of `budget` steps (or epochs with `unit="epochs"`) at `lr`
    (default: the probe lr), with the lr schedule `lr_schedule` ("constant", "cosine", "linear"
    or "step", after `warmup` steps of ramp) as `l2advisor recommend --lr-schedule` advises: for
    the constant-lr steps T_eff = sum lr_t / lr that reach the run's tau. `budget` defaults to
    the one given to `probe` (from its results, or from the run directory). With `write`, writes fit.json and advice.json into the run
    directory, as `l2advisor recommend` does, advice.json with the AutoL2 settings (its "autol2"
    entry, as `recommend --autol2` writes it) that the callbacks' `from_advice` read."""
    write = on_off("write", write)
    results, curves, run_dir = _load(results_or_run_dir)
    if budget is None:  # the budget given to `probe`: on its results, or in the run directory's header
        if unit != "steps":  # that budget was recorded in steps: a unit of its own would be ignored
            raise InputError(f"unit={unit!r} applies to budget=: give both, or neither for the budget the "
                             "probes were sized for (in steps).")
        budget = getattr(results_or_run_dir, "budget_steps", None) or \
            (results.header.get("settings", {}).get("probe") or {}).get("budget_steps")
        if budget is None:
            raise InputError("recommend needs a budget: the number of steps of the run you will train "
                             "(these probes were not sized for one).")
        budget, unit = sized_for(results.header, int(budget))  # in epochs where `probe` was given epochs
    run_steps = _steps(results, budget, unit)
    steps = _effective_steps(lr_schedule, warmup, run_steps)
    _check_lr(lr)
    fit, warnings = _fit(results, curves, run_dir, lr)
    if write and run_dir is not None:
        write_json(run_dir / FIT_FILE, fit_to_dict(fit))
    advice, cfg = advise(fit, steps, lr, results.momentum), autol2_config(fit, steps, lr, momentum=results.momentum)
    if (far := far_budget_warning(results, run_steps, measured=advice.verdict == FAILS)) is not None:
        warnings.append(far)
    if any(PROBE_LONGER in r for r in fit.reasons) and (halved := halved_window_note(results.header)):
        warnings.append(halved)
    cfg = dataclasses.replace(cfg, budget_steps=run_steps)  # as `recommend --autol2`: AutoL2 runs the real run
    if write and run_dir is not None:
        scheduled = steps != run_steps or lr_schedule != "constant"  # for `report`: the run, not its T_eff
        schedule = {"lr_schedule": lr_schedule, "warmup": int(warmup), "run_steps": run_steps} if scheduled else {}
        write_json(run_dir / ADVICE_FILE, {**advice_to_dict(advice), "caveats": caveats(fit, advice),
                                           "budget": budget, "unit": unit, "run_dir": str(run_dir), **schedule,
                                           "autol2": cfg.to_dict()})  # what the callbacks' from_advice read
    return Recommendation(weight_decay=advice.weight_decay, interval=advice.interval, verdict=advice.verdict,
                          lr=advice.lr, budget_steps=advice.budget_steps, predicted_metric=advice.predicted_metric,
                          predicted_peak_step=advice.predicted_peak_step, extrapolated=advice.extrapolated,
                          reasons=api_lines(advice.reasons, ADVICE_CALLS), warnings=api_lines(warnings, ADVICE_CALLS),
                          advice=advice, autol2=cfg, fit=fit, run_dir=run_dir, lr_schedule=lr_schedule,
                          warmup=int(warmup), run_steps=run_steps, caveats=api_lines(caveats(fit, advice), ADVICE_CALLS),
                          budget=budget, unit=unit)


@speaks_api("report", "probe")
def report(run_dir_or_results: ProbeResults | str | Path, out: str | Path | None = None, *,
           budget: int | None = None, lr: float | None = None) -> list[Path]:
    """Draw the evidence (four PNGs and report.md) into `out` (default: the run directory) and
    return their paths. The advice marked on the figures is for `budget` (at `lr`, default the
    probe lr) when given, else the one saved by the last `recommend` (advice.json), else none."""
    from l2advisor.reporting.data import report_data, saved_advice_source, with_saved_run
    from l2advisor.reporting.page import write_report  # matplotlib: only when drawing

    _check_lr(lr)
    check_path("out", out)
    if lr is not None and budget is None:  # the saved advice is redone at its own lr: this one would be ignored
        raise InputError("report's lr= applies to budget=: give both, or neither for the advice the last "
                         "recommend saved.")
    results, curves, run_dir = _load(run_dir_or_results)
    raw = read_json(run_dir / ADVICE_FILE) if budget is None and run_dir is not None and \
        (run_dir / ADVICE_FILE).exists() else {}
    fit, _ = _fit(results, curves, run_dir, lr if budget is not None else (raw.get("lr") if isinstance(raw, dict) else None))
    advice, source = None, ""
    if budget is not None:
        advice = advise(fit, _steps(results, budget, "steps"), lr, results.momentum)
        source = "the budget given to report()"
    elif raw:
        saved = advice_from_dict(raw)
        advice = advise(fit, saved.budget_steps, saved.lr, results.momentum)
        source = saved_advice_source(raw)
    if out is None and run_dir is None:
        raise InputError("report needs `out`: these results have no run directory.")
    settings = results.header.get("settings", {})
    title = Path(str(settings.get("model_file", run_dir))).stem
    data = report_data(list(curves), fit, advice, title=title, metric_name=settings.get("metric", "metric"),
                       advice_source=source)
    data = with_saved_run(data, raw)  # the saved advice, for a scheduled run: its length and peak step
    return write_report(data, Path(out) if out is not None else run_dir)  # type: ignore[arg-type]


def _load(source: ProbeResults | str | Path) -> tuple[Results, list[Curve], Path | None]:
    if isinstance(source, ProbeResults):
        if not source.curves:
            raise InputError(f"{source.run_dir} has no finished probe yet; run `probe` to completion first.")
        return source.results, list(source.curves), Path(source.run_dir)
    if not isinstance(source, (str, Path)):
        raise InputError(f"expected the results of `probe` or a run directory, got {type(source).__name__}.")
    run_dir = Path(source)
    if not run_dir.is_dir():
        raise InputError(f"{run_dir} is not a directory; give the run directory that `probe` wrote.")
    results, curves = load_probe_curves(run_dir)
    return results, curves, run_dir


def _fit(results: Results, curves: list[Curve], run_dir: Path | None,
         lr: float | None = None) -> tuple[Fit, list[str]]:
    """The fit with the probe's own tolerance, read at `lr` where it was probed (default: the model
    file's lr), and what the command line would warn about."""
    settings = results.header.get("settings", {})
    tolerance = (settings.get("probe") or {}).get("tolerance", DEFAULT_TOLERANCE)
    fit = fit_relations(curves, tolerance=float(tolerance), main_lr=advice_lr(settings, lr),
                        baseline=baseline_of(results.header))
    where = run_dir or "the results"
    if fit.n_usable == 0:
        raise unusable_error(fit.reasons, curves, where)
    warnings = list(results.warnings)
    missing, failed = gaps_with_follow_up(results)
    lams = {r.lam for r in fit.table if r.n_seeds > 0 and r.lr == fit.lr}
    if missing and len(lams) < MIN_LAMS:
        raise InputError(f"{len(missing)} planned probes in {where} have not finished and only {len(lams)} "
                         f"lam(s) have usable probes; a fit needs {MIN_LAMS}. Run `probe` again (it resumes).")
    warnings += [f"{g.run} {g.state}: left out of the fit" for g in missing + failed]
    return fit, warnings


def _check_lr(lr: float | None) -> None:
    if lr is not None and not (is_real(lr) and math.isfinite(lr) and lr > 0):
        raise InputError(f"lr must be a finite number > 0, got {lr!r}.")


def _effective_steps(lr_schedule: str, warmup: int, run_steps: int) -> int:
    """Constant-lr steps with the tau of a `lr_schedule` run of `run_steps` steps."""
    from l2advisor.science.schedules import SCHEDULES, schedule_budget

    if lr_schedule not in SCHEDULES:
        raise InputError(f"lr_schedule must be one of {', '.join(SCHEDULES)}, got {lr_schedule!r}.")
    if isinstance(warmup, bool) or not isinstance(warmup, numbers.Integral) or not 0 <= warmup < run_steps:
        raise InputError(f"warmup must be a whole number of steps in [0, {run_steps}), got {warmup!r}.")
    if lr_schedule == "constant" and warmup == 0:
        return run_steps
    return max(1, round(schedule_budget(lr_schedule, run_steps, warmup).effective_steps))


def _steps(results: Results, budget: float, unit: str) -> int:
    """The budget in optimizer steps; epochs use the probe's train size and batch size."""
    if unit not in UNITS:
        raise InputError(f"unit must be steps or epochs, got {unit!r}.")
    if not (is_real(budget) and math.isfinite(budget) and budget > 0):
        raise InputError(f"budget must be a finite number > 0, got {budget!r}.")
    if unit == "steps":
        if budget != int(budget):
            raise InputError(f"budget in steps must be a whole number, got {budget!r}.")
        return int(budget)
    settings = results.header.get("settings", {})
    size, batch = settings.get("train_size"), settings.get("batch_size")
    if not (isinstance(size, int) and isinstance(batch, int) and size > 0 and batch > 0):
        raise InputError("unit='epochs' needs the training set size and batch size, which these results lack.")
    return budget_in_steps(budget, unit, size, batch)  # less than a step refused, as `probe` refuses it
