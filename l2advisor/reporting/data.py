"""The data behind a probe report: plain arrays from the curves, the `Fit` and the `Advice`.

Data extraction is kept apart from drawing (report.py), as Optuna keeps its plot data apart
from its plotting backends: this module imports numpy but not matplotlib, and what it returns
can be checked without drawing anything. It neither fits nor prints: the caller passes the Fit,
and the probe roles (plateau, t* fit) follow the same rules as fit.py.
Units: steps are optimizer steps, tau = lr*lam*steps, lam is torch's weight_decay.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

import numpy as np

from l2advisor.probing.budget import budget_words
from l2advisor.science.advise import Advice
from l2advisor.science.collapse import pool_members
from l2advisor.science.curves import Curve, analyze_curve, smooth
from l2advisor.science.fit import CANNOT, FAILS, MIN_LAMS, Fit, nothing_learned
from l2advisor.science.schedules import schedule_budget, steps_to_reach

if TYPE_CHECKING:
    from l2advisor.reporting.trained import TrainedRun

N_BOOT = 200


@dataclass(frozen=True, eq=False)  # holds arrays: compared by identity
class ProbeLine:
    """One probe, ready to draw: arrays of shape (n_evals,) with step > 0 (log axes)."""

    lam: float
    lr: float
    seed: int
    status: str
    steps: np.ndarray
    tau: np.ndarray
    raw: np.ndarray  # validation metric as recorded
    smoothed: np.ndarray  # as the fit reads it (curves.smooth)
    peak_metric: float
    t_star: float  # steps
    peaked: bool
    usable: bool  # used by the fit (not diverged, failed or empty)
    in_plateau: bool
    in_tstar_fit: bool  # one of the points of the t* regression
    pooled: bool = False  # one of the curves the pooled tau curve averages (fit.py's pool)


@dataclass(frozen=True, eq=False)
class ReportData:
    """Everything the figures and the summary need; no matplotlib objects."""

    title: str
    metric_name: str
    fit: Fit
    advice: Advice | None
    lines: tuple[ProbeLine, ...]
    band_x: np.ndarray  # 1/(lr*lam) grid of the t* band, shape (G,)
    band_lo: np.ndarray  # 2.5% of the bootstrapped fit lines (steps), shape (G,)
    band_hi: np.ndarray  # 97.5%
    advice_source: str = ""  # where the advice's budget came from, in words
    trained: tuple[TrainedRun, ...] = ()  # runs `l2advisor train` recorded beside the probes
    run_steps: int = 0  # under an lr schedule or warmup: the run's steps (the advice's budget is its tau)
    run_peak_step: float = math.nan  # and the run's step where the predicted peak's tau arrives
    run_schedule: tuple[str, int] = ("constant", 0)  # and its lr schedule and warmup steps
    budget_text: str = ""  # the saved advice's budget as `recommend` was given it, in epochs: "100 epochs (700 steps)"
    autol2: dict | None = None  # the AutoL2 setup saved with the advice (advice.json's "autol2"), as saved


@dataclass(frozen=True)
class AdviceMark:
    """The advice on the t* figure: the star at (x = 1/(lr*lam) at the advised lam, the budget's
    steps) and, when the advice's clock constant is not the pooled line's (under "cannot tell" it
    takes the typical c), the advice's own line steps = c/(lr*lam), which the star sits on."""

    x: float
    steps: float
    lam: float
    c: float  # the c the advice used; NaN without a formula ("does not hold")
    own_line: bool  # draw steps = c/(lr*lam) for the advice: it is not the pooled line
    label: str  # the star's legend entry: the budget and lam (and the c, without an own line)
    line_label: str  # the advice's own line: the c the advice used and where it came from
    vline_label: str  # the vertical line through the star


def _c_source(fit: Fit, advice: Advice) -> str:
    if advice.verdict != CANNOT:
        return "measured"
    if math.isfinite(fit.c) and math.isclose(advice.c, fit.c, rel_tol=1e-6):
        return "the probes' c, a lower bound: cannot tell"
    return "typical: cannot tell"


