"""reporting/trained.py: the runs trained beside the probes against the advice they followed."""

from __future__ import annotations

import dataclasses
import math

from l2advisor.reporting.trained import trained_runs
from l2advisor.runs.store import RunState
from l2advisor.science.advise import Advice


def advice(weight_decay: float = 0.01, budget: int = 1000) -> Advice:
    return Advice(weight_decay=weight_decay, interval=(0.005, 0.02), lr=0.1, budget_steps=budget, verdict="holds",
                  predicted_metric=0.9, predicted_peak_step=800.0, extrapolated=False, c=1.0, c_interval=(0.5, 2.0),
                  alpha=1.0, unclipped=weight_decay, reasons=(), rules_of_thumb={})


def run(run_id: str, lam: float, metrics: list[float], **meta) -> RunState:
    evals = [{"step": 100 * i, "val_metric": m} for i, m in enumerate(metrics)]
    return RunState(run_id, {"lam": lam, "lr": 0.1, "max_steps": 1000, "lr_schedule": "constant", "autol2": None,
                             **meta},
                    evals, {"status": "finished", "steps": 100 * (len(metrics) - 1)})


def test_each_run_against_the_advice_it_followed():
    followed = {"predicted_metric": 0.85, "predicted_peak_step": 600.0}
    runs = trained_runs([
        run("advised", 0.02, [float("nan"), 0.5, 0.8, None, 0.7], advice=followed),  # train --advise: its own
        run("at the advice", 0.01, [0.5, 0.9, 0.95]),  # the report's advice's lam and budget
        run("other lam", 0.05, [0.5, 0.6]),
        run("autol2", 0.01, [0.5, 0.6], autol2={"lam0": 0.01}),
        run("other budget", 0.01, [0.5, 0.6], max_steps=2000),
        run("other lr", 0.01, [0.5, 0.6], lr=0.05),
        run("wd-schedule=wd.json/seed=0", 0.01, [0.5, 0.6]),  # a replayed schedule that starts at the advice
        run("cosine", 0.01, [0.5, 0.6], lr_schedule="cosine"),
        run("warmup", 0.01, [0.5, 0.6], warmup=100),
    ], advice())
    by_id = {r.run_id: r for r in runs}
    assert (by_id["advised"].peak_metric, by_id["advised"].peak_step) == (0.8, 200.0)  # NaN and None skipped
    assert by_id["advised"].weight_decay == 0.02 and by_id["advised"].steps == 400
    assert (by_id["advised"].predicted_metric, by_id["advised"].predicted_peak_step) == (0.85, 600.0)
    assert (by_id["at the advice"].predicted_metric, by_id["at the advice"].peak_step) == (0.9, 200.0)
    for name in ("other lam", "autol2", "other budget", "other lr", "wd-schedule=wd.json/seed=0", "cosine", "warmup"):
        assert math.isnan(by_id[name].predicted_metric), name
    assert by_id["autol2"].autol2 and not by_id["other lam"].autol2
    assert [r.run_id for r in runs][0] == "advised" and by_id["at the advice"].steps == 200


def test_without_an_advice_only_the_advised_runs_have_a_prediction():
    runs = trained_runs([run("plain", 0.01, [0.5]), run("advised", 0.01, [0.5], advice={"predicted_metric": 0.7,
                                                                                          "predicted_peak_step": 9})])
    assert math.isnan(runs[0].predicted_metric) and runs[1].predicted_metric == 0.7


def test_an_advice_stored_with_unknown_numbers_reads_as_nan_and_a_schedule_uses_the_runs_steps():
    unknown = run("advised", 0.01, [0.5], advice={"predicted_metric": None, "predicted_peak_step": None})
    cosine = run("cosine", 0.01, [0.5], lr_schedule="cosine",
                 advice={"predicted_metric": 0.9, "predicted_peak_step": 500.0, "lr_schedule": "cosine",
                         "peak_step": 980.0})  # constant-lr steps 500 are the cosine run's step 980
    first, second = trained_runs([unknown, cosine])
    assert math.isnan(first.predicted_metric) and math.isnan(first.predicted_peak_step)
    assert (second.predicted_metric, second.predicted_peak_step) == (0.9, 980.0)


