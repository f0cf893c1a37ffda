"""The suite harness's pure parts (benchmarks/harness): interpolation in log lam, the
within-spread rule, the verdict judge, cost accounting, the "reaches within 0.3 points" counter,
and the scored trials' noise; on synthetic truths written here."""

from __future__ import annotations

import math

import numpy as np
import pytest

from benchmarks.harness.accounting import ProbeCost, advice_spread, compute_to_reach, median
from benchmarks.harness.cases import score_case, summary
from benchmarks.harness.methods import (
    SimTrial,
    advisor_reach,
    eighth_practice,
    faithfulness,
    simulate_tpe,
    study_reach,
    summarize,
)
from benchmarks.harness.scoring import (
    LogLamGrid,
    TrialScorer,
    mean_sd,
    running_peak,
    scorer_from_truth,
    verdict_right,
    within_spread,
)

LAMS = (0.0, 1e-4, 2e-4, 4e-4, 8e-4, 1.6e-3)


class PeakedTruth:
    """A synthetic ground truth: mean peak 0.90 at lam = 0 rising to 0.95 at 4e-4, 3 seeds with
    offsets -d, 0, +d; curves rise linearly to their peak at step 1000, then stay."""

    def __init__(self, means=(0.90, 0.92, 0.94, 0.95, 0.93, 0.91), d=0.002, moves=True):
        self.lams = np.array(LAMS)
        self.seeds = (0, 1, 2)
        self._means, self._d, self._moves = np.array(means), d, moves

    def peaks(self, budget: int) -> np.ndarray:
        """The long budget's means are the short one's shifted one grid lam down (when moves)."""
        means = self._means
        if self._moves and budget > 4000:
            means = np.concatenate([means[1:], means[-1:]])
        return means[:, None] + self._d * np.array([-1.0, 0.0, 1.0])[None, :]

    def curves(self, lam: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
        i = int(np.flatnonzero(np.isclose(self.lams, lam))[0])
        steps = np.arange(100, 4001, 100, dtype=float)
        top = self.peaks(0)[i, seed]
        return steps, np.minimum(1.0, steps / 1000) * top

    def accuracy_at(self, lam: float, budget: int) -> float:
        return float(LogLamGrid(LAMS).interp(self.peaks(budget).mean(1), lam))

    def best_lam(self, budget: int) -> float:
        return float(self.lams[np.argmax(self.peaks(budget).mean(1))])

    def spread(self, budget: int) -> float:
        return self._d

    def lam_matters(self, budget: int) -> bool:
        means = self.peaks(budget).mean(1)
        return bool(means.max() - means[0] > max(0.003, 2 * self._d))

    def best_moves(self, short: int, long: int) -> bool:
        return self.best_lam(short) != self.best_lam(long)

    def outside_grid(self, lam: float) -> bool:
        return lam > self.lams[-1]


def flat_truth() -> PeakedTruth:
    return PeakedTruth(means=(0.93,) * 6, moves=False)


# --- interpolation in log lam -------------------------------------------------------------------

def test_interpolation_is_linear_in_log_lam_with_zero_one_step_below():
    grid = LogLamGrid(LAMS)
    values = np.array([0.0, 1.0, 2.0, 3.0, 4.0, 5.0])
    assert grid.interp(values, 2e-4) == pytest.approx(2.0)  # a grid point
    assert grid.interp(values, math.sqrt(2e-4 * 4e-4)) == pytest.approx(2.5)  # halfway in log
    assert grid.interp(values, 1.5e-4) != pytest.approx(1.5)  # not halfway in lam
    assert grid.interp(values, 0.0) == pytest.approx(0.0)
    assert grid.interp(values, math.sqrt(0.5e-4 * 1e-4)) == pytest.approx(0.5)  # lam = 0 sits at 5e-5
    assert grid.interp(values, 1e-7) == pytest.approx(0.0)  # far below: the lam = 0 row
    assert grid.interp(values, 1.0) == pytest.approx(5.0)  # above the grid: the top value


def test_grid_refuses_unsorted_or_too_small():
    with pytest.raises(ValueError):
        LogLamGrid((0.0, 2e-4, 1e-4))
    with pytest.raises(ValueError):
        LogLamGrid((0.0, 1e-4))


def test_running_peak_at_requested_steps():
    steps, metric = np.array([10.0, 20.0, 30.0]), np.array([0.5, np.nan, 0.4])
    assert running_peak(steps, metric, np.array([5.0, 10.0, 25.0, 30.0])).tolist()[1:] == [0.5, 0.5, 0.5]
    assert math.isnan(running_peak(steps, metric, np.array([5.0]))[0])


def test_mean_sd_leaves_out_a_diverged_seed():
    mean, sd = mean_sd(np.array([[0.9, 0.92, np.nan], [0.5, 0.5, 0.5]]))
    assert mean[0] == pytest.approx(0.91) and sd[0] == pytest.approx(np.std([0.9, 0.92], ddof=1))
    assert sd[1] == 0.0


# --- the within-spread rule and the verdict judge -----------------------------------------------

@pytest.mark.parametrize("gap, spread, expected", [
    (0.29, 0.1, True), (0.31, 0.1, False),  # the 0.3-point floor
    (0.59, 0.4, True), (0.61, 0.4, False),  # 1.5 x the seed sd
    (-0.5, 0.0, True),  # the advice beats the grid's best
])
def test_within_spread(gap, spread, expected):
    assert within_spread(gap, spread) is expected


def test_verdict_judge():
    assert verdict_right("holds", lam_matters=False, relations_shown=False) is False
    assert verdict_right("holds approximately", lam_matters=False, relations_shown=False) is False
    assert verdict_right("does not hold", lam_matters=False, relations_shown=False) is True
    assert verdict_right("does not hold", lam_matters=True, relations_shown=True) is False
    assert verdict_right("holds approximately", lam_matters=True, relations_shown=True) is True
    assert verdict_right("holds", lam_matters=True, relations_shown=False) is None


# --- cost accounting and the compute counter -----------------------------------------------------

def test_probe_cost_in_budget_runs():
    cost = ProbeCost(steps=8000, seconds=30.0, budget=16000, budget_run_seconds=120.0)
    assert cost.runs_by_steps == pytest.approx(0.5)
    assert cost.runs_by_time == pytest.approx(0.25)
    assert ProbeCost(8000, 30.0, 16000, None).runs_by_time is None
    with_loops = ProbeCost(8000, 30.0, 16000, 120.0, loop_seconds=20.0, budget_run_loop_seconds=110.0)
    assert with_loops.runs_by_loop == pytest.approx(20.0 / 110.0)
    assert with_loops.runs_by_loop < with_loops.runs_by_time
    assert cost.runs_by_loop is None  # start-up unknown: no loop figure


def test_advice_spread():
    assert advice_spread([1e-3, 2e-3, 1.5e-3]) == pytest.approx(2.0)
    assert advice_spread([1e-3, None, 3e-3]) == pytest.approx(3.0)
    assert advice_spread([1e-3]) is None
    assert advice_spread([0.0, 1e-3]) == math.inf


def test_compute_to_reach_counts_until_the_pick_is_good():
    reach = compute_to_reach([1.0, 2.0, 3.0, 4.0], [None, 0.90, 0.960, 0.955], best=0.962, tolerance=0.003)
    assert reach.reached and reach.compute == 3.0 and reach.spend == 4.0
    assert reach.final_accuracy == pytest.approx(0.955)  # the last pick, even if worse than an earlier one


def test_compute_to_reach_never_counts_the_whole_spend():
    reach = compute_to_reach([1.0, 2.0, 3.0], [0.90, 0.95, 0.958], best=0.962, tolerance=0.003)
    assert not reach.reached and reach.compute == 3.0
    with pytest.raises(ValueError):
        compute_to_reach([2.0, 1.0], [0.9, 0.9], best=0.9, tolerance=0.003)


def test_study_reach_pruned_trials_cost_but_never_pick():
    truth = PeakedTruth()
    accuracy = lambda lam: truth.accuracy_at(lam, 4000)  # noqa: E731
    trials = [SimTrial(1e-4, 0.92, 4000), SimTrial(4e-4, None, 1000), SimTrial(4e-4, 0.95, 4000)]
    reach = study_reach(trials, 4000, accuracy, best=0.95, tolerance=0.003)
    assert reach.reached and reach.compute == pytest.approx(1 + 0.25 + 1)
    only_pruned = study_reach(trials[:2], 4000, accuracy, best=0.95, tolerance=0.003)
    assert not only_pruned.reached and only_pruned.compute == pytest.approx(1.25)


def test_eighth_practice_picks_per_seed_and_pays_the_grid():
    truth = PeakedTruth()
    accuracy = lambda lam: truth.accuracy_at(lam, 4000)  # noqa: E731
    eighth = np.array([[0.1, 0.1], [0.2, 0.2], [0.3, 0.3], [0.4, 0.45], [0.5, 0.1], [0.2, 0.1]])
    reaches = eighth_practice(LAMS, eighth, accuracy, best=0.95, tolerance=0.003)
    bad, good = reaches  # seed 0 picks 8e-4 (0.93), seed 1 picks 4e-4 (0.95)
    assert not bad.reached and good.reached
    assert bad.compute == good.compute == pytest.approx(6 / 8 + 1)
    assert summarize(reaches).reached == 1


def test_advisor_reach_costs_probes_plus_one_run():
    truth = PeakedTruth()
    accuracy = lambda lam: truth.accuracy_at(lam, 4000)  # noqa: E731
    assert advisor_reach(2000, 4e-4, 4000, accuracy, 0.95, 0.003).compute == pytest.approx(1.5)
    assert not advisor_reach(2000, 1e-4, 4000, accuracy, 0.95, 0.003).reached
    assert not advisor_reach(2000, None, 4000, accuracy, 0.95, 0.003).reached


# --- scored trials -------------------------------------------------------------------------------

def test_scored_trials_have_the_grid_seed_noise():
    truth = PeakedTruth(d=0.004)
    scorer = scorer_from_truth(truth, 4000)
    rng = np.random.default_rng(0)
    draws = np.array([scorer.value(4e-4, z) for z in rng.standard_normal(4000)])
    assert draws.mean() == pytest.approx(0.95, abs=3e-4)
    assert draws.std() == pytest.approx(0.004, rel=0.05)
    quiet = TrialScorer(LogLamGrid(LAMS), np.full(6, 0.93), np.zeros(6))
    assert [quiet.value(4e-4, z) for z in (-2.0, 0.0, 3.0)] == pytest.approx([0.93] * 3)


def test_scored_paths_end_at_the_trial_value():
    truth = PeakedTruth()
    scorer = scorer_from_truth(truth, 2000, with_paths=True)
    path = scorer.path(3e-4, 1.3)
    assert path[-1] == pytest.approx(scorer.value(3e-4, 1.3))
    assert np.all(np.diff(path) >= -1e-12)  # a running peak never falls
    assert path[0] < path[-1]  # the curves rise until step 1000


def test_tpe_finds_the_peak_and_hyperband_prunes():
    truth = PeakedTruth()
    scorer = scorer_from_truth(truth, 4000, with_paths=True)
    accuracy = lambda lam: truth.accuracy_at(lam, 4000)  # noqa: E731
    plain = simulate_tpe(scorer, 4000, 1e-4, 1.6e-3, 20, sampler_seed=0)
    assert len(plain) == 20 and all(t.steps == 4000 for t in plain)
    assert study_reach(plain, 4000, accuracy, 0.95, 0.003).reached
    pruned = simulate_tpe(scorer, 4000, 1e-4, 1.6e-3, 20, sampler_seed=0, pruner="hyperband")
    assert any(t.value is None and t.steps < 4000 for t in pruned)


def test_faithfulness_flags_a_biased_scoring():
    scorer = scorer_from_truth(PeakedTruth(d=0.002), 4000)
    honest = faithfulness([(4e-4, 0.951), (1e-4, 0.919)], scorer)
    biased = faithfulness([(4e-4, 0.97), (1e-4, 0.94)], scorer)
    assert honest["within_2sd"] == 1.0 and biased["within_2sd"] == 0.0
    assert biased["mean_diff_points"] == pytest.approx(2.0)


# --- a case and the summary line -----------------------------------------------------------------

def _advice(lam, verdict):
    return {"weight_decay": lam, "verdict": verdict}


def test_case_on_a_null_task_judges_holds_wrong():
    cost = ProbeCost(6000, 60.0, 4000, 40.0)
    row = score_case(flat_truth(), 4000, (4000, 16000),
                     [_advice(4e-4, "holds approximately"), _advice(2e-4, "does not hold")], cost)
    assert row["lam_matters"] is False and row["verdicts_right"] == [False, True]
    assert row["within"] and row["cost_time"] == pytest.approx(1.5) and row["advice_spread"] == pytest.approx(2.0)


def test_case_judges_the_verdict_from_the_whole_task():
    cost = ProbeCost(2000, 10.0, 4000, 40.0)
    still = PeakedTruth(moves=False)  # lam matters at both budgets, but its best stays put
    row = score_case(still, 4000, (4000, 16000), [_advice(4e-4, "does not hold")], cost)
    assert row["lam_matters"] and not row["relations_shown"] and row["verdict_right"] is None
    moving = score_case(PeakedTruth(), 16000, (4000, 16000), [_advice(2e-4, "holds approximately")], cost)
    assert moving["relations_shown"] and moving["verdict_right"] is True and moving["within"]


def test_case_and_summary_line_on_a_peaked_task():
    cost = ProbeCost(2000, 10.0, 4000, 40.0)
    good = score_case(PeakedTruth(), 4000, (4000, 16000), [_advice(4e-4, "holds"), _advice(6e-4, "holds")], cost)
    far = score_case(PeakedTruth(), 4000, (4000, 16000), [_advice(1e-4, "does not hold")],
                     ProbeCost(2000, 30.0, 4000, 40.0))
    assert good["within"] and good["gap_points"] == pytest.approx(0.0)
    assert not far["within"] and far["gap_points"] == pytest.approx(3.0) and far["verdict_right"] is False
    line = summary([{**good, "task": "a"}, {**far, "task": "b"}])
    assert line.startswith("cases within spread: 1/2, verdicts right: 1/2")
    assert "median 0.50 / worst 0.75 budget runs" in line and "worst advice spread 1.50" in line


def test_summary_gives_the_cost_without_start_up_when_known():
    timed = score_case(PeakedTruth(), 4000, (4000, 16000), [_advice(4e-4, "holds")],
                       ProbeCost(2000, 30.0, 4000, 40.0, loop_seconds=20.0, budget_run_loop_seconds=30.0))
    assert timed["cost_loop"] == pytest.approx(20.0 / 30.0)
    assert "(start-up left out: cost median 0.67 / worst 0.67)" in summary([{**timed, "task": "a"}])
    untimed = score_case(PeakedTruth(), 4000, (4000, 16000), [_advice(4e-4, "holds")], ProbeCost(2000, 30.0, 4000, 40.0))
    assert "start-up" not in summary([{**untimed, "task": "a"}])  # negative control: unknown, not 0


def test_median():
    assert median([3.0, 1.0, None, 2.0]) == 2.0 and median([1.0, 2.0]) == 1.5 and median([]) is None


def test_one_command_cost_is_what_the_advice_adds_to_the_run():
    from benchmarks.one_command_cost import ratios

    timings = {"alone": [{"wall": 4.0}, {"wall": 8.0}, {"wall": 5.0}],
               "one": [{"wall": 5.0}, {"wall": 10.0}, {"wall": 7.0}],  # adds 1/4, 2/8, 2/5 to its round's run
               "separate": [{"wall": 3.0, "recommend_wall": 1.0}, {"wall": 2.0, "recommend_wall": 1.0},
                            {"wall": 2.5, "recommend_wall": 0.5}]}
    got = ratios(timings)
    assert (got["alone_s"], got["one_s"]) == (5.0, 7.0)  # the table's seconds: medians of each arm
    assert got["one_command"] == pytest.approx(0.25)  # paired per round; the medians' (7 - 5) / 5 would be 0.4
    assert got["one_command_range"] == pytest.approx((0.25, 0.4))
    assert got["probe_command"] == pytest.approx(0.5)  # 3/4, 2/8, 2.5/5
    assert got["probe_and_recommend"] == pytest.approx(0.6) and got["probe_and_recommend_range"] == (0.375, 1.0)


def test_probe_floor_is_start_up_plus_the_longest_rung_at_the_runs_step_time():
    from benchmarks.probe_floor import row

    rounds = [{"start_up": 1.0, "probe": 2.0, "run": 4.0, "run_loop": 3.2, "longest": 1600},
              {"start_up": 3.0, "probe": 2.4, "run": 5.0, "run_loop": 2.4, "longest": 1600},
              {"start_up": 1.2, "probe": 2.2, "run": 4.4, "run_loop": 3.0, "longest": 1600}]
    got = row("task", rounds, budget=6400)
    assert (got["start_up_s"], got["probe_s"], got["run_s"]) == (1.2, 2.2, 4.4)  # medians
    assert got["floor_s"] == pytest.approx(1.2 + 1600 * 3.0 / 6400)  # the median loop's step time
    assert got["cost"] == pytest.approx(0.5) and got["floor_cost"] == pytest.approx(1.95 / 4.4)
    assert got["above_floor_s"] == pytest.approx(2.2 - 1.95)
