"""report.md's seed scatter beside trained runs, the end of a smoothed line, and an unmeasured c."""

from __future__ import annotations

import dataclasses
import math

import synthetic as S

from l2advisor.reporting.data import report_data
from l2advisor.reporting.page import markdown
from l2advisor.reporting.trained import trained_runs
from l2advisor.science.fit import fit_relations
from tests.reporting.test_trained import run


def test_the_seed_scatter_is_the_rms_of_the_finite_sds() -> None:
    curves = S.family()
    (row,) = trained_runs([run("lam=0.02/seed=0", 0.02, [0.5, 0.8], advice={"predicted_metric": 0.9,
                                                                          "predicted_peak_step": 600.0})])
    f = fit_relations(curves)
    sds = [0.01, 0.03, float("nan")] + [0.02] * (len(f.table) - 3)
    f = dataclasses.replace(f, table=tuple(dataclasses.replace(r, peak_sd=sd) for r, sd in zip(f.table, sds, strict=True)))
    page = markdown(dataclasses.replace(report_data(curves, f, None), trained=(row,)), [])
    finite = [v for v in sds if math.isfinite(v)]
    assert f"scatter by about {math.sqrt(sum(v * v for v in finite) / len(finite)):.4f} between seeds" in page
    one_seed = dataclasses.replace(f, table=tuple(dataclasses.replace(r, peak_sd=float("nan")) for r in f.table))
    page = markdown(dataclasses.replace(report_data(curves, one_seed, None), trained=(row,)), [])
    assert "Runs trained" in page and "scatter" not in page and "nan" not in page.split("## Runs trained")[1]


def test_end_twin_edges() -> None:
    import numpy as np

    from l2advisor.reporting.figures import _without_end_twin

    y = np.array([0.5, 0.8, 0.85, 0.9])
    near = np.array([10.0, 100.0, 380.0, 400.0])  # 5 % apart: a real evaluation, drawn
    assert _without_end_twin(near, y)[0].tolist() == near.tolist()
    two = np.array([398.0, 400.0])  # a two-point line keeps both points (one alone draws no line)
    assert _without_end_twin(two, y[:2])[0].tolist() == two.tolist()


def test_an_unmeasured_c_is_not_said_to_go_unused() -> None:
    from l2advisor.cli.advice_panel import _c_used
    from l2advisor.science.advise import advise
    from l2advisor.science.fit import FAILS

    f = dataclasses.replace(fit_relations(S.no_effect_family()), verdict=FAILS)
    a = advise(f, 20_000)
    assert _c_used(f, a) == " (not used: no formula)"
    assert _c_used(dataclasses.replace(f, c=float("nan")), a) == ""
