"""A rerun or an interrupt whose planned probes all finished, but not the follow-up round they asked
for: the rerun said "reused, none to train" (and that no Dask scheduler was contacted) and then
trained the follow-up probes; the interrupt said "the 3 finished probes of 3 are reused, the
others restart", counting none of the follow-up probes it left unfinished."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from l2advisor.cli.app import app
from l2advisor.cli.probe_view import interrupted_note
from l2advisor.probing.plan import ProbeRun
from l2advisor.runs.rundir import results_path

runner = CliRunner()


@pytest.fixture
def asks_for_seed_1(monkeypatch) -> None:
    import l2advisor.probing.follow_up as follow_up

    def decide(planned, curves, tolerance, main_lr=None, baseline=None):  # whatever the curves: the rule is tested in probing/
        return follow_up.FollowUp(tuple(follow_up.replace(run, seed=1) for run in planned), "Probing seed 1.")

    monkeypatch.setattr(follow_up, "decide_follow_up", decide)


def _args(model: Path, out: Path) -> list[str]:
    return ["probe", str(model), "--out", str(out), "--lambdas", "0.4,0.2,0.1", "--horizon", "1",
            "--seeds", "0", "--device", "cpu"]


def _drop_follow_ups(out: Path) -> None:
    """The results as a run interrupted before its follow-up round left them."""
    path = results_path(out)
    records = [json.loads(line) for line in path.read_text().splitlines()]
    path.write_text("".join(json.dumps(r) + "\n" for r in records if "/seed=1" not in str(r.get("run", ""))))


def test_a_rerun_with_follow_ups_left_does_not_say_none_to_train(tiny_model: Path, tmp_path: Path,
                                                                 asks_for_seed_1) -> None:
    out = tmp_path / "run"
    assert runner.invoke(app, _args(tiny_model, out)).exit_code == 0
    _drop_follow_ups(out)
    again = runner.invoke(app, _args(tiny_model, out))
    said = " ".join(again.stderr.split())
    assert again.exit_code == 0, again.output
    assert "Probing seed 1." in said  # it trains them
    assert "none to train" not in said, said
    done = runner.invoke(app, _args(tiny_model, out))  # the control: now nothing is left
    assert "All 3 planned probes had already finished" in " ".join(done.stderr.split())


def test_an_interrupt_in_the_follow_up_round_counts_its_probes(tiny_model: Path, tmp_path: Path,
                                                               asks_for_seed_1) -> None:
    out = tmp_path / "run"
    assert runner.invoke(app, _args(tiny_model, out)).exit_code == 0
    _drop_follow_ups(out)
    planned = [ProbeRun(lam=lam, lr=0.1, seed=0, max_steps=round(1 / (0.1 * lam)), eval_every=1)
               for lam in (0.4, 0.2, 0.1)]
    said = interrupted_note(results_path(out), planned, 0.005)
    assert "the 3 finished probes of 6 are reused, the others restart" in said, said


def test_a_rerun_with_every_probe_done_fits_its_probes_once(tiny_model: Path, tmp_path: Path, monkeypatch) -> None:
    """The rerun asks twice whether a follow-up round is left (its note, then the round itself) and
    the summary once more: one fit of the same probes serves them all."""
    import l2advisor.science.fit_memo as memo

    out = tmp_path / "run"
    args = [*_args(tiny_model, out)[:-4], "--seeds", "0,1", "--device", "cpu"]  # two seeds: a follow-up is decided
    assert runner.invoke(app, args).exit_code == 0
    fits = []
    real = memo.fit_relations
    monkeypatch.setattr(memo, "fit_relations", lambda *a, **k: fits.append(1) or real(*a, **k))
    again = runner.invoke(app, args)
    assert again.exit_code == 0, again.output
    assert "had already finished" in " ".join(again.stderr.split())
    assert len(fits) == 1, len(fits)
