"""Figures of a probe run: what the fit saw, for a person to check (report.md: page.py).

The data comes from data.py (`report_data` extracts plain arrays from the curves, the
`Fit` and, optionally, the `Advice`); the `plot_*` functions here draw them, with the axis helpers of axes.py. Plotting uses
matplotlib's object API (`Figure`, Agg canvas) and never pyplot, so importing this module
changes no global backend and nothing is shown on a screen. Nothing here prints or fits: the
caller passes the Fit. Units: steps are optimizer steps, tau = lr*lam*steps, lam is torch's
weight_decay.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

from l2advisor.reporting.axes import (
    capped,
    lam_colors,
    left_edge,
    legend_if_any,
    legend_under,
    log_x,
    main_lines,
    num,
    ylim_high,
    ylim_low,
)
from l2advisor.reporting.data import ReportData, advice_mark
from l2advisor.science.advise import steps_to_top
from l2advisor.science.c_reading import c_text
from l2advisor.science.fit import FAILS


def _without_end_twin(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The smoothed line without its second-to-last point when the last evaluation follows it
    within 1 % (a rung's end, right after the last log-spaced evaluation): the two smoothing
    windows differ there, and the line ended in a vertical hook."""
    if x.size >= 3 and 0 < x[-2] and x[-1] <= x[-2] * 1.01:
        keep = np.r_[np.arange(x.size - 2), x.size - 1]
        return x[keep], y[keep]
    return x, y


def _mark_c(ax, fit) -> None:
    """c's line and label; the label left of the line when the line is near the right edge
    (it ran under the legend), at the foot of the axes on a white ground: at the top it sat on the
    curves, which rise to their plateau there. After the x limits are set."""
    ax.axvline(fit.c, color="k", lw=0.8, ls=":")
    low, high = (math.log(v) for v in ax.get_xlim())
    near_right = (math.log(fit.c) - low) > 0.85 * (high - low)
    ax.annotate(c_text(fit, why=False, with_interval=False), (fit.c, 0.04), xycoords=("data", "axes fraction"),
                xytext=(-3 if near_right else 3, 0), textcoords="offset points", fontsize=8,
                ha="right" if near_right else "left", va="bottom",
                bbox={"boxstyle": "round,pad=0.2", "fc": "white", "ec": "none", "alpha": 0.85})


def plot_curves(data: ReportData, path: Path) -> Path:
    """(a) metric vs steps and vs tau for every lam: the collapse."""
    fig = Figure(figsize=(11, 4.2), layout="constrained")
    ax_s, ax_t = fig.subplots(1, 2, sharey=True)
    lines = main_lines(data)
    colors = lam_colors([ln.lam for ln in lines])
    seen = set()
    for ln in sorted(lines, key=lambda ln: (-ln.lam, ln.seed)):
        style = "-" if ln.in_plateau else "--"
        label = None if ln.lam in seen else f"lam={ln.lam:.3g}" + ("" if ln.in_plateau else " (off plateau)")
        seen.add(ln.lam)
        for ax, x in ((ax_s, ln.steps), (ax_t, ln.tau)):
            ax.plot(x, ln.raw, ".", ms=2, alpha=0.25, color=colors[ln.lam])
            ax.plot(*_without_end_twin(x, ln.smoothed), style, lw=1.4, color=colors[ln.lam],
                    label=label if ax is ax_t else None)
    low = ylim_low(lines)
    for ax, name, get in ((ax_s, "steps", "steps"), (ax_t, "tau = lr*lam*steps", "tau")):
        log_x(ax)
        left = left_edge([(getattr(ln, get), ln.smoothed) for ln in lines], low)
        if left is not None:
            ax.set_xlim(left=left)
        ax.set_xlabel(f"{name} (log scale)")
        ax.grid(alpha=0.3, which="both", lw=0.4)
        if low is not None:
            ax.set_ylim(bottom=low, top=ylim_high(lines, data.metric_name))
    if math.isfinite(data.fit.c):
        _mark_c(ax_t, data.fit)
    ax_s.set_ylabel(f"validation {data.metric_name}")
    ax_s.set_title("against steps: does a larger lam peak sooner?")
    ax_t.set_title("against tau: do the plateau lams (solid) collapse?")
    if lines:
        legend_if_any(ax_t, fontsize=8, loc="upper left", bbox_to_anchor=(1.02, 1.0),
                title="dots: raw\nlines: smoothed", title_fontsize=7)
    fig.suptitle(f"{data.title}: learning curves at lr = {data.fit.lr:.3g}", fontsize=11)
    fig.savefig(path, dpi=110)
    return path


