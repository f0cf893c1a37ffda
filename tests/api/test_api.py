"""The Python API end to end on a tiny generated task: probe -> recommend -> report, the same
advice from the returned results as from the run directory, progress by callback or silence."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from torch import nn

import l2advisor
from l2advisor.errors import InputError


def blobs(n: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    centers = torch.randn(4, 8, generator=torch.Generator().manual_seed(123)) * 1.5
    y = torch.randint(0, 4, (n,), generator=g)
    return centers[y] + torch.randn(n, 8, generator=g), y


def build_model() -> nn.Module:
    return nn.Sequential(nn.Linear(8, 32), nn.ReLU(), nn.Linear(32, 4))


FAST = dict(lr=0.1, batch_size=32, lambdas=[0.4, 0.2, 0.1], horizon=2.0, seeds=[0])  # 50..200 steps a probe


@pytest.fixture(scope="module")
def probed(tmp_path_factory: pytest.TempPathFactory) -> l2advisor.ProbeResults:
    out = tmp_path_factory.mktemp("api") / "run"
    return l2advisor.probe(build_model, blobs(256, 1), blobs(128, 2), out=out, budget=2000, progress=False,
                           lr=0.1, batch_size=32, seeds=[0])


def test_probe_sizes_the_ladder_to_the_budget(probed: l2advisor.ProbeResults) -> None:
    header = probed.results.header
    assert header["settings"]["probe"]["budget_steps"] == 2000  # planned by probing/budget.py
    assert len(probed.probes) >= 3 and len(probed.curves) == len(probed.probes)
    assert all(row["status"] == "finished" and row["steps"] > 0 for row in probed.probes)
    assert header["settings"]["probe"]["early_stop"] is False  # every rung the same tau window
    assert (probed.run_dir / "probes.jsonl").exists() and probed.budget_steps == 2000


def test_recommend_from_results_equals_recommend_from_the_run_dir(probed: l2advisor.ProbeResults) -> None:
    from_results = l2advisor.recommend(probed)  # the budget given to probe
    from_dir = l2advisor.recommend(probed.run_dir, budget=2000)
    assert l2advisor.recommend(probed.run_dir, write=False).budget_steps == 2000  # the header's budget
    # that budget is in steps: unit="epochs" without a budget must neither read it as 2000 epochs nor be
    # ignored without a word (the CLI refuses `--unit` without `--budget` too)
    with pytest.raises(InputError, match=r"^unit='epochs' applies to budget=: give both"):
        l2advisor.recommend(probed.run_dir, unit="epochs", write=False)
    assert from_results.to_dict() == from_dir.to_dict()
    assert from_results.budget_steps == 2000 and from_results.lr == 0.1
    assert from_results.weight_decay > 0 and len(from_results.interval) == 2
    same_plan = l2advisor.recommend(probed, budget=8000, write=False)  # 4x, but its plan is these probes
    assert not any("sized for a budget" in w for w in same_plan.warnings), same_plan.warnings
    other = l2advisor.recommend(probed, budget=1_000_000)  # a plan of more rungs through a wider window
    assert other.to_dict() != from_results.to_dict()  # negative control: the budget matters
    assert any("sized for a budget of 2000 steps; this budget is 500x" in w for w in other.warnings)
    assert not any("sized for a budget" in w for w in from_results.warnings)  # as the CLI warns
    saved = json.loads((probed.run_dir / "advice.json").read_text())
    assert saved["budget_steps"] == 1_000_000 and saved["weight_decay"] == other.weight_decay
    with pytest.raises(dataclasses.FrozenInstanceError):
        from_results.weight_decay = 1.0  # type: ignore[misc]
    assert json.loads(json.dumps(from_results.to_dict()))["autol2"]["lam0"] == from_results.autol2.lam0


def test_recommend_for_an_lr_schedule_advises_on_the_tau_clock(probed: l2advisor.ProbeResults) -> None:
    from l2advisor.science.schedules import schedule_budget

    cosine = l2advisor.recommend(probed, budget=2000, lr_schedule="cosine", write=False)
    t_eff = round(schedule_budget("cosine", 2000).effective_steps)
    assert cosine.run_steps == 2000 and cosine.budget_steps == t_eff < 2000
    assert cosine.weight_decay == l2advisor.recommend(probed, budget=t_eff, write=False).weight_decay
    with pytest.raises(InputError, match="lr_schedule must be one of"):
        l2advisor.recommend(probed, lr_schedule="exp")


def test_a_scheduled_advice_is_reported_for_the_run_not_its_constant_lr_steps(
        probed: l2advisor.ProbeResults, tmp_path: Path) -> None:
    """recommend(lr_schedule=) saved no schedule in advice.json, so report (API and CLI) described a
    constant-lr run of T_eff = 1000 steps, not the 2000-step cosine run the advice was for."""
    from l2advisor.cli.report_run import report_command

    l2advisor.recommend(probed, budget=2000, lr_schedule="cosine")
    saved = json.loads((probed.run_dir / "advice.json").read_text())
    assert (saved["lr_schedule"], saved["run_steps"], saved["budget_steps"]) == ("cosine", 2000, 1000)
    api = l2advisor.report(probed, out=tmp_path / "api")[-1].read_text()
    assert "For a budget of **2000 steps**" in api and "2000 steps of cosine lr" in api
    assert "of the 2000-step run" in api  # the peak step is the run's
    report_command(probed.run_dir, tmp_path / "cli")
    assert (tmp_path / "cli" / "report.md").read_text() == api  # one picture, whichever asks
    l2advisor.recommend(probed, budget=2000)  # the control: a constant-lr advice saves no schedule
    assert "run_steps" not in json.loads((probed.run_dir / "advice.json").read_text())
    assert "For a budget of **2000 steps**" in l2advisor.report(probed, out=tmp_path / "c")[-1].read_text()


def test_report_writes_figures(probed: l2advisor.ProbeResults, tmp_path: Path) -> None:
    paths = l2advisor.report(probed, out=tmp_path / "figs", budget=2000)
    assert {p.suffix for p in paths} == {".png", ".md"} and all(p.exists() for p in paths)


@pytest.mark.bad_input
def test_report_refuses_an_lr_it_would_ignore_or_could_not_use(probed: l2advisor.ProbeResults, tmp_path: Path) -> None:
    """lr= without budget= was dropped without a word (the saved advice is redone at its own lr),
    and a negative lr with a budget raised a bare ValueError from the science core."""
    with pytest.raises(InputError, match=r"^report's lr= applies to budget=: give both"):
        l2advisor.report(probed, out=tmp_path / "a", lr=0.05)
    with pytest.raises(InputError, match=r"^lr must be a finite number > 0, got -1"):
        l2advisor.report(probed, out=tmp_path / "b", budget=2000, lr=-1)
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()  # refused before drawing
    other = l2advisor.report(probed, out=tmp_path / "c", budget=2000, lr=0.05)[-1].read_text()
    assert "at lr 0.05" in other  # the control: with a budget, lr= is the advice's


def test_progress_callback_gets_events_and_false_prints_nothing(tmp_path: Path, capsys) -> None:
    events: list[l2advisor.ProgressEvent] = []
    l2advisor.probe(build_model, blobs(128, 1), blobs(64, 2), out=tmp_path / "a", progress=events.append,
                    **{**FAST, "lambdas": [0.4, 0.2]})
    kinds = [e.kind for e in events]
    assert kinds.count("begin") == 2 and kinds.count("end") == 2 and "eval" in kinds
    assert events[-1].done_steps == events[-1].total_steps > 0
    assert all(e.record is not None for e in events if e.kind == "eval")
    again: list[l2advisor.ProgressEvent] = []  # the same call again resumes: every probe reused
    l2advisor.probe(build_model, blobs(128, 1), blobs(64, 2), out=tmp_path / "a", progress=again.append,
                    **{**FAST, "lambdas": [0.4, 0.2]})
    assert again == []
    capsys.readouterr()
    l2advisor.probe(build_model, blobs(128, 1), blobs(64, 2), out=tmp_path / "b", progress=False,
                    **{**FAST, "lambdas": [0.4, 0.2]})
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err == ""


def test_progress_true_draws_on_stderr(tmp_path: Path, capsys) -> None:
    l2advisor.probe(build_model, blobs(128, 1), blobs(64, 2), out=tmp_path / "c", progress=True,
                    **{**FAST, "lambdas": [0.4]})
    captured = capsys.readouterr()
    assert captured.out == "" and "probing" in captured.err


def test_another_budget_reuses_the_probes_it_shares(tmp_path: Path) -> None:
    args = dict(out=tmp_path / "r", progress=False, lr=0.1, batch_size=32, seeds=[0], horizon=2.0)
    first = l2advisor.probe(build_model, blobs(256, 1), blobs(128, 2), budget=5000, **args)
    again = l2advisor.probe(build_model, blobs(256, 1), blobs(128, 2), budget=10000, **args)
    assert len(first.probes) == 3 and len(again.probes) == 4 and again.budget_steps == 10000
    assert any("sized for a budget of 5,000 steps" in n for n in again.notices)
    assert {r["run"]: r["seconds"] for r in first.probes}.items() <= {r["run"]: r["seconds"] for r in again.probes}.items()
    with pytest.raises(InputError, match="other settings") as refused:  # another window: other runs, refused
        l2advisor.probe(build_model, blobs(256, 1), blobs(128, 2), budget=10000, **{**args, "horizon": 1.0})
    # in Python's words: the keywords that fix it, not the command line's flags
    assert "force=True" in str(refused.value) and "out=" in str(refused.value)
    assert "--force" not in str(refused.value) and "--out" not in str(refused.value)


def test_changed_data_or_model_is_refused_on_resume_not_answered_with_old_probes(tmp_path: Path) -> None:
    """The directory knew build_model's source only: relabelled data, or a width read from a
    global, resumed the old probes without a word."""
    args = dict(out=tmp_path / "r", progress=False, lr=0.1, batch_size=32, seeds=[0], horizon=2.0, budget=5000)
    train, val = blobs(256, 1), blobs(128, 2)
    l2advisor.probe(build_model, train, val, **args)
    again = l2advisor.probe(build_model, blobs(256, 1), blobs(128, 2), **args)  # the control: equal data, resumed
    assert len(again.probes) == 3
    relabelled = (train[0], train[1].roll(1))
    with pytest.raises(InputError, match="model_sha256"):
        l2advisor.probe(build_model, relabelled, val, **args)
    width = {"n": 32}

    def wider() -> nn.Module:  # the same source whatever the global says
        return nn.Sequential(nn.Linear(8, width["n"]), nn.ReLU(), nn.Linear(width["n"], 4))

    l2advisor.probe(wider, train, val, **{**args, "out": tmp_path / "w"})
    width["n"] = 16
    with pytest.raises(InputError, match="model_sha256"):
        l2advisor.probe(wider, train, val, **{**args, "out": tmp_path / "w"})


BUILDS: list[int] = []


def counted_model() -> nn.Module:
    BUILDS.append(1)
    return nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 4))


def test_a_resumed_probe_builds_the_model_once(tmp_path: Path) -> None:
    """Every probe reused: one build, the one build_task checks (its shapes are the fingerprint's;
    the fingerprint built a second model of its own before)."""
    args = dict(out=tmp_path / "r", progress=False, lr=0.1, batch_size=32, seeds=[0], horizon=2.0, budget=5000)
    l2advisor.probe(counted_model, blobs(256, 1), blobs(128, 2), **args)
    BUILDS.clear()
    again = l2advisor.probe(counted_model, blobs(256, 1), blobs(128, 2), **args)
    assert len(again.probes) == 3 and len(BUILDS) == 1


@pytest.mark.bad_input
def test_mistakes_are_one_sentence(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="build_model must be a function"):
        l2advisor.probe(None, blobs(64, 1), blobs(64, 2), out=tmp_path / "x", progress=False)  # type: ignore[arg-type]
    with pytest.raises(InputError, match="optimizer"):
        l2advisor.probe(build_model, blobs(64, 1), blobs(64, 2), out=tmp_path / "x", optimizer="adam", progress=False)
    with pytest.raises(InputError, match="not a directory"):
        l2advisor.recommend(tmp_path / "nowhere", budget=100)
    # a budget plans the ladder itself; said in the keywords the caller typed, never as CLI flags
    with pytest.raises(InputError, match=r"^budget= plans the ladder and its cost itself: drop lambdas= \(or drop "
                                         r"budget= to choose the ladder by hand\)\.$"):
        l2advisor.probe(build_model, blobs(64, 1), blobs(64, 2), out=tmp_path / "z", budget=500, progress=False,
                        **FAST)
    with pytest.raises(InputError, match=r"^budget= plans .*: drop probe_budget= \(or"):
        l2advisor.probe(build_model, blobs(64, 1), blobs(64, 2), out=tmp_path / "z", budget=500, probe_budget=900,
                        progress=False)
    with pytest.raises(InputError, match=r"^horizon must be a finite number > 0"):  # was a ZeroDivisionError
        l2advisor.probe(build_model, blobs(64, 1), blobs(64, 2), out=tmp_path / "h", budget=4000, horizon=0,
                        progress=False)
    with pytest.raises(InputError, match="seeds must be a sequence of whole numbers"):  # was a TypeError
        l2advisor.probe(build_model, blobs(64, 1), blobs(64, 2), out=tmp_path / "s", seeds=3, progress=False)
    x, y = blobs(64, 1)
    with pytest.raises(InputError, match="one target per input, got 64 inputs and 32 targets"):
        l2advisor.probe(build_model, (x, y[:32]), blobs(64, 2), out=tmp_path / "t", progress=False)
    with pytest.raises(InputError, match=r"^lr= must be"):  # the keyword, not the file defining build_model
        l2advisor.probe(build_model, blobs(64, 1), blobs(64, 2), out=tmp_path / "k", lr="0.1", progress=False)
    with pytest.raises(InputError, match=r"^optimizer= must be one of") as adam:
        l2advisor.probe(build_model, blobs(64, 1), blobs(64, 2), out=tmp_path / "k", optimizer="adam", progress=False)
    assert 'optimizer="adamw" (torch.optim.AdamW) is the Adam' in str(adam.value)  # the keyword's words
    with pytest.raises(InputError, match="numpy arrays: pass torch tensors"):  # was "each item must be a pair"
        l2advisor.probe(build_model, (x.numpy(), y.numpy()), blobs(64, 2), out=tmp_path / "n", progress=False)
    with pytest.raises(InputError, match="a fresh torch.nn.Module .* got a Sequential itself"):
        l2advisor.probe(build_model(), blobs(64, 1), blobs(64, 2), out=tmp_path / "m", progress=False)
    with pytest.raises(InputError, match="needs a budget"):
        l2advisor.recommend(l2advisor.probe(build_model, blobs(64, 1), blobs(64, 2), out=tmp_path / "y",
                                            progress=False, **{**FAST, "lambdas": [0.4]}))
    with pytest.raises(InputError, match="progress must be True, False, None or a callable, got str"):  # a TypeError
        l2advisor.probe(build_model, blobs(64, 1), blobs(64, 2), out=tmp_path / "p", progress="yes")  # type: ignore[arg-type]
    assert not (tmp_path / "p").exists()  # before anything ran


def test_the_public_api_is_what_dir_lists() -> None:
    listed = set(dir(l2advisor))  # tab completion: the lazily imported names too, not the module's helpers
    assert {"probe", "recommend", "report", "AutoL2", "ProbeResults"} <= listed and "Any" not in listed


def test_importing_l2advisor_stays_cheap() -> None:
    code = ("import sys, l2advisor; assert 'torch' not in sys.modules; "
            "assert set(l2advisor.__all__) >= {'probe', 'recommend', 'report', 'AutoL2'}; "
            "from l2advisor import probe, recommend, report; assert 'torch' not in sys.modules; "
            "from l2advisor import AutoL2; assert AutoL2.__module__ == 'l2advisor.training.autol2'; print('ok')")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.stdout.strip() == "ok", done.stderr


def test_a_function_without_a_file_gets_a_stable_name() -> None:
    from l2advisor.api.probes import _spec

    namespace: dict = {}
    exec("def build_model():\n    return None\n", namespace)  # as a notebook cell defines it
    spec = _spec(namespace["build_model"], None, None, None, lr=0.1, batch_size=8, momentum=0.0,
                 optimizer="sgd", loss=None, metric="accuracy")
    assert (str(spec.path), spec.name) == ("<notebook>", "notebook")
    here = _spec(build_model, None, None, None, lr=0.1, batch_size=8, momentum=0.0, optimizer="sgd",
                 loss=None, metric="accuracy")
    assert here.path.name == "test_api.py" and here.name == "test_api"


class _Bomb(nn.Module):
    """Fine for the checks (evaluation mode, no gradients), raises in training: every probe
    fails with the same message."""

    def __init__(self) -> None:
        super().__init__()
        self.body = nn.Linear(8, 4)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.training and torch.is_grad_enabled():
            raise ValueError("boom in forward")
        return self.body(x)


def test_failures_and_a_dear_plan_reach_the_notices(tmp_path: Path) -> None:
    from l2advisor.errors import RunFailed

    bombed = l2advisor.probe(_Bomb, blobs(128, 1), blobs(64, 2), out=tmp_path / "b", budget=50, lr=0.1,
                             batch_size=32, seeds=[0], progress=False, batched=False)
    assert any("More than the cap" in n and "the cheaper way" in n for n in bombed.notices)  # 50 steps
    failed = [n for n in bombed.notices if "failed: ValueError: boom in forward" in n]
    assert len(failed) == len(bombed.probes) == 3
    assert all(row["status"] == "failed" and "boom in forward" in row["message"] for row in bombed.probes)
    with pytest.raises(RunFailed, match="fix what made them fail") as caught:
        l2advisor.recommend(bombed, write=False)
    assert "smaller lr" not in str(caught.value)  # a crash is not cured by other lams
    fine = l2advisor.probe(build_model, blobs(128, 1), blobs(64, 2), out=tmp_path / "f", budget=40000, lr=0.1,
                           batch_size=32, seeds=[0], horizon=2.0, progress=False)
    assert not any("More than the cap" in n or "failed" in n for n in fine.notices)  # the control
    small = l2advisor.probe(build_model, blobs(128, 1), blobs(64, 2), out=tmp_path / "s", lr=0.1, batch_size=32,
                            seeds=[0], horizon=2.0, probe_budget=500, progress=False)  # 3 rungs: 1,400 steps
    assert any("More than probe_budget=500: up to 1,400 steps" in n for n in small.notices)  # the keyword


def test_a_hand_made_ladder_is_warned_about_as_the_cli_does(tmp_path: Path) -> None:
    few = l2advisor.probe(build_model, blobs(64, 1), blobs(64, 2), out=tmp_path / "two", progress=False,
                          probe_budget=50, **{**FAST, "lambdas": [0.4, 0.2]})
    assert any(n.startswith("Only 2 lam(s) asked for") for n in few.notices)
    assert any("does not apply to a list of lams" in n for n in few.notices)
    plain = l2advisor.probe(build_model, blobs(64, 1), blobs(64, 2), out=tmp_path / "three", progress=False, **FAST)
    assert not any("lam(s) asked for" in n or "does not apply" in n for n in plain.notices)  # the control


def test_a_dominant_class_reaches_the_notices(tmp_path: Path) -> None:
    """The API says what `probe` says on stderr: accuracy on 85% of one class weighs the rest little."""
    x, y = blobs(128, 1)
    y = torch.where(torch.arange(128) % 7 == 0, y, torch.zeros_like(y))  # about 85% class 0
    got = l2advisor.probe(build_model, (x, y), blobs(64, 2), out=tmp_path / "u", progress=False, **FAST)
    assert any("the most frequent class is" in n and "(4 classes)" in n for n in got.notices), got.notices
