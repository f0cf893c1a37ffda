"""`probe --plan`: the planned probes and their price on this machine, with nothing trained or written."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from l2advisor.cli.app import app
from l2advisor.cli.probe_plan import estimates, timed_step
from l2advisor.cli.train import EVALS_PER_RUN
from l2advisor.modelfile.spec import load_spec
from l2advisor.modelfile.task import build_task
from l2advisor.training.eval_schedule import count_evals
from l2advisor.training.train import TrainConfig
from tests.conftest import TINY_MODEL, write_model

runner = CliRunner()


def test_plan_lists_the_probes_a_run_would_train_and_writes_nothing(tiny_model: Path, tmp_path: Path) -> None:
    out = tmp_path / "run"
    args = ["probe", str(tiny_model), "--out", str(out), "--budget", "2000", "--device", "cpu"]
    planned = runner.invoke(app, [*args, "--plan", "--json"])
    assert planned.exit_code == 0, planned.output
    found = json.loads(planned.stdout)
    assert not out.exists()  # nothing written
    assert "Nothing was written" in " ".join(planned.stderr.split())
    trained = runner.invoke(app, [*args, "--json"])  # the probes the command then trains are the ones listed
    assert trained.exit_code == 0, trained.output
    probes = [r for r in json.loads(trained.stdout)["probes"] if r["seed"] in (0, 1)]  # not a follow-up seed's
    assert sorted((r["lam"], r["seed"], r["steps"]) for r in found["probes"]) == \
        sorted((r["lam"], r["seed"], r["steps"]) for r in probes)
    for row in found["probes"]:
        assert row["lr_lam"] == pytest.approx(row["lr"] * row["lam"])
    assert found["probe_steps"] == sum(r["steps"] for r in probes)
    assert found["step_seconds"] > 0 and found["evaluation_seconds"] >= 0
    assert found["budget_steps"] == 2000 and found["budget_run_seconds"] > 0


def test_without_a_budget_the_plan_prices_the_probes_only(tiny_model: Path, tmp_path: Path) -> None:
    planned = runner.invoke(app, ["probe", str(tiny_model), "--out", str(tmp_path / "run"), "--device", "cpu",
                                  "--lambdas", "0.4,0.2,0.1", "--horizon", "1", "--plan"])
    assert planned.exit_code == 0, planned.output
    said = " ".join(planned.stderr.split())
    assert "3 probes" not in said and "6 probes" in said  # 3 lams x the 2 default seeds
    assert "budget run" not in said and "Planned probes" in planned.stdout


def test_estimates_add_steps_and_evaluations() -> None:
    rows = [{"steps": 400, "evaluations": 19, "seed": 0}, {"steps": 1600, "evaluations": 25, "seed": 0},
            {"steps": 400, "evaluations": 19, "seed": 1}, {"steps": 1600, "evaluations": 25, "seed": 1}]
    found = estimates(rows[:2], step_s=0.002, eval_s=0.05, budget_steps=6400)
    assert found["probe_steps"] == 2000 and found["probe_evaluations"] == 44 and found["seeds"] == 1
    assert found["probes_one_by_one_seconds"] == pytest.approx(2000 * 0.002 + 44 * 0.05)
    evals = count_evals(6400, 6400 // EVALS_PER_RUN)  # 101: step 0 and every 64 steps
    assert evals == 101 and found["budget_run_seconds"] == pytest.approx(6400 * 0.002 + evals * 0.05)
    assert estimates(rows, 0.002, 0.05, None)["budget_run_seconds"] is None


# Known costs: a sleep in every training forward, or in every evaluation forward.
SLOW = TINY_MODEL.replace("def build_model():\n    return nn.Sequential(nn.Linear(8, 32), nn.ReLU(), nn.Linear(32, 4))", '''
import time

class Slow(nn.Module):
    def __init__(self):
        super().__init__()
        self.body = nn.Sequential(nn.Linear(8, 32), nn.ReLU(), nn.Linear(32, 4))
    def forward(self, x):
        time.sleep(TRAIN_SLEEP if self.training else EVAL_SLEEP)
        return self.body(x)

def build_model():
    return Slow()''')


def test_a_stack_dearer_than_one_by_one_is_priced_one_by_one_without_training_it(tmp_path: Path) -> None:
    from tests.training.test_stack_speed import GATED

    model = write_model(tmp_path, GATED.replace("{slow_when_stacked}", "True"))  # each stacked forward sleeps 0.02 s
    planned = runner.invoke(app, ["probe", str(model), "--out", str(tmp_path / "run"), "--budget", "2000",
                                  "--device", "cpu", "--plan", "--json"])
    assert planned.exit_code == 0, planned.output
    found = json.loads(planned.stdout)
    assert found["stacked"]["not_stacked"].startswith("on this machine a stacked step of 6 replicas took")


@pytest.mark.parametrize(("train_sleep", "eval_sleep"), [(0.02, 0.0), (0.0, 0.05)])
def test_the_timed_runs_tell_a_step_from_a_validation_pass(tmp_path: Path, train_sleep: float,
                                                          eval_sleep: float) -> None:
    body = SLOW.replace("import time", f"import time\nTRAIN_SLEEP, EVAL_SLEEP = {train_sleep}, {eval_sleep}")
    task = build_task(load_spec(write_model(tmp_path, body)))  # 128 validation examples: one chunk, one forward
    step, evaluation = timed_step(task, TrainConfig(lr=0.1, batch_size=32, max_steps=1, eval_every=1))
    # bounds wide enough for a loaded machine, narrow enough that a step read as a pass (or the
    # reverse) fails: the slept share is 0.02 s a step, or 0.05 s a pass
    assert 0.95 * train_sleep <= step < train_sleep + 0.015, step
    assert 0.8 * eval_sleep <= evaluation < eval_sleep + 0.04, evaluation


def test_a_model_that_fails_its_timed_steps_is_said_in_one_sentence(tmp_path: Path) -> None:
    # fails on its fourth training call: after the model file's own checks, within the timed steps
    body = SLOW.replace("import time", "import time\nTRAIN_SLEEP, EVAL_SLEEP = 0.0, 0.0\nCALLS = []").replace(
        "        time.sleep(", "        CALLS.append(self.training)\n        if sum(CALLS) > 3 and self.training:\n"
        "            raise RuntimeError('the model ran out of memory')\n        time.sleep(")
    model = write_model(tmp_path, body)
    planned = runner.invoke(app, ["probe", str(model), "--out", str(tmp_path / "run"), "--budget", "2000",
                                  "--device", "cpu", "--plan"])
    said = " ".join(planned.stderr.split())
    assert planned.exit_code == 1 and "The model's timed steps failed" in said, said
    assert "the model ran out of memory" in said and "model.py" in said and "Traceback" not in said
    assert not (tmp_path / "run").exists()


def test_a_stack_is_priced_step_by_step_as_its_replicas_end() -> None:
    from l2advisor.cli.plan_stacked import _group_seconds
    from l2advisor.probing.plan import ProbeRun

    group = [ProbeRun(lam=lam, lr=0.1, seed=0, max_steps=steps, eval_every=10)
             for lam, steps in ((0.1, 400), (0.05, 800), (0.025, 1600))]
    # 400 steps of 3 replicas at 3 s, 400 of 2 at 2 s (halfway from 1 to 3), 800 of 1 at 1 s
    assert _group_seconds(group, step_1=1.0, step_k=3.0, k=3) == pytest.approx(400 * 3 + 400 * 2 + 800 * 1)
    assert _group_seconds(group[:1], step_1=1.0, step_k=3.0, k=3) == pytest.approx(400 * 1)


@pytest.mark.parametrize(("flags", "stacked"), [((), "packed"), (("--no-batched",), None)])
def test_the_plan_prices_the_probes_stacked_as_they_would_train(tiny_model: Path, tmp_path: Path,
                                                                flags: tuple[str, ...], stacked: str | None) -> None:
    planned = runner.invoke(app, ["probe", str(tiny_model), "--out", str(tmp_path / "run"), "--budget", "2000",
                                  "--device", "cpu", "--plan", "--json", *flags])
    assert planned.exit_code == 0, planned.output
    found = json.loads(planned.stdout)["stacked"]
    if stacked is None:
        assert found == {"not_stacked": "one probe per stack (--no-batched, or --batch-replicas 1)"}
        return
    assert found["form"] == stacked and found["k"] == len(json.loads(planned.stdout)["probes"])
    assert 0 < found["step_seconds"] and 0 < found["evaluation_seconds"] and 0 < found["probes_seconds"]


def test_a_model_that_cannot_stack_is_priced_one_by_one(tmp_path: Path) -> None:
    from tests.training.test_batched import NOISY_DROPOUT

    model = write_model(tmp_path, NOISY_DROPOUT)
    planned = runner.invoke(app, ["probe", str(model), "--out", str(tmp_path / "run"), "--budget", "2000",
                                  "--device", "cpu", "--plan", "--json"])
    assert planned.exit_code == 0, planned.output
    why = json.loads(planned.stdout)["stacked"]["not_stacked"]
    assert why.startswith("the model cannot be stacked (") and "outside its dropout layers" in why


@pytest.mark.parametrize(("train_sleep", "eval_sleep"), [(0.02, 0.0), (0.0, 0.05)])
def test_the_timed_stack_tells_a_stacked_step_from_a_stacked_pass(tmp_path: Path, train_sleep: float,
                                                                  eval_sleep: float) -> None:
    from l2advisor.cli.plan_stacked import _timed_stack
    from l2advisor.probing.plan import ProbeRun

    body = SLOW.replace("import time", f"import time\nTRAIN_SLEEP, EVAL_SLEEP = {train_sleep}, {eval_sleep}")
    task = build_task(load_spec(write_model(tmp_path, body)))
    group = [ProbeRun(lam=lam, lr=0.1, seed=seed, max_steps=100, eval_every=10) for lam in (0.1, 0.05) for seed in (0, 1)]
    # folded: one forward of the custom module per stacked step, one per pass over the 128 validation examples
    step, evaluation, form = _timed_stack(task, TrainConfig(lr=0.1, batch_size=32, max_steps=1, eval_every=1), group,
                                          step_s=max(train_sleep, 1e-4))
    assert form == "folded"
    assert 0.95 * train_sleep <= step < train_sleep + 0.015, step
    assert 0.8 * eval_sleep <= evaluation < eval_sleep + 0.04, evaluation


def test_a_stack_dearer_than_one_by_one_says_the_probes_will_not_stack_it() -> None:
    from l2advisor.cli.probe_plan import _clock, _estimate_words

    found = estimates([{"steps": 400, "evaluations": 19, "seed": 0}, {"steps": 400, "evaluations": 19, "seed": 1}],
                      step_s=0.3, eval_s=1.0, budget_steps=None)
    found |= {"follow_up_steps": 400, "cost_of_budget_run": None}  # as show_plan adds them: one seed's rungs
    one_by_one = found["probes_one_by_one_seconds"]
    # a step of 6 against 6 steps of 0.3 s: over the probes' margin (1.25x), within it, well under
    for step, stacked_seconds, said in ((3.71, one_by_one * 2, "time a stacked step before the first and then "
                                                               "train one after another (--no-batched skips"),
                                        (2.0, one_by_one * 1.1, "a little more than one by one: --no-batched"),
                                        (1.0, one_by_one / 2, None)):
        found["stacked"] = {"form": "vmap", "k": 6, "step_seconds": step, "evaluation_seconds": 0.004,
                            "probes_seconds": stacked_seconds}
        words = _estimate_words(found, 6)
        assert said in words if said else "more than one by one" not in words, words
        # one more seed: half of these two seeds' probes, priced as they would train: one by one where the stack is dearer
        trained = one_by_one if said and "time a stacked step" in said else stacked_seconds
        assert f"one more seed at every lam: 400 more steps, about {_clock(trained / 2)}." in words, words
        assert f"a step of 6 {step:.3g} s, a pass of them 4 ms" in words and "a step 300 ms" in words


def test_the_plans_table_shows_lr_lam_as_the_probe_summary_does(tmp_path: Path) -> None:
    """At lr 0.003 the ladder's lams 3.333, 1.667, 0.8333 (4 digits) made the table's lr*lam read
    0.009999, 0.005001, 0.0024999 where the probe summary says 0.01, 0.005, 0.0025."""
    from tests.conftest import TINY_MODEL, write_model

    model = write_model(tmp_path, TINY_MODEL.replace("lr = 0.1", "lr = 0.003\noptimizer = 'adamw'"), "adamw.py")
    planned = runner.invoke(app, ["probe", str(model), "--out", str(tmp_path / "run"), "--budget", "3000",
                                  "--device", "cpu", "--plan"])
    assert planned.exit_code == 0, planned.output
    table = planned.stdout
    assert "0.009999" not in table and "0.0024999" not in table
    assert all(f" {v} " in table for v in ("0.01", "0.005", "0.0025")), table


def test_a_plan_at_several_lrs_has_an_lr_column(tiny_model: Path, tmp_path: Path) -> None:
    """A reviewer could only infer which planned rows were at which lr (the probe summary has the column)."""
    args = ["probe", str(tiny_model), "--out", str(tmp_path / "run"), "--lambdas", "0.4,0.2,0.1", "--horizon", "2",
            "--seeds", "0", "--device", "cpu", "--plan"]
    several = runner.invoke(app, [*args, "--lrs", "0.1,0.05"])
    assert several.exit_code == 0, several.output
    head = several.stdout.split("\n")
    assert any(line.split()[:3] == ["lam", "lr", "lr*lam"] for line in head), several.stdout
    assert any(line.split()[:3] == ["0.4", "0.05", "0.02"] for line in head)
    one = runner.invoke(app, args)  # the control: one lr, no column
    assert not any(line.split()[:2] == ["lam", "lr"] for line in one.stdout.split("\n"))


def test_a_plan_with_jobs_says_its_seconds_are_one_process(tiny_model: Path, tmp_path: Path) -> None:
    """A reviewer's `--plan --jobs 2` priced one process without a word of the jobs."""
    args = ["probe", str(tiny_model), "--out", str(tmp_path / "run"), "--budget", "2000", "--device", "cpu", "--plan"]
    jobs = runner.invoke(app, [*args, "--jobs", "2"])
    said = " ".join(jobs.stderr.split())
    assert jobs.exit_code == 0 and "These seconds are for one process: --jobs 2 is not priced" in said
    one = runner.invoke(app, args)  # the control
    assert one.exit_code == 0 and "not priced" not in one.stderr


def test_a_pass_lost_in_the_timing_noise_is_not_priced_as_0_ms() -> None:
    """--plan said "a pass of them 0 ms" where its two timed spans differed by less than their noise."""
    from l2advisor.cli.probe_plan import _pass_words

    assert _pass_words(0.0) == "too short to time beside a step"
    assert _pass_words(0.0042) != _pass_words(0.0) and "ms" in _pass_words(0.0042)  # the control