def plot_tstar(data: ReportData, path: Path) -> Path:
    """(b) t* vs 1/(lr*lam) on log axes with the fit line and its bootstrap band."""
    tstar_figure(data).savefig(path, dpi=110)
    return path


def tstar_figure(data: ReportData) -> Figure:
    """plot_tstar's figure, unsaved (tests read its artists)."""
    fig = Figure(figsize=(9, 5.6), layout="constrained")
    ax = fig.subplots()
    f = data.fit
    pts = [ln for ln in data.lines if ln.usable and math.isfinite(ln.t_star) and ln.t_star > 0]
    lrs = sorted({ln.lr for ln in pts})
    markers = "osD^v"
    for k, lr in enumerate(lrs):
        for used in (True, False):
            sel = [ln for ln in pts if ln.lr == lr and ln.in_tstar_fit == used]
            if sel:
                ax.plot([1 / (ln.lr * ln.lam) for ln in sel], [ln.t_star for ln in sel],
                        markers[k % len(markers)], ms=6, color=f"C{k}", mfc=f"C{k}" if used else "none",
                        label=f"t* per probe, lr={lr:.3g}" + ("" if used else " (not in the fit)"))
    if data.band_x.size:
        ax.fill_between(data.band_x, data.band_lo, data.band_hi, color="C0", alpha=0.15,
                        label="95% bootstrap band")
        if math.isfinite(f.alpha) and math.isfinite(f.c0):
            ax.plot(data.band_x, f.c0 * data.band_x ** f.alpha, "C0-", lw=1.5,
                    label=f"fit: t* = {f.c0:.3g} (lr*lam)^{'' if num(-f.alpha, '.2f').startswith('-') else '+'}"
                          f"{num(-f.alpha, '.2f')}")
    x_all = [1 / (ln.lr * ln.lam) for ln in pts]
    mark = advice_mark(f, data.advice)
    if mark is not None:
        x_all.append(mark.x)
    if math.isfinite(f.c) and x_all:
        xs = np.geomspace(min(x_all) / 1.3, max(x_all) * 1.3, 20)  # 1/(lr*lam)
        b = f.b_used if math.isfinite(f.b_used) and math.isfinite(f.clock_ref) else 1.0  # the pooled curve's clock
        ax.plot(xs, steps_to_top(f.c, b, f.clock_ref, 1 / xs), "k--", lw=1,
                label=f"pooled best: steps = c/(lr*lam), c = {f.c:.3g}" if b == 1.0 else
                f"pooled best: c = {f.c:.3g} at lr*lam = {f.clock_ref:.3g}, steps ~ (lr*lam)^-{b:.2f}")
    if mark is not None:
        if mark.own_line:  # x_all holds mark.x; the advice's c is not the pooled line's: the star sits on its own
            xs = np.geomspace(min(x_all) / 1.3, max(x_all) * 1.3, 20)
            ax.plot(xs, mark.c * xs, "C3:", lw=1.2, label=mark.line_label)
        ax.axvline(mark.x, color="C3", lw=1, label=mark.vline_label)
        ax.plot([mark.x], [mark.steps], "*", ms=13, color="C3", label=mark.label)
    log_x(ax)
    log_x(ax, axis="y")
    ax.set_xlabel("1/(lr*lam)  (steps per e-fold of weight shrinkage; log scale)")
    ax.set_ylabel("steps (log scale)")
    measured = math.isfinite(f.alpha)
    ax.set_title("time to the peak: " + (f"alpha = {num(f.alpha, '.2f')} [{num(f.alpha_interval[0], '.2f')}, "
                                         f"{num(f.alpha_interval[1], '.2f')}] (paper: 1)" if measured else
                                         "alpha not measured (too few probes clearly peaked)"), fontsize=10)
    ax.grid(alpha=0.3, which="both", lw=0.4)
    legend_under(fig, ax)  # outside the axes: never over the advice
    return fig


def _equal_steps(ax, rows: list, common_steps: float) -> None:
    """The mean peaks within the steps every probe ran (what "cannot tell" and "does not hold"
    compare), when they differ from the peaks in each probe's own window."""
    shown = [r for r in rows if math.isfinite(r.peak_common)]
    if shown and any(not math.isclose(r.peak_common, r.peak_mean, abs_tol=1e-9) for r in shown):
        ax.plot([r.lam for r in shown], [r.peak_common for r in shown], "s", mfc="none", color="C0", ms=6,
                label=f"mean within the first {common_steps:.0f} steps (every probe ran them)")


