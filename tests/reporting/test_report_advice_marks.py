"""The advice in the report's figures: the t* star sits on a drawn line labelled with the c the
advice used (under "cannot tell" the typical c = 4, not the probes' pooled c), and its red
vertical line has a legend entry."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest
import synthetic as S

from l2advisor.reporting.data import advice_mark, report_data
from l2advisor.reporting.figures import tstar_figure
from l2advisor.science.advise import advise
from l2advisor.science.fit import CANNOT, fit_relations


@pytest.fixture(scope="module")
def cannot():
    """"cannot tell", the probes' c (0.8) under the typical 4: the advice uses 4."""
    curves = S.family(lam_c=0.0005, alpha=0.0)
    f = dataclasses.replace(fit_relations(curves, n_bootstrap=20), c=0.8, lam_c=1.0)
    assert f.verdict == CANNOT
    return curves, f, advise(f, 20_000)


def labelled(ax) -> dict:
    return {ln.get_label(): ln for ln in ax.lines if not ln.get_label().startswith("_")}


def test_the_advice_mark_carries_the_c_the_advice_used(cannot) -> None:
    _, f, a = cannot
    mark = advice_mark(f, a)
    assert a.c == 4.0 and mark.c == 4.0 and mark.own_line
    assert mark.line_label == "advice: lam = c/(lr*T), c = 4 (typical: cannot tell)"
    assert mark.x == pytest.approx(1 / (0.1 * a.weight_decay)) and mark.steps == 20_000


def test_the_tstar_star_sits_on_the_advices_labelled_line(cannot) -> None:
    curves, f, a = cannot
    ax = tstar_figure(report_data(curves, f, a, title="t")).axes[0]
    lines = labelled(ax)
    star = next(ln for label, ln in lines.items() if label.startswith("advice: budget 20000 steps"))
    own = lines["advice: lam = c/(lr*T), c = 4 (typical: cannot tell)"]
    (x,), (y,) = star.get_data()
    xs, ys = (np.asarray(v, float) for v in own.get_data())
    assert np.interp(math.log(x), np.log(xs), np.log(ys)) == pytest.approx(math.log(y), abs=1e-6)  # on its line
    pooled = next(ln for label, ln in lines.items() if label.startswith("pooled best"))
    assert "c = 0.8" in pooled.get_label()  # the measured c is still drawn, as itself
    vertical = [ln for ln in ax.lines if ln.get_color() == "C3" and np.ptp(np.asarray(ln.get_xdata(), float)) == 0
                and len(ln.get_xdata()) == 2]
    assert [ln.get_label() for ln in vertical] == [f"advised lam = {a.weight_decay:.3g} (at lr = 0.1)"]


def test_a_measured_c_the_advice_uses_draws_no_second_line() -> None:
    curves = S.family()
    f = fit_relations(curves, n_bootstrap=20)
    a = advise(f, 8000)
    mark = advice_mark(f, a)
    assert a.c == f.c and not mark.own_line and f"c = {f.c:.3g} (measured)" in mark.label
    lines = labelled(tstar_figure(report_data(curves, f, a, title="t")).axes[0])
    assert not any(label.startswith("advice: lam = c/(lr*T)") for label in lines)


def test_under_does_not_hold_the_collapsed_c_is_drawn_as_not_used() -> None:
    """No formula: the advice does not use c (the panel says "not used: no formula"); it was a
    solid red line like an advised value."""
    from l2advisor.reporting.figures import collapsed_figure
    from l2advisor.science.fit import FAILS

    curves = S.no_effect_family()
    f = fit_relations(curves, n_bootstrap=20)
    assert f.verdict == FAILS and math.isfinite(f.c)
    ax = collapsed_figure(report_data(curves, f, advise(f, 5000), title="t")).axes[0]
    (c_line,) = [ln for ln in ax.lines if ln.get_label().startswith(("c = ", "c >= ", "c <= "))]
    assert c_line.get_label().endswith("(not used: no formula)")
    assert c_line.get_linestyle() == "--" and c_line.get_color() == "0.5"
    held = fit_relations(S.family(), n_bootstrap=20)  # the control: a c the advice uses stays red
    ax = collapsed_figure(report_data(S.family(), held, advise(held, 8000), title="t")).axes[0]
    (c_line,) = [ln for ln in ax.lines if ln.get_label().startswith(("c = ", "c >= ", "c <= "))]
    assert "not used" not in c_line.get_label() and c_line.get_color() == "C3"


