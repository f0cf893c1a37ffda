"""`l2advisor probe` end to end, in-process, on a tiny generated task."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from l2advisor.cli.app import app
from l2advisor.cli.probe_view import report_failures
from l2advisor.errors import RunFailed
from l2advisor.runs.rundir import results_path
from l2advisor.runs.store import RunState, read_results

runner = CliRunner()


def probe_args(model: Path, out: Path, *extra: str) -> list[str]:
    return ["probe", str(model), "--out", str(out), "--lambdas", "0.4,0.2,0.1", "--horizon", "2",
            "--seeds", "0", "--device", "cpu", *extra]


def test_probe_writes_results_and_summary(tiny_model: Path, tmp_path: Path) -> None:
    out = tmp_path / "run"
    result = runner.invoke(app, [*probe_args(tiny_model, out), "--json"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert sorted(row["lam"] for row in summary["probes"]) == [0.1, 0.2, 0.4]
    # the command's own wall time covers its longest probe (one stack: every probe's clock
    # starts inside it); no upper bound in seconds: a loaded machine would fail it by chance
    assert max(row["seconds"] for row in summary["probes"]) <= summary["training_seconds"]
    results = read_results(results_path(out))
    assert results.header["settings"]["probe"]["horizon"] == 2
    assert results.header["versions"]["torch"]
    for state in results.runs.values():
        assert state.done and state.evals[0]["step"] == 0
        lam, lr = state.meta["lam"], state.meta["lr"]
        last = state.evals[-1]
        assert abs(last["tau"] - lr * lam * last["step"]) < 1e-9  # the tau clock at constant lr*lam
        assert state.meta["max_steps"] == round(2 / (lr * lam))


def test_rerun_resumes_and_reuses_finished_probes(tiny_model: Path, tmp_path: Path) -> None:
    out = tmp_path / "run"
    assert runner.invoke(app, probe_args(tiny_model, out)).exit_code == 0
    size = results_path(out).stat().st_size
    again = runner.invoke(app, probe_args(tiny_model, out))
    assert again.exit_code == 0, again.output
    assert "3 reused" in again.stderr
    assert results_path(out).stat().st_size == size  # nothing was rerun


def test_other_settings_refused_with_the_difference(tiny_model: Path, tmp_path: Path) -> None:
    out = tmp_path / "run"
    assert runner.invoke(app, probe_args(tiny_model, out)).exit_code == 0
    changed = runner.invoke(app, probe_args(tiny_model, out, "--batch-size", "16"))
    assert changed.exit_code == 2
    assert "batch_size: 32 -> 16" in changed.stderr and "--force" in changed.stderr
    forced = runner.invoke(app, probe_args(tiny_model, out, "--batch-size", "16", "--force"))
    assert forced.exit_code == 0, forced.output
    assert read_results(results_path(out)).header["settings"]["batch_size"] == 16


def test_automatic_ladder_respects_probe_budget(tiny_model: Path, tmp_path: Path) -> None:
    from l2advisor.probing.plan import ProbeSettings, plan_probes

    # rungs cost 4/(0.1*lam) steps: 100, 200, 400, 800, ... ; the budget is shared by 2 seeds
    def lams(budget: int) -> list[float]:
        settings = ProbeSettings(lrs=(0.1,), seeds=(0, 1), horizon=4.0, probe_budget=budget, lam_max=0.4)
        runs = plan_probes(settings)
        assert sum(r.max_steps for r in runs) <= max(budget, 2 * 700)  # never past budget, bar 3 rungs
        return sorted({r.lam for r in runs}, reverse=True)

    assert lams(3000) == [0.4, 0.2, 0.1, 0.05]  # 1500 per seed fits
    assert lams(2999) == [0.4, 0.2, 0.1]  # 1500 per seed does not
    assert lams(10) == [0.4, 0.2, 0.1]  # a fit needs 3 rungs, whatever the budget


def test_probes_stop_after_a_clear_peak_but_not_before_half_the_horizon() -> None:
    from l2advisor.probing.plan import ProbeSettings, stop_reason

    # a clear rise then drop: peak at tau 0.9, the metric falls 0.4 by tau 3.9
    metric = [0.2 + 0.07 * i for i in range(10)] + [0.9 - 0.4 * i / 29 for i in range(1, 31)]
    records = [{"step": i, "tau": 0.1 * i, "val_metric": v} for i, v in enumerate(metric)]
    settings = ProbeSettings(lrs=(0.1,), seeds=(0,), horizon=8.0, probe_budget=1000)
    never = lambda: False  # noqa: E731
    assert stop_reason(records, settings, never) is None  # tau 3.9 < horizon / 2
    late = [{**r, "tau": 0.2 * r["step"]} for r in records]  # the same curve, reaching tau 7.8
    assert stop_reason(late, settings, never) == "stopped"
    assert stop_reason(late, ProbeSettings(**{**settings.__dict__, "early_stop": False}), never) is None
    assert stop_reason(records, settings, lambda: True) == "interrupted"


def test_a_follow_up_seed_runs_after_the_plan_and_recommend_fits_it(tiny_model: Path, tmp_path: Path,
                                                                    monkeypatch) -> None:
    """The wiring of probing/follow_up.py (its rule is tested there): when the planned probes ask
    for one more seed, `probe` trains it, says why, lists it in --json; `recommend` fits it."""
    import l2advisor.probing.follow_up as follow_up

    def asks_for_seed_1(planned, curves, tolerance, main_lr=None, baseline=None):  # whatever the curves: the decision is not tested here
        runs = tuple(follow_up.replace(run, seed=1) for run in planned)
        return follow_up.FollowUp(runs, "Probing seed 1 to settle it.")

    monkeypatch.setattr(follow_up, "decide_follow_up", asks_for_seed_1)
    out = tmp_path / "run"
    result = runner.invoke(app, [*probe_args(out=out, model=tiny_model), "--json"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert sorted(summary["follow_up"]) == sorted(f"lr=0.1/lam={lam:g}/seed=1" for lam in (0.4, 0.2, 0.1))
    assert sorted(row["seed"] for row in summary["probes"]) == [0, 0, 0, 1, 1, 1]
    assert "Probing seed 1 to settle it." in result.stderr
    advice = runner.invoke(app, ["recommend", str(out), "--budget", "400", "--json"])
    assert advice.exit_code == 0, advice.output
    assert json.loads(advice.stdout)["missing_probes"] == []
    fit = json.loads((out / "fit.json").read_text())
    assert {row["n_seeds"] for row in fit["table"]} == {2}


def test_a_value_listed_twice_is_refused_before_anything_runs(tiny_model: Path, tmp_path: Path) -> None:
    for flag, values, named in (("--lambdas", "0.4,0.2,0.4", "The lams (--lambdas) list 0.4 more than once"),
                                ("--lambdas", "0.4,0.2,0.40000001", "list 0.4 more than once (as run ids"),
                                ("--seeds", "0,0", "The probe seeds (--seeds) list 0 more than once")):
        out = tmp_path / f"{flag}{values}"
        result = runner.invoke(app, probe_args(tiny_model, out, flag, values))  # the later flag wins
        assert result.exit_code == 2, result.output
        assert named in " ".join(result.stderr.split())
        assert not (out / "probes.jsonl").exists()
    large = runner.invoke(app, probe_args(tiny_model, tmp_path / "large", "--seeds", "1000000,1000001"))
    assert large.exit_code == 0, large.output  # the control: distinct seeds that ':g' would write alike


def test_fewer_lams_than_a_fit_needs_are_probed_with_a_warning(tiny_model: Path, tmp_path: Path) -> None:
    result = runner.invoke(app, probe_args(tiny_model, tmp_path / "two", "--lambdas", "0.4,0.2",
                                           "--probe-budget", "50"))
    assert result.exit_code == 0, result.output
    said = " ".join(result.stderr.split())
    assert "Only 2 lam(s) asked for: the fit needs at least 3" in said
    assert "The probe budget (--probe-budget, probe_budget=) does not apply to a list of lams" in said
    quiet = runner.invoke(app, probe_args(tiny_model, tmp_path / "three"))  # the control: 3 lams, no budget
    assert quiet.exit_code == 0 and "Only" not in quiet.stderr and "does not apply" not in quiet.stderr


def test_lambdas_help_says_what_fewer_than_three_do() -> None:
    """--lambdas accepts fewer than 3 (probed, with a notice); its help said "at least 3"."""
    command = typer.main.get_command(app).commands["probe"]
    text = " ".join(next(p for p in command.params if p.name == "lambdas").help.split())
    assert "at least 3" not in text
    assert "3 or more for a fit; with fewer, recommend answers with a measured lam" in text


def test_ctrl_c_in_a_forked_data_worker_is_left_to_the_main_process(monkeypatch) -> None:
    """DataLoader workers fork with the handler; a Ctrl-C to the process group reaches them too
    and each printed the notice (three times with 2 workers)."""
    import os

    from l2advisor.cli.app import Interrupt

    interrupt = Interrupt()
    monkeypatch.setattr(os, "getpid", lambda: interrupt.pid + 1)  # as seen from a worker
    interrupt._handle(2, None)
    assert not interrupt()  # nothing requested, nothing said
    monkeypatch.setattr(os, "getpid", lambda: interrupt.pid)  # the main process
    interrupt._handle(2, None)
    assert interrupt()


def test_all_probes_bad_hints_at_lam_only_when_the_smallest_lam_did_not_diverge() -> None:
    """Every lam diverged: a smaller lr (lam is not the cause); the smallest lam failed and only
    larger ones diverged: smaller lams too. (tests/test_reliability.py runs the first for real.)"""
    def states(smallest_status: str) -> list[RunState]:
        return [RunState(f"lam={lam:g}", {"lam": lam, "lr": 0.1, "seed": 0},
                         end={"status": smallest_status if lam == 0.1 else "diverged", "message": "boom"})
                for lam in (0.1, 0.2, 0.4)]

    with pytest.raises(RunFailed) as every_lam:
        report_failures(states("diverged"), "model.py")
    assert "or use a smaller lr (even the smallest lam probed, 0.1, diverged" in str(every_lam.value)
    assert "smaller lams" not in str(every_lam.value)
    with pytest.raises(RunFailed) as larger_lams:
        report_failures(states("failed"), "model.py")
    assert str(larger_lams.value).endswith("fix the model file, or probe smaller lams or a smaller lr.")


def test_an_interrupt_before_any_probe_finished_says_a_rerun_starts_over(tmp_path: Path) -> None:
    """It said "finished probes are reused" when none had finished: the rerun started all over."""
    from types import SimpleNamespace

    from l2advisor.cli.probe_view import interrupted_note
    from l2advisor.runs.store import make_header, open_results

    path = tmp_path / "probes.jsonl"
    open_results(path, make_header("probe", {"lr": 0.1}, "cpu")).close()
    runs = [SimpleNamespace(run_id=f"lr=0.1/lam={lam}/seed=0") for lam in (0.1, 0.05)]
    said = interrupted_note(path, runs)  # type: ignore[arg-type]
    assert "no probe had finished, so running the same command again starts them over" in said
    assert "are reused" not in said and "is reused" not in said
    with open_results(path, make_header("probe", {"lr": 0.1}, "cpu")) as writer:  # both end: nothing restarts
        for run in runs:
            writer.write({"type": "start", "run": run.run_id, "lam": 0.1, "lr": 0.1, "seed": 0, "max_steps": 10})
            writer.write({"type": "end", "run": run.run_id, "status": "finished", "steps": 10})
    said = interrupted_note(path, runs)  # type: ignore[arg-type]
    assert "all 2 probes had ended" in said and "the others restart" not in said


def test_a_second_ctrl_c_says_it_stops_now(capsys) -> None:
    """The second Ctrl-C exited 130 without a word."""
    import pytest

    from l2advisor.cli.app import Interrupt

    interrupt = Interrupt()
    interrupt._handle(2, None)
    first = capsys.readouterr().err
    assert "stopping at the next evaluation point" in first and "stopping now" not in first
    with pytest.raises(KeyboardInterrupt):
        interrupt._handle(2, None)
    assert "Ctrl-C again: stopping now" in " ".join(capsys.readouterr().err.split())