def plot_plateau(data: ReportData, path: Path) -> Path:
    """(c) peak metric vs lam, the plateau edge lam_c, and the advice."""
    plateau_figure(data).savefig(path, dpi=110)
    return path


def plateau_figure(data: ReportData) -> Figure:
    """plot_plateau's figure, unsaved (tests read its artists)."""
    fig = Figure(figsize=(9, 5.6), layout="constrained")
    ax = fig.subplots()
    f = data.fit
    rows = sorted((r for r in f.table if r.lr == f.lr and r.n_seeds > 0), key=lambda r: r.lam)
    lines = [ln for ln in main_lines(data) if ln.usable]
    ax.plot([ln.lam for ln in lines], [ln.peak_metric for ln in lines], ".", color="0.55",
            ms=5, label="one probe (seed)")
    for inside in (True, False):
        sel = [r for r in rows if r.in_plateau == inside]
        if sel:
            ax.errorbar([r.lam for r in sel], [r.peak_mean for r in sel],
                        yerr=[0 if math.isnan(r.peak_sd) else r.peak_sd for r in sel], fmt="o",
                        color="C2" if inside else "C1", capsize=3,
                        label="mean +- sd, in the plateau" if inside else "mean +- sd, off the plateau")
    _equal_steps(ax, rows, f.common_steps)
    if math.isfinite(f.lam_c):
        ax.axvline(f.lam_c, color="C2", ls="--", lw=1)
        ax.annotate(f"lam_c = {f.lam_c:.3g}", (f.lam_c, 0.03), xycoords=("data", "axes fraction"),
                    xytext=(4, 0), textcoords="offset points", fontsize=8, color="C2")
    if math.isfinite(f.plateau_level):
        ax.axhspan(f.plateau_level - f.plateau_threshold, f.plateau_level + f.plateau_threshold,
                   color="C2", alpha=0.08, label=f"plateau level +- {f.plateau_threshold:.4f}")
    a = data.advice
    if a is not None and math.isfinite(a.weight_decay):
        wd = a.weight_decay * a.lr / f.lr if math.isfinite(f.lr) else a.weight_decay  # same clock
        lo, hi = (v * a.lr / f.lr if math.isfinite(f.lr) else v for v in a.interval)
        moved = math.isfinite(f.lr) and not math.isclose(a.lr, f.lr, rel_tol=1e-9)  # drawn at this axis' lr*lam
        if math.isfinite(lo) and math.isfinite(hi) and hi > lo:  # from 0: to the axis' left edge
            left = min([r.lam for r in rows] + [wd, hi]) / 2  # half the smallest lam drawn: the axis starts there
            at = f" ({a.interval[0]:.3g} .. {a.interval[1]:.3g} at lr {a.lr:.3g})" if moved else ""
            ax.axvspan(lo if lo > 0 else left, hi, color="C3", alpha=0.1,
                       label=f"advice interval {lo:.3g} .. {hi:.3g}{at}")  # its edges have no ticks
        lam_text = f"lam={wd:.3g}" + (f" ({a.weight_decay:.3g} at lr {a.lr:.3g})" if moved else "")
        known = math.isfinite(a.predicted_metric)
        run = (f"the {data.run_steps}-step run ({a.budget_steps} constant-lr steps of tau)"  # a scheduled run's length
               if data.run_steps and data.run_steps != a.budget_steps else f"{a.budget_steps} steps")
        ax.axvline(wd, color="C3", lw=1.2, label=None if known else  # the star's label names it
                   f"advice for {run}: {lam_text}, not predicted")
        if known:
            ax.plot([wd], [a.predicted_metric], "*", ms=13, color="C3",
                    label=f"advice for {run}: {lam_text}, predicted {a.predicted_metric:.4f}")
    if math.isfinite(f.lam_star):
        ax.axvline(f.lam_star, color="C1", ls=":", lw=1, label=f"lam* = {f.lam_star:.3g}: smaller lams clearly worse")
    log_x(ax, minor_labels=False)  # its ticks are the probed lams
    ax.set_xlabel("lam = weight_decay (log scale)" + (f", at lr = {f.lr:.3g}" if math.isfinite(f.lr) else ""))
    ax.set_ylabel(f"peak validation {data.metric_name} (smoothed)")
    ticks = [r.lam for r in rows]
    if a is not None and math.isfinite(a.weight_decay) and wd > 0 and all(abs(math.log(wd / t)) > 0.3 for t in ticks):
        ticks.append(wd)  # the advice, when it is not next to a probed lam
    if ticks:
        ax.set_xticks(ticks, labels=[f"{t:.3g}" for t in ticks], fontsize=8)
    ax.set_title("peak against lam: the plateau", fontsize=10)
    ax.grid(alpha=0.3, which="both", lw=0.4)
    legend_under(fig, ax)
    return fig


