"""report.md's weight_decay column for runs whose lam moved: AutoL2's and a replayed schedule's."""

from __future__ import annotations

import math

from l2advisor.reporting.page import _lam_text
from l2advisor.reporting.trained import TrainedRun


def _run(run_id: str, first: float, last: float, autol2: bool = False) -> TrainedRun:
    return TrainedRun(run_id=run_id, weight_decay=first, autol2=autol2, lr_schedule="constant", steps=4000,
                      status="finished", peak_metric=0.9, peak_step=3000.0, predicted_metric=math.nan,
                      predicted_peak_step=math.nan, last_lam=last)


def test_a_replayed_schedule_shows_where_it_took_lam() -> None:
    """The replay ran 0.01 -> 0.005 -> 0.0025 and the table said "0.01", as for a constant lam."""
    assert _lam_text(_run("wd-schedule=wd.json/seed=0", 0.01, 0.0025)) == "0.01 -> 0.0025 (schedule)"
    assert _lam_text(_run("autol2/lam0=0.01/seed=0", 0.01, 0.0025, autol2=True)) == "0.01 -> 0.0025 (AutoL2)"
    assert _lam_text(_run("autol2/lam0=0.01/seed=0", 0.01, 0.01, autol2=True)) == "0.01 (AutoL2 start)"
    assert _lam_text(_run("lam=0.002/seed=0", 0.002, 0.002)) == "0.002"  # the control: constant
    assert _lam_text(_run("lam=0.002/seed=0", 0.002, math.nan)) == "0.002"  # no evaluation recorded


def test_the_lam_a_run_ended_at_is_read_from_its_last_evaluation() -> None:
    """_lam_text's input: trained_runs takes the lam of the run's last evaluation, as train records it."""
    from l2advisor.reporting.trained import trained_runs
    from l2advisor.runs.store import RunState

    evals = [{"step": step, "val_metric": 0.5 + step / 10000, "lam": lam}
             for step, lam in ((0, 0.01), (1000, 0.005), (2000, 0.0025))]
    state = RunState("wd-schedule=wd.json/seed=0", {"lam": 0.01, "lr": 0.1, "max_steps": 2000}, evals,
                     {"status": "finished", "steps": 2000})
    (run,) = trained_runs([state])
    assert run.weight_decay == 0.01 and run.last_lam == 0.0025
    assert _lam_text(run) == "0.01 -> 0.0025 (schedule)"


def test_the_reports_know_a_replay_by_the_prefix_train_writes() -> None:
    """train's replay run ids and both readers (this column, trained.py's prediction check) use
    one prefix, runs.store.SCHEDULE_RUN: a replay at the advice's lam is not shown as the advice."""
    from test_trained import advice, run

    from l2advisor.reporting.trained import trained_runs
    from l2advisor.runs.store import SCHEDULE_RUN

    replay_id = f"{SCHEDULE_RUN}wd.json/seed=0"
    assert _lam_text(_run(replay_id, 0.01, 0.0025)) == "0.01 -> 0.0025 (schedule)"
    replay, constant = trained_runs([run(replay_id, 0.01, [0.5, 0.6]), run("lam=0.01/seed=0", 0.01, [0.5, 0.6])],
                                    advice())
    assert math.isnan(replay.predicted_metric) and constant.predicted_metric == 0.9


def test_runs_started_for_another_budget_than_the_advice_are_named() -> None:
    """report.md showed "For a budget of 10000 steps ... weight_decay=0.004" above a run trained at
    4,000 steps' advice (0.01), and a reader took one for the other (the eleventh review's F5)."""
    from types import SimpleNamespace

    from l2advisor.reporting.page import _other_budgets
    from l2advisor.reporting.trained import trained_runs
    from l2advisor.runs.store import RunState

    def state(run_id: str, max_steps: object) -> RunState:
        return RunState(run_id, {"lam": 0.01, "lr": 0.1, "max_steps": max_steps}, [{"step": 0, "val_metric": 0.5}],
                        {"status": "finished", "steps": 4000})

    short, same, unknown = trained_runs([state("lam=0.01/seed=0", 4000), state("lam=0.004/seed=0", 10000),
                                         state("old/seed=0", None)])
    assert (short.budget_steps, same.budget_steps, unknown.budget_steps) == (4000, 10000, 0)
    data = SimpleNamespace(run_steps=0, advice=SimpleNamespace(budget_steps=10000), trained=[short, same, unknown])
    (line, blank) = _other_budgets(data)
    assert line.startswith("The advice above is for 10000 steps; lam=0.01/seed=0 (4000 steps) was started for "
                           "another budget") and blank == ""
    assert "lam=0.004" not in line and "old/seed=0" not in line  # the same budget, and one not recorded
    assert _other_budgets(SimpleNamespace(run_steps=0, advice=SimpleNamespace(budget_steps=4000), trained=[short])) == []
    assert _other_budgets(SimpleNamespace(run_steps=0, advice=None, trained=[short])) == []  # no advice shown
    # under an lr schedule the advice's budget is a tau; the run's steps are what runs are started for
    assert _other_budgets(SimpleNamespace(run_steps=4000, advice=SimpleNamespace(budget_steps=123), trained=[short])) == []
