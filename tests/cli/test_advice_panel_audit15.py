"""The recommend panel's verdict line: what the probes could not measure is said in words, never
shown as "-" placeholders (a regression has no training accuracy; one seed gives b no interval)."""

from __future__ import annotations

import dataclasses
import io
import math

import synthetic as S
from rich.console import Console

from l2advisor.cli.advice_panel import advice_panel
from l2advisor.science.advise import advise
from l2advisor.science.fit import fit_relations

NAN = math.nan


def _panel(**fit_changes: object) -> str:
    fit = fit_relations(S.family())
    advice = advise(fit, 3000)
    console = Console(file=io.StringIO(), width=400, color_system=None)
    console.print(advice_panel(advice, dataclasses.replace(fit, **fit_changes), "accuracy"))
    return " ".join(console.file.getvalue().split())


def _verdict_line(text: str) -> str:
    return text.split("verdict", 1)[1].split(" probes", 1)[0]


def test_everything_measured_is_shown_with_its_interval() -> None:
    """The control: b, c with their intervals, lam_c and the train accuracy as numbers."""
    line = _verdict_line(_panel())
    assert "(tau clock 1)" in line and "] (tau clock 1)" in line  # b's interval, then the clock
    assert "c = 3.05 [" in line and "lam_c=0.02" in line and "train acc 1.0000" in line
    assert "not measur" not in line and "-" not in line.replace("lam_c", "")


def test_b_without_its_interval_shows_no_brackets() -> None:
    for interval in ((NAN, NAN), (0.9, NAN), (NAN, 1.1)):  # one seed: no interval, or half of one
        line = _verdict_line(_panel(b=1.0, b_interval=interval))
        assert "b=1.00 (tau clock 1)" in line and "[" not in line.split("(tau clock 1)")[0], (interval, line)


def test_c_without_its_interval_shows_the_value_alone() -> None:
    for interval in ((NAN, NAN), (2.0, NAN)):
        line = _verdict_line(_panel(c=3.0, c_interval=interval, c_bound=""))
        assert "c = 3 " in line + " " and "c = 3 [" not in line and "[-" not in line and "-]" not in line, line


def test_unmeasured_c_lam_c_and_train_accuracy_are_said_in_words() -> None:
    line = _verdict_line(_panel(c=NAN, c_interval=(NAN, NAN), c_bound="", lam_c=NAN, train_acc=NAN))
    assert "c not measurable" in line and "lam_c not measurable" in line and "train acc not measured" in line
    assert "c = -" not in line and "lam_c=-" not in line and "train acc -" not in line