def advice_mark(fit: Fit, advice: Advice | None) -> AdviceMark | None:
    """Where and how the t* figure marks the advice; None when there is no advised lam > 0."""
    if advice is None or not math.isfinite(advice.weight_decay) or advice.weight_decay <= 0:
        return None
    a, wd = advice, advice.weight_decay
    x = 1.0 / (a.lr * wd)
    vline = f"advised lam = {wd:.3g} (at lr = {a.lr:.3g})"
    star = f"advice: budget {a.budget_steps} steps at lam = {wd:.3g}"
    if a.verdict == FAILS or not math.isfinite(a.c):
        return AdviceMark(x, float(a.budget_steps), wd, math.nan, False,
                          f"{star}\n(a measured lam: no formula, {a.verdict})", "", vline)
    line = f"advice: lam = c/(lr*T), c = {a.c:.3g} ({_c_source(fit, a)})"
    if math.isfinite(a.unclipped) and not math.isclose(a.unclipped, wd, rel_tol=1e-6):
        star += f"\n({'clipped down to lam_c' if wd < a.unclipped else 'raised to lam*'}: off the c line)"
    on_tau = math.isfinite(a.unclipped) and math.isclose(a.c / (a.lr * a.unclipped), a.budget_steps, rel_tol=1e-6)
    pooled_b = fit.b_used if math.isfinite(fit.b_used) and math.isfinite(fit.clock_ref) else 1.0
    own = bool(on_tau and (not math.isclose(a.c, fit.c, rel_tol=1e-6) or pooled_b != 1.0))
    if not own:  # the star is on the pooled line: its c is the advice's
        star += f", c = {a.c:.3g} ({_c_source(fit, a)})"
    return AdviceMark(x, float(a.budget_steps), wd, float(a.c), own, star, line, vline)


def _lines(curves: list[Curve], fit: Fit) -> list[ProbeLine]:
    """Per-probe arrays and the roles the fit gave each probe (same rules as fit.py)."""
    plateau = {(r.lr, r.lam) for r in fit.table if r.in_plateau}
    edge = {lr: max((lam for l2, lam in plateau if l2 == lr), default=-math.inf)
            for lr, _ in plateau}
    out, clearly_peaked = [], []
    for cv in curves:
        m = analyze_curve(cv, fit.tolerance)
        clearly_peaked.append(bool(m.peaked))
        steps = np.asarray(cv.steps, float)
        tau = np.where(np.isfinite(np.asarray(cv.tau, float)), cv.tau, cv.lr * cv.lam * steps)
        raw = np.asarray(cv.val_metric, float)
        n = min(steps.size, tau.size, raw.size)
        keep = steps[:n] > 0
        usable = (m.status != "failed" and not m.diverged and math.isfinite(m.peak_metric)
                  and cv.lam > 0 and cv.lr > 0)
        out.append(ProbeLine(
            lam=float(cv.lam), lr=float(cv.lr), seed=int(cv.seed), status=cv.status,
            steps=steps[:n][keep], tau=tau[:n][keep], raw=raw[:n][keep],
            smoothed=smooth(raw[:n])[keep], peak_metric=m.peak_metric, t_star=m.t_star,
            peaked=bool(m.peaked and m.t_star > 0), usable=bool(usable),
            in_plateau=(cv.lr, cv.lam) in plateau,
            in_tstar_fit=bool(usable and m.peaked and m.t_star > 0
                              and cv.lam <= edge.get(cv.lr, -math.inf))))
    if len({ln.lr * ln.lam for ln in out if ln.in_tstar_fit}) < MIN_LAMS:  # fit.py's fallback
        out = [replace(ln, in_tstar_fit=ln.usable and ln.peaked) for ln in out]
    plateau_lines = [ln.in_plateau and ln.usable and (not math.isfinite(fit.lr) or ln.lr == fit.lr) for ln in out]
    pooled = pool_members([p for p, keep in zip(clearly_peaked, plateau_lines, strict=True) if keep])
    members = iter(pooled)
    return [replace(ln, pooled=next(members)) if keep else ln for ln, keep in zip(out, plateau_lines, strict=True)]


