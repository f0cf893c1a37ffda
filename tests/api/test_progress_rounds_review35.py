"""Progress over a call whose follow-up seed runs a second round: `done_steps` / `total_steps` cover
every probe of the call (the ProgressEvent docstring), where they restarted from 0 with a new total
(a percentage went to 100 % and back to 0 %)."""

from __future__ import annotations

from pathlib import Path

import torch

import l2advisor
from l2advisor.api.progress import EventProgress


class _Run:
    def __init__(self, run_id: str, max_steps: int) -> None:
        self.run_id, self.max_steps = run_id, max_steps


class _Result:
    status, steps = "finished", 0


def test_a_second_round_grows_the_total_and_keeps_the_steps_done() -> None:
    events = []
    first, second = [_Run("a", 10), _Run("b", 20)], [_Run("c", 30)]
    progress = EventProgress(first, events.append)
    for run in first:
        progress.begin(run, False)
        progress.finish(run, _Result())
    progress.add(second)
    progress.begin(second[0], False)
    progress.update(second[0], {"step": 15})
    assert [(e.done_steps, e.total_steps) for e in events] == [(0, 30), (10, 30), (10, 30), (30, 30), (30, 60),
                                                               (45, 60)]


def test_the_api_reports_one_progress_over_its_rounds(tmp_path: Path, monkeypatch) -> None:
    import l2advisor.probing.follow_up as follow_up

    def two_rounds(runs, path, tolerance, run, interrupted, notice):  # the follow-up decision, made for the test
        run(runs[:2])
        run(runs[2:])
        return runs

    monkeypatch.setattr(follow_up, "run_with_follow_up", two_rounds)
    g = torch.Generator().manual_seed(0)
    y = torch.randint(0, 4, (128,), generator=g)
    x = torch.randn(128, 8, generator=g) + y[:, None]
    events = []
    l2advisor.probe(lambda: torch.nn.Sequential(torch.nn.Linear(8, 4)), (x[:96], y[:96]), (x[96:], y[96:]),
                    out=tmp_path / "r", lambdas=(0.4, 0.2, 0.1), horizon=1, seeds=(0,), device="cpu",
                    progress=events.append, early_stop=False)
    done = [e.done_steps for e in events]
    assert done == sorted(done) and events[-1].done_steps == events[-1].total_steps == 25 + 50 + 100
    assert {e.total_steps for e in events} == {75, 175}  # the first round's, then grown by the second


def test_the_bar_in_a_log_file_writes_plain_lines_not_frames(tmp_path: Path, capsys) -> None:
    """With stderr in a file the API's bar wrote a frame of bar glyphs there (the CLI's did not)."""
    g = torch.Generator().manual_seed(0)
    y = torch.randint(0, 4, (128,), generator=g)
    x = torch.randn(128, 8, generator=g) + y[:, None]
    l2advisor.probe(lambda: torch.nn.Sequential(torch.nn.Linear(8, 4)), (x[:96], y[:96]), (x[96:], y[96:]),
                    out=tmp_path / "b", lambdas=(0.4, 0.2, 0.1), horizon=1, seeds=(0,), device="cpu",
                    progress=True, early_stop=False)
    said = capsys.readouterr().err
    assert "━" not in said and "probing" in said  # one plain line of the bar instead
