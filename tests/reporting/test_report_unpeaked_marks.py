"""report.md's "Probes per lam" table marks a lam none of whose probes clearly peaked with `t*+`, as
the probe summary does (it showed 400 / 713 / 1259 beside "peaked 0/2", as if those were tops)."""

from __future__ import annotations

import dataclasses
import re

import synthetic as S

from l2advisor.reporting.data import report_data
from l2advisor.reporting.page import markdown
from l2advisor.science.advise import advise
from l2advisor.science.fit import fit_relations


def t_star_cells(text: str) -> list[str]:
    rows = [line for line in text.splitlines() if re.match(r"^\| [\d.]+ \| [\d.]+ \|", line)]
    return [row.split("|")[7].strip() for row in rows]


def test_unpeaked_lams_are_marked_and_peaked_ones_are_not() -> None:
    curves = S.family()
    fit = fit_relations(curves)
    peaked = markdown(report_data(curves, fit, advise(fit, 3000)), [])
    assert t_star_cells(peaked) and not any(c.endswith("+") for c in t_star_cells(peaked))  # the control
    assert "t*+:" not in peaked
    none_peaked = dataclasses.replace(fit, table=tuple(dataclasses.replace(r, n_peaked=0) for r in fit.table))
    text = markdown(report_data(curves, none_peaked, advise(none_peaked, 3000)), [])
    assert t_star_cells(text) and all(c.endswith("+") for c in t_star_cells(text))
    assert "t*+: no probe of that lam clearly peaked" in text