def _band(lines: list[ProbeLine], n_boot: int = N_BOOT,
          seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """95% band of OLS lines log t* ~ log(1/(lr*lam)) over a bootstrap of the fit's points."""
    pts = [(1.0 / (ln.lr * ln.lam), ln.t_star) for ln in lines if ln.in_tstar_fit]
    if len({x for x, _ in pts}) < 2:
        return np.empty(0), np.empty(0), np.empty(0)
    x, y = np.log([p[0] for p in pts]), np.log([p[1] for p in pts])
    grid = np.linspace(x.min() - 0.3, x.max() + 0.3, 60)
    rng = np.random.default_rng(seed)
    preds = []
    for _ in range(n_boot):
        i = rng.integers(0, len(x), len(x))
        if np.ptp(x[i]) > 0:
            slope, icpt = np.polyfit(x[i], y[i], 1)
            preds.append(icpt + slope * grid)
    if not preds:
        return np.empty(0), np.empty(0), np.empty(0)
    lo, hi = np.percentile(np.array(preds), [2.5, 97.5], axis=0)
    return np.exp(grid), np.exp(lo), np.exp(hi)


def saved_advice_source(saved: dict) -> str:
    """Where a report's advice comes from when it redoes the one `recommend` saved (advice.json,
    as a dict): that command, and under an lr schedule the run it was for."""
    source = f"the budget of the last `l2advisor {saved.get('made_by', 'recommend')}` on this directory (advice.json)"
    schedule, warmup = saved.get("lr_schedule") or "constant", saved.get("warmup") or 0
    if saved.get("run_steps"):  # the schedule view: under an lr schedule or a warmup
        after = f" after {warmup} warmup steps" if warmup else ""
        source += (f": {saved['run_steps']} steps of {schedule} lr{after}, which the tau clock sees as "
                   f"{saved.get('budget_steps')} constant-lr steps")
    return source


def run_peak_step(advice: Advice, schedule: str, run_steps: int, warmup: int = 0) -> float:
    """The step of a `schedule` run of `run_steps` steps where the advice's predicted peak arrives:
    its tau, rescaled from the constant-lr budget the advice was sized for; inf when the run ends
    first (a step schedule held its last lr past the end: a peak "around step 56687" of a 2000-step
    run), NaN when nothing was predicted."""
    return run_step(advice.predicted_peak_step if advice.weight_decay > 0 else math.inf, advice, schedule, run_steps,
                    warmup)


def run_step(constant_steps: float, advice: Advice, schedule: str, run_steps: int, warmup: int = 0) -> float:
    """`run_peak_step` of any step on the constant-lr scale the advice was sized on (`constant_steps`
    of its `budget_steps`): where the `schedule` run reaches that tau; inf past the run's end."""
    constant_steps *= schedule_budget(schedule, run_steps, warmup).effective_steps / advice.budget_steps
    if not math.isfinite(constant_steps):
        return math.nan
    step = steps_to_reach(schedule, run_steps, constant_steps, warmup)
    return step if step <= run_steps else math.inf


def no_prediction(advice: Advice, fit: Fit) -> str | None:
    """Why an advice predicts no metric (NaN), in place of "- around step -": a run too short for the
    probes' curve, a measured lam not translated to another lr, or nothing usable measured; else None."""
    if math.isfinite(advice.predicted_metric):
        return None
    if advice.ends_before_curve:  # a run too short for the probes' curve
        return (f"no predicted metric: the {advice.budget_steps}-step run ends before the earliest point the "
                f"probes measured past their start (the peak comes around step {advice.predicted_peak_step:.0f})")
    if nothing_learned(fit.reasons):
        return "no predicted metric: the probes learned nothing, so no peak of theirs says what a run would reach"
    if math.isfinite(fit.lr) and not math.isclose(advice.lr, fit.lr, rel_tol=1e-9):
        return (f"no predicted metric: the probes ran at lr = {fit.lr:.3g}, and the measured lam is not "
                f"translated to lr = {advice.lr:.3g}")
    return "no predicted metric: nothing usable was measured"


AUTOL2_KEYS = ("lam0", "refractory_tau", "lam_min", "decay")  # an AutoL2 setup as advice.json saves it


def with_saved_run(data: ReportData, saved: dict) -> ReportData:
    """The report of an advice `recommend` saved (advice.json, as a dict): a budget given in epochs
    said so, and for an lr schedule the run's own length and peak step, not the constant-lr steps
    the tau clock sees."""
    if data.advice is None:
        return data
    if saved.get("unit") == "epochs" and isinstance(saved.get("budget"), (int, float)):
        steps = int(saved.get("run_steps") or data.advice.budget_steps)
        data = replace(data, budget_text=budget_words(float(saved["budget"]), "epochs", steps))
    autol2 = saved.get("autol2")
    if isinstance(autol2, dict) and all(isinstance(autol2.get(k), (int, float)) for k in AUTOL2_KEYS):
        data = replace(data, autol2=autol2)
    if not saved.get("run_steps"):
        return data
    steps, schedule = int(saved["run_steps"]), str(saved.get("lr_schedule") or "constant")
    warmup = int(saved.get("warmup") or 0)
    peak = run_peak_step(data.advice, schedule, steps, warmup)
    return replace(data, run_steps=steps, run_peak_step=peak, run_schedule=(schedule, warmup))


def report_data(curves: list[Curve], fit: Fit, advice: Advice | None = None,
                title: str = "probes", metric_name: str = "accuracy", advice_source: str = "") -> ReportData:
    """Extract the arrays behind every figure (pure: no files, no drawing)."""
    lines = _lines(list(curves), fit)
    bx, blo, bhi = _band(lines)
    return ReportData(title=title, metric_name=metric_name, fit=fit, advice=advice,
                      lines=tuple(lines), band_x=bx, band_lo=blo, band_hi=bhi, advice_source=advice_source)