def test_steps_come_from_the_end_record_and_a_warmup_advice_uses_the_runs_step():
    state = run("cut", 0.01, [0.5, 0.6], advice={"predicted_metric": 0.9, "predicted_peak_step": 800.0,
                                                 "lr_schedule": "constant", "warmup": 400, "peak_step": 1000.0})
    state.end["steps"] = 150  # interrupted between two evaluations
    (got,) = trained_runs([state])
    assert got.steps == 150 and got.predicted_peak_step == 1000.0  # a warmup run reaches the tau later


def test_the_report_row_puts_each_number_in_its_column(tmp_path):
    import synthetic as S

    from l2advisor.reporting.data import report_data
    from l2advisor.reporting.page import markdown
    from l2advisor.science.fit import fit_relations

    curves = S.family()
    (row,) = trained_runs([run("lam=0.02/seed=0", 0.02, [0.5, 0.8, 0.7], advice={"predicted_metric": 0.9,
                                                                                 "predicted_peak_step": 600.0})])
    plain = report_data(curves, fit_relations(curves), None)
    page = markdown(dataclasses.replace(plain, trained=(row,)), [])
    assert "| lam=0.02/seed=0 | 0.02 | constant | 200 | finished | 0.8000 (100) | 0.9000 (600) |" in page
    f = plain.fit  # the note gives the seed noise to judge the gap by: the rows' sd, pooled
    pooled = (sum(r.peak_sd ** 2 for r in f.table) / len(f.table)) ** 0.5
    assert f"scatter by about {pooled:.4f} between seeds" in page and "best raw evaluation" in page
    assert "Runs trained" not in markdown(plain, [])


def test_a_prediction_that_is_a_floor_says_at_least_in_the_report():
    """The panel said "expect at least -0.2500" where report.md's run table showed "-0.2500 (2000)"
    beside the run's -0.0829: read as a 3x miss (a reviewer's regression under "cannot tell")."""
    import synthetic as S

    from l2advisor.reporting.data import report_data
    from l2advisor.reporting.page import markdown
    from l2advisor.science.fit import fit_relations

    below = {"predicted_metric": -0.25, "predicted_peak_step": 2000.0, "verdict": "cannot tell",
             "extrapolated": True, "budget_steps": 2000}  # another lam's peak: no floor (review 40a)
    estimate = {**below, "extrapolated": False}  # inside the probed range, an estimate
    fails_long = {**below, "verdict": "does not hold", "extrapolated": False}  # 2000 > 2 x 400 compared steps
    runs = trained_runs([run("below", 0.04, [-0.1], advice=below), run("estimate", 0.04, [-0.1], advice=estimate),
                         run("fails", 0.04, [-0.1], advice=fails_long)], common_steps=400.0)
    assert [r.predicted_is_floor for r in runs] == [False, False, True]
    assert not trained_runs([run("fails", 0.04, [-0.1], advice=fails_long)], common_steps=1500.0)[0].predicted_is_floor
    fails = dataclasses.replace(advice(), verdict="does not hold")  # the report's own advice, at its lam and budget
    assert trained_runs([run("at", 0.01, [0.5])], fails, common_steps=400.0)[0].predicted_is_floor
    assert not trained_runs([run("at", 0.01, [0.5])], fails)[0].predicted_is_floor  # no compared steps known
    cannot = dataclasses.replace(advice(), verdict="cannot tell", extrapolated=True)
    assert not trained_runs([run("at", 0.01, [0.5])], cannot, common_steps=400.0)[0].predicted_is_floor
    curves = S.family()
    page = markdown(dataclasses.replace(report_data(curves, fit_relations(curves), None), trained=tuple(runs)), [])
    assert "| at least -0.2500 (2000, assumed) |" in page and page.count("at least -0.25") == 1  # the probe's step
    assert "| -0.2500 (2000, assumed) |" in page  # "cannot tell": the step rests on a c the probes did not measure
