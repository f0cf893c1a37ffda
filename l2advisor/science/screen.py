"""The probes one by one, before any relation is read: which are usable (and why the others are
not), which lost evaluations to a NaN metric, and the table of their peaks grouped by (lr, lam).
Pure numpy."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from l2advisor.science.curves import Curve, CurveMetrics, analyze_curve, finite_median, scored
from l2advisor.science.fit_types import Excluded, LamRow

NAN = float("nan")


def screen(curves: Sequence[Curve], tolerance: float):
    """Analyse every curve; split into usable (metrics, curve) pairs and exclusions."""
    usable, excluded = [], []
    for cv in curves:
        m = analyze_curve(cv, tolerance)  # never raises on odd data: an exception is a bug
        why = None
        if m.status == "failed":
            why = "failed"
        elif m.diverged:
            why = "diverged (its status, a non-finite training loss or an infinite metric)"
        elif not (m.lam > 0 and m.lr > 0 and math.isfinite(m.lam * m.lr)):
            why = "lam and lr must be positive and finite: no tau clock"
        elif not math.isfinite(m.peak_metric):
            why = "no finite evaluation" + (" (the metric was NaN at every one)" if m.nan_evals >= m.n_points else "")
        if why:
            excluded.append(Excluded(m.lam, m.lr, m.seed, why))
        else:
            usable.append((m, scored(cv)))  # its NaN evaluations left out of the pooled curve and b too
    return usable, excluded


def nan_note(ms: list[CurveMetrics]) -> list[str]:
    """The usable probes' evaluations whose metric was NaN (left out of their curves), said: a
    reviewer's macro precision lost them silently, and with them the early points t* is read from."""
    hit = [m for m in ms if m.nan_evals]
    if not hit:
        return []
    lams = sorted({m.lam for m in hit}, reverse=True)
    return [f"the metric was NaN at {sum(m.nan_evals for m in hit)} of {sum(m.n_points for m in hit)} evaluations "
            f"in {len(hit)} probe(s) (lam {', '.join(f'{lam:.3g}' for lam in lams)}): those evaluations are "
            "left out, as if not made (a metric that cannot score some evaluations, e.g. a macro average "
            "with a class never predicted)"]


def table_rows(ms: list[CurveMetrics], excluded: list[Excluded]) -> list[LamRow]:
    """Group usable probes by (lr, lam) into table rows (in_plateau set later)."""
    keys = sorted({(m.lr, m.lam) for m in ms} | {(e.lr, e.lam) for e in excluded
                                                  if e.lam > 0 and e.lr > 0})
    rows = []
    for lr, lam in keys:
        g = [m for m in ms if (m.lr, m.lam) == (lr, lam)]
        peaks = np.array([m.peak_metric for m in g])
        rows.append(LamRow(
            lam=lam, lr=lr, n_seeds=len(g),
            n_diverged=sum(e.lr == lr and e.lam == lam and e.reason.startswith("diverged")
                           for e in excluded),
            peak_mean=float(peaks.mean()) if g else NAN,
            peak_sd=float(peaks.std(ddof=1)) if len(g) > 1 else NAN,
            t_star=finite_median(m.t_star for m in g), tau_star=finite_median(m.tau_star for m in g),
            peak_tau=finite_median(m.peak_tau for m in g), peak_common=NAN,
            max_train_acc=finite_median(m.max_train_acc for m in g),
            n_peaked=sum(m.peaked for m in g), in_plateau=False))
    return rows
