"""Progress lines in a log: where stderr is no terminal, long commands say how far they are now
and then (at most every L2ADVISOR_LOG_EVERY seconds), not only when they end."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from rich.console import Console
from typer.testing import CliRunner

from l2advisor.cli.app import app
from l2advisor.errors import InputError
from l2advisor.logged_progress import ENV, LoggedProgress, log_every

runner = CliRunner()


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def bars(every_s: float | None, terminal: bool = False) -> tuple[LoggedProgress, Clock, io.StringIO]:
    clock, sink = Clock(), io.StringIO()
    console = Console(file=sink, force_terminal=terminal, width=200, color_system=None)
    return LoggedProgress(console=console, every_s=every_s, get_time=clock, disable=True), clock, sink


def test_a_line_at_most_every_interval_with_steps_share_info_and_times() -> None:
    progress, clock, sink = bars(every_s=30)
    task = progress.add_task("all 6 probes (steps)", total=5600, info="")
    for second, steps in ((10, 500), (29, 1000), (31, 1100), (45, 1600), (62, 2240)):
        clock.now = 100.0 + second
        progress.update(task, completed=steps, info="[green]tau 2.00[/]  val 0.9100")
    lines = sink.getvalue().splitlines()
    assert len(lines) == 2, lines  # at 31 s and at 62 s; the updates between come too soon
    assert lines[0].startswith("all 6 probes (steps): 1,100/5,600 (20%), tau 2.00 val 0.9100 (0:00:31 elapsed, about ")
    assert lines[1].startswith("all 6 probes (steps): 2,240/5,600 (40%), ")
    assert lines[1].endswith(" left)") and "0:01:02 elapsed" in lines[1]


def test_the_bar_updated_last_is_named_beside_the_first_until_it_ends() -> None:
    progress, clock, sink = bars(every_s=10)
    overall = progress.add_task("trial 2 of 20", total=3200, info="best so far 0.9700")
    trial = progress.add_task("trial 1: lam=0.003", total=1600, info="")
    clock.now += 11
    progress.update(trial, completed=400, info="val 0.9300")  # the first bar has not moved: no line
    progress.update(overall, completed=1600)  # the first bar updated last: the trial stays named
    clock.now += 11
    progress.update(trial, completed=1600, info="finished at step 1600")
    progress.update(overall, completed=2000)
    lines = sink.getvalue().splitlines()
    assert lines[0].startswith("trial 2 of 20: 1,600/3,200 (50%), best so far 0.9700; trial 1: lam=0.003: 400/1,600 (25%), "
                               "val 0.9300 (0:00:11 elapsed")
    assert len(lines) == 2 and "trial 1" not in lines[1], lines  # an ended bar is not named


def test_no_lines_on_a_terminal_nor_when_switched_off() -> None:
    for every_s, terminal in ((1, True), (None, False)):
        progress, clock, sink = bars(every_s=every_s, terminal=terminal)
        task = progress.add_task("lam 0.001", total=100, info="")
        for _step in range(99):
            clock.now += 5
            progress.advance(task)
        assert sink.getvalue() == "", (every_s, terminal)


@pytest.mark.parametrize(("value", "seconds"), [("", 30.0), ("  ", 30.0), ("2.5", 2.5), ("0", None), ("60", 60.0)])
def test_the_interval_comes_from_the_environment(value: str, seconds: float | None) -> None:
    assert log_every({ENV: value}) == seconds
    assert log_every({}) == 30.0


@pytest.mark.parametrize("value", ["-1", "soon", "nan", "inf"])
def test_a_wrong_interval_is_one_sentence(value: str) -> None:
    with pytest.raises(InputError, match=f"{ENV} must be a number of seconds >= 0") as raised:
        log_every({ENV: value})
    assert repr(value) in str(raised.value)


def test_train_into_a_log_says_how_far_it_is_as_it_goes(tiny_model: Path, tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    args = ["train", str(tiny_model), "--device", "cpu", "--budget", "40", "--weight-decay", "0.01",
            "--eval-every", "10"]
    monkeypatch.setenv(ENV, "0.000001")  # a line at every update
    result = runner.invoke(app, [*args, "--out", str(tmp_path / "every")])
    assert result.exit_code == 0, result.output
    lines = [line for line in result.stderr.splitlines() if " elapsed" in line]
    # nothing before the first step nor at the end, which the summary says
    assert [line.split(": ")[1].split(" ")[0] for line in lines] == ["10/40", "20/40", "30/40"], lines
    monkeypatch.setenv(ENV, "0")
    quiet = runner.invoke(app, [*args, "--out", str(tmp_path / "never")])
    assert quiet.exit_code == 0 and " elapsed" not in quiet.stderr, quiet.stderr
    monkeypatch.setenv(ENV, "-3")
    wrong = runner.invoke(app, [*args, "--out", str(tmp_path / "wrong")])
    assert wrong.exit_code == 2 and f"{ENV} must be a number of seconds >= 0" in " ".join(wrong.stderr.split())
