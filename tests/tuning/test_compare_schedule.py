"""`compare --lr-schedule`: every arm (and Optuna's trials) trains under the schedule, the probes
stay at constant lr, and the advice is sized for the schedule's tau-clock budget."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from l2advisor.cli.app import app
from l2advisor.runs.store import read_results
from l2advisor.science import advise as advise_module
from l2advisor.science import autol2_setup
from l2advisor.science.schedules import effective_steps
from tests.tuning.test_compare import compare_args

runner = CliRunner()


def test_every_arm_runs_the_schedule_and_the_probes_do_not(tiny_model: Path, tmp_path: Path,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    sized_for: dict[str, list[int]] = {"advise": [], "autol2_config": []}  # the budgets the two arms' advice got
    for module, name in ((advise_module, "advise"), (autol2_setup, "autol2_config")):
        real = getattr(module, name)

        def spy(fit, budget, *args, _real=real, _name=name, **kwargs):
            sized_for[_name].append(budget)
            return _real(fit, budget, *args, **kwargs)

        monkeypatch.setattr(module, name, spy)
    out = tmp_path / "cmp"
    result = runner.invoke(app, [*compare_args(tiny_model, out), "--lr-schedule", "linear", "--warmup", "4", "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["settings"]["lr_schedule"] == "linear" and report["settings"]["warmup"] == 4
    runs = read_results(out / "compare_runs.jsonl").runs
    arms = {state.meta["arm"] for state in runs.values()}
    assert arms == {"advisor", "autol2", "default", "zero", "optuna"}
    lr = 0.1  # the tiny model file's lr
    for state in runs.values():
        lrs = {e["step"]: e["lr"] for e in state.evals if e["step"] > 0}
        assert lrs[10] == pytest.approx(lr * (1 - 5 / 36))  # step 9: 5 steps into the 36-step decay
        assert lrs[40] == pytest.approx(lr / 36)  # the last step, one before zero
    probes = read_results(out / "probes.jsonl").runs.values()
    assert all(e["lr"] == lr for p in probes for e in p.evals if e["step"] > 0)
    # the advice is for the 4-step ramp (2.5) + 18.5 = 21 constant-lr steps, not 40
    t_eff = effective_steps("linear", 40, 4)
    assert t_eff == pytest.approx(21.0) and report["advice"]["budget_steps"] == 21
    assert sized_for == {"advise": [21], "autol2_config": [21]}  # both arms, whatever the verdict


def test_bad_schedule_flags_exit_2(tiny_model: Path, tmp_path: Path) -> None:
    for flags, message in ((["--lr-schedule", "exp"], "--lr-schedule must be one of"),
                           (["--warmup", "40"], "--warmup must be a whole number of steps in [0, 40)")):
        result = runner.invoke(app, [*compare_args(tiny_model, tmp_path / "cmp"), *flags])
        assert result.exit_code == 2, result.output
        assert message in " ".join(result.stderr.split())
