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