def test_accuracy_axes_stop_at_1() -> None:
    """Peaks near 1: the collapsed figure's top (peak + 0.01) and the curves' (raw max + 0.005)
    ran to 1.005-1.010; a metric without a ceiling keeps its margin."""
    from l2advisor.reporting.axes import ylim_high
    from l2advisor.reporting.figures import collapsed_figure

    curves = S.family(top=0.997, noise=0.004)
    f = fit_relations(curves, n_bootstrap=20)
    data = report_data(curves, f, None, title="t", metric_name="accuracy")
    assert collapsed_figure(data).axes[0].get_ylim()[1] == pytest.approx(1.0)
    assert ylim_high(list(data.lines), "accuracy") == 1.0
    other = report_data(curves, f, None, title="t", metric_name="top5_score")
    assert collapsed_figure(other).axes[0].get_ylim()[1] > 1.0
    assert ylim_high(list(other.lines), "top5_score") > 1.0


def test_a_negative_zero_alpha_reads_0_00_in_the_figure_as_in_report_md() -> None:
    from l2advisor.reporting.page import FIGURES, markdown

    curves = S.family()
    f = dataclasses.replace(fit_relations(curves, n_bootstrap=20), alpha=-0.001, alpha_interval=(-0.004, 0.9))
    data = report_data(curves, f, None, title="t")
    ax = tstar_figure(data).axes[0]
    assert ax.get_title() == "time to the peak: alpha = 0.00 [0.00, 0.90] (paper: 1)"  # it read -0.00 twice
    assert "alpha = 0.00 [0.00, 0.90]" in markdown(data, list(FIGURES))
    (fit_line,) = [ln for ln in ax.lines if ln.get_label().startswith("fit: t*")]
    assert fit_line.get_label().endswith("(lr*lam)^+0.00")


def _with_one_cut_short(lams_cut: tuple[float, ...]) -> list:
    """The synthetic family with the probes at `lams_cut` (seed 0) ended at 0.6 of their peak's
    tau: still rising, so not clearly peaked."""
    curves = S.family()
    return [S.curve(cv.lam, cv.lr, cv.seed, horizon=0.6) if cv.lam in lams_cut and cv.seed == 0 else cv
            for cv in curves]


def test_the_collapsed_figure_shows_which_plateau_probes_the_pooled_curve_left_out() -> None:
    """The pooled curve averages the plateau probes that peaked; one still rising at its end is
    drawn apart and said not pooled (it was drawn as a centred probe, far from the black curve)."""
    from l2advisor.reporting.figures import collapsed_figure

    curves = _with_one_cut_short((0.01,))  # S.ladder() holds 0.01, inside the plateau (lam_c = 0.02)
    f = fit_relations(curves, n_bootstrap=50)
    data = report_data(curves, f, advise(f, 5000), title="t")
    plateau = [ln for ln in data.lines if ln.in_plateau and ln.usable]
    assert {(ln.lam, ln.seed) for ln in plateau if not ln.pooled} == {(0.01, 0)}
    assert sum(ln.pooled for ln in plateau) == len(plateau) - 1 >= 3
    labels = labelled(collapsed_figure(data).axes[0])
    assert any("not pooled" in text and "0.01" in text for text in labels)


def test_when_no_plateau_probe_peaked_all_are_pooled() -> None:
    """fit.py's fallback: with no clearly peaked plateau probe the pool takes them all."""
    from l2advisor.reporting.figures import collapsed_figure

    curves = [S.curve(cv.lam, cv.lr, cv.seed, horizon=0.6) for cv in S.family()]
    f = fit_relations(curves, n_bootstrap=50)
    data = report_data(curves, f, advise(f, 5000), title="t")
    plateau = [ln for ln in data.lines if ln.in_plateau and ln.usable]
    assert plateau and all(ln.pooled for ln in plateau)
    assert not any("not pooled" in text for text in labelled(collapsed_figure(data).axes[0]))