def plot_collapsed(data: ReportData, path: Path) -> Path:
    """(d) the pooled curve metric(tau) with c and its interval."""
    collapsed_figure(data).savefig(path, dpi=110)
    return path


def collapsed_figure(data: ReportData) -> Figure:
    """plot_collapsed's figure, unsaved (tests read its artists)."""
    fig = Figure(figsize=(9, 5.6), layout="constrained")
    ax = fig.subplots()
    f = data.fit
    pool = [ln for ln in main_lines(data) if ln.in_plateau and ln.usable]
    colors = lam_colors([ln.lam for ln in pool])
    seen = set()
    for ln in pool:
        shift = f.plateau_level - ln.peak_metric if math.isfinite(f.plateau_level) else 0.0
        key = (ln.lam, ln.pooled)
        if ln.pooled:
            label = f"probe lam={ln.lam:.3g} (centred)"
            ax.plot(ln.tau, ln.smoothed + shift, lw=0.8, alpha=0.45, color=colors[ln.lam], label=None if key in seen else label)
        else:  # in the plateau, but the pooled curve leaves it out: its peak cannot centre it
            label = f"probe lam={ln.lam:.3g}, not pooled: not clearly peaked"
            ax.plot(ln.tau, ln.smoothed + shift, lw=0.8, alpha=0.6, ls=":", color="0.55",
                    label=None if key in seen else label)
        seen.add(key)
    t = np.asarray(f.collapsed_tau, float)
    if t.size:
        mean, lo, hi = (np.asarray(v, float) for v in (f.collapsed_mean, f.collapsed_lo, f.collapsed_hi))
        if np.any(hi > lo):  # one pooled probe has no standard error: no band, no legend entry
            ax.fill_between(t, lo, hi, color="k", alpha=0.15, label="pooled mean +- 1 se")
        ax.plot(t, mean, "k-", lw=2, label="pooled curve")
    if math.isfinite(f.c):
        # "does not hold": no formula, the advice is a measured lam and c goes unused (as the panel says)
        unused = f.verdict == FAILS
        color, note = ("0.5", " (not used: no formula)") if unused else ("C3", "")
        c_lo, c_hi = f.c_interval
        if math.isfinite(c_lo) and math.isfinite(c_hi) and c_hi > c_lo and not f.c_bound:  # a bound has no interval
            ax.axvspan(c_lo, c_hi, color=color, alpha=0.1,
                       label=f"c interval [{c_lo:.3g}, {c_hi:.3g}] (measured{', not used' if unused else ''})")
        ax.axvline(f.c, color=color, lw=1.5 if not unused else 1.0, ls="--" if unused else "-",
                   label=c_text(f, why=False, with_interval=False) + note)
    a = data.advice
    if a is not None and math.isfinite(a.weight_decay):
        b = f.b_used if math.isfinite(f.b_used) and math.isfinite(f.clock_ref) else 1.0  # the axis's clock
        tau_t = a.budget_steps * (a.lr * a.weight_decay) ** b * f.clock_ref ** (1.0 - b)
        if math.isfinite(f.c) and abs(tau_t / f.c - 1) > 0.01:
            ax.axvline(tau_t, color="C1", ls="--", lw=1,
                       label=f"tau the budget reaches at the advice: {tau_t:.3g}")
    low = ylim_low(pool)
    log_x(ax)
    if low is not None:
        ax.set_ylim(bottom=low, top=capped(max(ln.peak_metric for ln in pool) + 0.01, data.metric_name)
                    if pool else None)
        left = left_edge([(np.asarray(f.collapsed_tau, float), np.asarray(f.collapsed_mean, float))], low)
        if left is not None:
            ax.set_xlim(left=left)
    ax.set_xlabel("tau = lr*lam*steps (log scale)")
    ax.set_ylabel(f"validation {data.metric_name}, each probe shifted\nto peak at the plateau level")
    ax.set_title("collapsed curve of the plateau probes", fontsize=10)
    ax.grid(alpha=0.3, which="both", lw=0.4)
    legend_under(fig, ax)
    return fig


PLOTTERS = {"curves.png": plot_curves, "tstar.png": plot_tstar, "plateau.png": plot_plateau,
            "collapsed.png": plot_collapsed}
