"""The probe bars after Ctrl-C: the overall bar counts only the steps the probes ran, and no
ended bar shows a time remaining."""

from __future__ import annotations

from rich.progress import TimeRemainingColumn

from l2advisor.cli.probe_view import ProbeBars
from l2advisor.probing.plan import ProbeRun
from l2advisor.training.train import TrainResult

RUNS = [ProbeRun(lam=lam, lr=0.1, seed=seed, max_steps=steps, eval_every=13)
        for lam, steps in ((0.1, 400), (0.05, 800), (0.025, 1600)) for seed in (0, 1)]


def record(step: int) -> dict:
    return {"step": step, "tau": 0.1, "val_metric": 0.5}


def ran(status: str, steps: int = 26) -> ProbeBars:
    bars = ProbeBars(RUNS)
    for run in RUNS:
        bars.begin(run, reused=False)
        bars.update(run, record(13))
        bars.finish(run, TrainResult(status, steps=steps))
    return bars


def overall(bars: ProbeBars):
    return bars.bars.tasks[bars.overall]


def remaining(bars: ProbeBars, task) -> str:
    column = next(c for c in bars.bars.columns if isinstance(c, TimeRemainingColumn))
    return column.render(task).plain


def test_interrupted_probes_advance_the_overall_bar_by_the_steps_they_ran() -> None:
    bars = ran("interrupted")
    assert overall(bars).total == 5600
    assert overall(bars).completed == 6 * 26  # it read 5600/5600


def test_stopped_probes_still_skip_their_rest() -> None:
    bars = ran("stopped", steps=200)
    assert overall(bars).completed == 5600


def test_ended_bars_show_no_time_remaining() -> None:
    bars = ran("interrupted")
    for task in bars.bars.tasks:
        assert task.completed < task.total
        assert remaining(bars, task) == ""


def test_a_running_bar_keeps_its_time_remaining() -> None:
    bars = ProbeBars(RUNS[:1])
    bars.begin(RUNS[0], reused=False)
    bars.update(RUNS[0], record(13))
    assert remaining(bars, bars.bars.tasks[1]) != ""
