"""`l2advisor.probe(..., budget=N, unit="epochs")`: the API took a budget in steps only, while
`l2advisor probe --unit epochs` and `recommend(unit="epochs")` took epochs. A budget in epochs
plans the probes of its steps (floor(N / batch) steps an epoch, as training draws them) and the
header keeps it as given, as the command's does."""

from __future__ import annotations

from pathlib import Path

import pytest
from test_api import blobs, build_model

import l2advisor
from l2advisor.errors import InputError
from l2advisor.runs.rundir import sized_for

SETTINGS = dict(progress=False, lr=0.1, batch_size=32, seeds=[0])  # 256 training items: 8 steps an epoch


def test_a_budget_in_epochs_plans_the_probes_of_its_steps(tmp_path: Path) -> None:
    train, val = blobs(256, 1), blobs(128, 2)
    by_epochs = l2advisor.probe(build_model, train, val, out=tmp_path / "epochs", budget=250, unit="epochs",
                                **SETTINGS)
    by_steps = l2advisor.probe(build_model, train, val, out=tmp_path / "steps", budget=2000, **SETTINGS)
    header = by_epochs.results.header
    assert by_epochs.budget_steps == 2000 and header["settings"]["probe"]["budget_steps"] == 2000
    assert sized_for(header, 2000) == (250.0, "epochs")
    assert sized_for(by_steps.results.header, 2000) == (2000.0, "steps")
    assert [(r["lam"], r["steps"]) for r in by_epochs.probes] == [(r["lam"], r["steps"]) for r in by_steps.probes]
    assert l2advisor.recommend(by_epochs, write=False).budget_steps == 2000


@pytest.mark.parametrize(("keywords", "message"), [
    (dict(unit="epochs"), r"^unit='epochs' applies to budget=: give both"),
    (dict(budget=10, unit="weeks"), r"^unit must be steps or epochs, got 'weeks'\.$"),
    (dict(budget=0.01, unit="epochs"), r"^budget=0\.01 epochs is less than one step \(8 steps per epoch\)\.$"),
    (dict(budget=-1.0, unit="epochs"), r"^budget in epochs must be a finite number > 0, got -1\.0\.$"),
    (dict(budget=2.5), r"^budget must be a whole number of steps >= 1, got 2\.5\.$"),
])
def test_a_budget_that_is_not_one_is_one_sentence(tmp_path: Path, keywords: dict, message: str) -> None:
    with pytest.raises(InputError, match=message):
        l2advisor.probe(build_model, blobs(256, 1), blobs(128, 2), out=tmp_path / "run", **SETTINGS, **keywords)
    assert not (tmp_path / "run").exists()


def test_recommend_refuses_a_budget_in_epochs_of_less_than_a_step_as_probe_does(tmp_path: Path) -> None:
    """recommend(budget=0.01, unit="epochs") advised for 1 step without a word, where probe refused it:
    one conversion now serves the command line, probe() and recommend()."""
    results = l2advisor.probe(build_model, blobs(256, 1), blobs(128, 2), out=tmp_path / "run", budget=2000, **SETTINGS)
    with pytest.raises(InputError, match=r"^budget=0\.01 epochs is less than one step \(8 steps per epoch\)\.$"):
        l2advisor.recommend(results, budget=0.01, unit="epochs", write=False)
    assert l2advisor.recommend(results, budget=1, unit="epochs", write=False).budget_steps == 8  # the control


def test_probes_refused_for_another_budget_point_to_recommend_in_the_apis_words(tmp_path: Path) -> None:
    train, val = blobs(256, 1), blobs(128, 2)
    l2advisor.probe(build_model, train, val, out=tmp_path / "run", budget=2000, **SETTINGS)
    with pytest.raises(InputError) as refused:  # 100,000 steps widen the window: every rung another run
        l2advisor.probe(build_model, train, val, out=tmp_path / "run", budget=100_000, **SETTINGS)
    said = " ".join(str(refused.value).split())
    assert ("to advise for 100,000 steps from the probes already here, "
            f"`l2advisor.recommend('{tmp_path / 'run'}', budget=100000)`") in said
    assert "force=True" in said and "--budget" not in said


def test_recommend_for_a_budget_whose_plan_is_these_probes_warns_of_no_sizing(tmp_path: Path) -> None:
    train, val = blobs(256, 1), blobs(128, 2)
    probed = l2advisor.probe(build_model, train, val, out=tmp_path / "run", budget=2000, **SETTINGS)
    same = l2advisor.recommend(probed, budget=20_000, write=False)  # 10x: the same 3 rungs through tau = 4
    assert not any("sized for a budget of" in w for w in same.warnings), same.warnings
    other = l2advisor.recommend(probed, budget=1_000_000, write=False)  # a plan of more rungs and a wider window
    assert any("The probes were sized for a budget of 2000 steps" in w for w in other.warnings), other.warnings


def test_the_recommendations_dict_keeps_the_budget_as_given_as_advice_json_does(tmp_path: Path) -> None:
    """A reviewer's `to_dict()` had no budget or unit where advice.json and `--json` had
    `budget: 100, unit: epochs`: a script saving it lost what the advice was for."""
    import json

    probed = l2advisor.probe(build_model, blobs(256, 1), blobs(128, 2), out=tmp_path / "run", budget=2000, **SETTINGS)
    made = l2advisor.recommend(probed, budget=300, unit="epochs")
    as_dict, written = made.to_dict(), json.loads((tmp_path / "run" / "advice.json").read_text())
    assert (as_dict["budget"], as_dict["unit"], as_dict["budget_steps"]) == (300, "epochs", 2400)
    assert (written["budget"], written["unit"]) == (as_dict["budget"], as_dict["unit"])
    default = l2advisor.recommend(probed, write=False).to_dict()  # the control: the probes' own budget, in steps
    assert (default["budget"], default["unit"], default["budget_steps"]) == (2000, "steps", 2000)


def test_the_sizing_notice_names_a_budget_in_epochs_as_it_was_given(tmp_path: Path) -> None:
    """The command line said "Sized for a budget of 1000 epochs (7000 steps)" where the API said
    "Sized for a budget of 7000 steps" (a reviewer's budget=1000, unit="epochs")."""
    train, val = blobs(256, 1), blobs(128, 2)
    probed = l2advisor.probe(build_model, train, val, out=tmp_path / "e", budget=20, unit="epochs", **SETTINGS)
    assert any("Sized for a budget of 20 epochs (160 steps)" in n for n in probed.notices), probed.notices
    steps = l2advisor.probe(build_model, train, val, out=tmp_path / "s", budget=160, **SETTINGS)  # the control
    assert any("Sized for a budget of 160 steps:" in n for n in steps.notices), steps.notices
