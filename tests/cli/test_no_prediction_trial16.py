"""An advice with no predicted metric (a measured lam, advised for another lr through `recommend
--lr`) says so in the panel and in report.md; it printed "at least - peak validation metric: this
lam's peak in its own probe (step -)" and "predicted peak accuracy at least - around step -"."""

from __future__ import annotations

import io

import synthetic as S
from rich.console import Console

from l2advisor.cli.advice_panel import advice_panel
from l2advisor.reporting.data import report_data
from l2advisor.reporting.page import markdown
from l2advisor.science.advise import advise
from l2advisor.science.fit import FAILS, fit_relations


def _measured_lam_at_another_lr():
    fit = fit_relations(S.no_effect_family())
    assert fit.verdict == FAILS
    return fit, advise(fit, 3000, lr=2 * fit.lr)


def test_the_panel_says_why_there_is_no_prediction() -> None:
    fit, advice = _measured_lam_at_another_lr()
    console = Console(file=io.StringIO(), width=400, color_system=None)
    console.print(advice_panel(advice, fit, "accuracy"))
    text = " ".join(console.file.getvalue().split())
    expect = text.split("expect", 1)[1].split("verdict", 1)[0]
    assert "no predicted metric: the probes ran at lr = 0.1, and the measured lam is not translated to lr = 0.2" in expect
    assert " - " not in expect and "step -" not in expect


def test_report_md_says_why_there_is_no_prediction() -> None:
    fit, advice = _measured_lam_at_another_lr()
    page = markdown(report_data(S.no_effect_family(), fit, advice), [])
    line = next(ln for ln in page.splitlines() if ln.startswith("For a budget"))
    assert line.endswith("no predicted metric: the probes ran at lr = 0.1, and the measured lam is not translated "
                         "to lr = 0.2."), line
    assert "around step -" not in line and "at least -" not in line


def test_a_prediction_is_still_shown_at_the_probes_lr() -> None:
    fit = fit_relations(S.no_effect_family())
    page = markdown(report_data(S.no_effect_family(), fit, advise(fit, 3000)), [])
    line = next(ln for ln in page.splitlines() if ln.startswith("For a budget"))
    assert "peak validation accuracy" in line and "no predicted metric" not in line, line
