"""Which plateau probes the pooled tau curve averages, in the fit and on collapsed.png: a probe
that did not clearly peak leaves the pooled curve alone, is drawn apart and said so; the
fallback (none peaked: all pooled) is the main lr's own; one pooled probe has no error band."""

from __future__ import annotations

import dataclasses

import numpy as np
import synthetic as S
from matplotlib.colors import to_rgba

from l2advisor.reporting.data import report_data
from l2advisor.reporting.figures import collapsed_figure
from l2advisor.science.advise import advise
from l2advisor.science.fit import fit_relations


def _cut_short(curves: list, which) -> list:
    """The probes `which` picks, ended at 0.6 of their peak's tau: still rising, not clearly peaked."""
    return [S.curve(cv.lam, cv.lr, cv.seed, horizon=0.6) if which(cv) else cv for cv in curves]


def _legend(fig) -> list[str]:
    return fig.axes[0].get_legend_handles_labels()[1]


def test_a_plateau_probe_that_did_not_peak_leaves_the_pooled_curve_as_if_absent() -> None:
    full = S.family()
    with_it = _cut_short(full, lambda cv: cv.lam == 0.01 and cv.seed == 0)
    without = [cv for cv in full if not (cv.lam == 0.01 and cv.seed == 0)]
    a, b = fit_relations(with_it, n_bootstrap=50), fit_relations(without, n_bootstrap=50)
    assert a.c == b.c
    # the same curve, moved only by the plateau level each pool is centred on
    np.testing.assert_allclose(np.asarray(a.collapsed_mean) - np.asarray(b.collapsed_mean),
                               a.plateau_level - b.plateau_level, atol=1e-9)


def test_none_peaked_at_the_main_lr_pools_them_all_whatever_another_lr_did() -> None:
    """The probes at lr 0.05 (the main lr: ties go to the smaller) all stopped before their peak;
    those at lr 0.1 peaked, but they are not in the pool, so the main lr's fallback holds."""
    curves = _cut_short(S.family(lrs=(0.1, 0.05)), lambda cv: cv.lr == 0.05)
    f = fit_relations(curves, n_bootstrap=20)
    assert f.lr == 0.05
    data = report_data(curves, f, advise(f, 5000), title="t")
    main = [ln for ln in data.lines if ln.lr == 0.05 and ln.in_plateau and ln.usable]
    assert len(main) >= 4 and all(ln.pooled for ln in main)
    assert not any("not pooled" in label for label in _legend(collapsed_figure(data)))


def test_one_pooled_probe_has_no_error_band() -> None:
    curves = _cut_short(S.family(seeds=(0,)), lambda cv: cv.lam in (0.01, 0.005, 0.0025))
    f = fit_relations(curves, n_bootstrap=20)
    data = report_data(curves, f, advise(f, 5000), title="t")
    assert sum(ln.pooled for ln in data.lines) == 1
    labels = _legend(collapsed_figure(data))
    assert "pooled curve" in labels and "pooled mean +- 1 se" not in labels
    control = S.family()  # two seeds a lam, all peaked: a band
    fc = fit_relations(control, n_bootstrap=20)
    assert "pooled mean +- 1 se" in _legend(collapsed_figure(report_data(control, fc, advise(fc, 5000), title="t")))


def test_a_lam_with_a_pooled_and_a_left_out_seed_shows_both_apart() -> None:
    curves = _cut_short(S.family(), lambda cv: cv.lam == 0.01 and cv.seed == 0)
    f = fit_relations(curves, n_bootstrap=20)
    ax = collapsed_figure(report_data(curves, f, advise(f, 5000), title="t")).axes[0]
    lines = {ln.get_label(): ln for ln in ax.lines}
    left_out = lines["probe lam=0.01, not pooled: not clearly peaked"]
    pooled = lines["probe lam=0.01 (centred)"]  # its other seed, which peaked
    assert left_out.get_linestyle() == ":" and pooled.get_linestyle() == "-"
    probe_colours = {to_rgba(ln.get_color())[:3] for ln in ax.lines if "(centred)" in ln.get_label()}
    assert to_rgba(left_out.get_color())[:3] not in probe_colours  # not in any pooled probe's colour


def test_a_diverged_probe_that_had_peaked_does_not_decide_the_pool() -> None:
    """The fit pools usable probes only: a plateau probe that peaked, then diverged, must not
    turn the others (none clearly peaked: all pooled) into "not pooled" on the figure."""
    curves = []
    for cv in S.family():
        if cv.lam == 0.01 and cv.seed == 0:  # peaked, then blew up
            val, loss = np.array(cv.val_metric, float), np.array(cv.train_loss, float)
            val[-5:], loss[-5:] = np.nan, np.inf
            cv = dataclasses.replace(cv, val_metric=val, train_loss=loss, status="diverged")
        elif cv.lam <= 0.02:
            cv = S.curve(cv.lam, cv.lr, cv.seed, horizon=0.6)
        curves.append(cv)
    f = fit_relations(curves, n_bootstrap=20)
    data = report_data(curves, f, advise(f, 5000), title="t")
    plateau = [ln for ln in data.lines if ln.in_plateau and ln.usable]
    assert len(plateau) >= 6 and not any(ln.peaked for ln in plateau)
    assert all(ln.pooled for ln in plateau)
    assert not any("not pooled" in label for label in _legend(collapsed_figure(data)))
