"""numpy's numbers are numbers: `budget=np.int64(3000)` was refused with "must be a whole number of
steps >= 1, got np.int64(3000)", as were `warmup`, `lr=np.float32(0.1)`, AutoL2's `smoothing` and
`param_groups` indices; a loss tensor that requires grad made torch warn inside AutoL2.step."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest
import torch

import l2advisor
from l2advisor.errors import InputError
from l2advisor.training.autol2 import AutoL2


@pytest.fixture(scope="module")
def probed(tmp_path_factory) -> Path:
    g = torch.Generator().manual_seed(0)
    y = torch.randint(0, 4, (256,), generator=g)
    x = torch.randn(256, 8, generator=g) + y[:, None]
    out = tmp_path_factory.mktemp("np") / "run"
    l2advisor.probe(lambda: torch.nn.Sequential(torch.nn.Linear(8, 16), torch.nn.ReLU(), torch.nn.Linear(16, 4)),
                    (x[:192], y[:192]), (x[192:], y[192:]), out=out, seeds=(0,),
                    progress=False, device="cpu", budget=np.int64(3000))
    return out


def test_numpy_budgets_lrs_and_warmups_are_taken(probed: Path) -> None:
    plain = l2advisor.recommend(probed, 3000, write=False)
    for budget in (np.int64(3000), np.int32(3000), np.float64(3000.0)):
        assert l2advisor.recommend(probed, budget, write=False).weight_decay == plain.weight_decay
    scheduled = l2advisor.recommend(probed, 3000, lr=np.float32(0.1), lr_schedule="cosine", warmup=np.int64(10),
                                    write=False)
    assert scheduled.weight_decay > 0


@pytest.mark.parametrize("bad", [np.float64(np.nan), np.int64(0), True])
def test_the_controls_are_still_refused(probed: Path, bad) -> None:
    with pytest.raises(InputError, match="budget"):
        l2advisor.recommend(probed, bad, write=False)


def test_autol2_takes_numpy_settings_and_a_loss_that_requires_grad() -> None:
    weight = torch.nn.Parameter(torch.ones(2, 2))
    auto = AutoL2(torch.optim.SGD([weight], lr=0.1), np.float32(0.01), smoothing=np.float32(0.9),
                  param_groups=[np.int64(0)])
    assert auto.groups == [0] and isinstance(auto.state_dict()["config"]["smoothing"], float)
    loss = (weight ** 2).sum()
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # torch: "Converting a tensor with requires_grad=True to a scalar ..."
        auto.step(loss)


def test_recommend_autol2_on_api_probes_prints_no_train_command(probed: Path) -> None:
    """It printed `l2advisor train <the file defining build_model> ...`, which is no model file."""
    import json

    from typer.testing import CliRunner

    from l2advisor.cli.app import app

    result = CliRunner().invoke(app, ["recommend", str(probed), "--budget", "3000", "--autol2", "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["train_command"] is None  # --autol2 --json prints the AutoL2 entry
    panel = CliRunner().invoke(app, ["recommend", str(probed), "--budget", "3000", "--autol2"])
    assert "made with l2advisor.probe: no model file" in " ".join(panel.stdout.split())
    assert "l2advisor train" not in panel.stdout.split("# run it:")[1].split("# or in your own loop")[0].replace(
        "`l2advisor train`", "")


def test_recommend_without_a_budget_keeps_the_epochs_probe_was_given(tmp_path: Path) -> None:
    """recommend(results) after probe(budget=..., unit="epochs") said the budget in steps (the CLI in epochs)."""
    g = torch.Generator().manual_seed(0)
    y = torch.randint(0, 4, (256,), generator=g)
    x = torch.randn(256, 8, generator=g) + y[:, None]
    results = l2advisor.probe(lambda: torch.nn.Sequential(torch.nn.Linear(8, 4)), (x[:192], y[:192]),
                              (x[192:], y[192:]), out=tmp_path / "ep", seeds=(0,), progress=False, device="cpu",
                              batch_size=32, budget=500, unit="epochs")  # 6 steps an epoch: 3,000 steps
    advice = l2advisor.recommend(results, write=False)
    assert (advice.budget, advice.unit, advice.run_steps) == (500.0, "epochs", 3000)
    again = l2advisor.recommend(results, 500, unit="epochs", write=False)
    assert again.weight_decay == advice.weight_decay  # the same advice as when given


def test_probe_leaves_the_callers_generator_as_it_was(tmp_path: Path) -> None:
    """After a probe, a notebook's torch.rand no longer followed the seed set before it."""
    g = torch.Generator().manual_seed(0)
    y = torch.randint(0, 4, (128,), generator=g)
    x = torch.randn(128, 8, generator=g) + y[:, None]
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    results = l2advisor.probe(lambda: torch.nn.Sequential(torch.nn.Linear(8, 4)), (x[:96], y[:96]),
                              (x[96:], y[96:]), out=tmp_path / "g", lambdas=(0.4, 0.2, 0.1), horizon=1, seeds=(0,),
                              progress=False, device="cpu", early_stop=False)
    assert torch.equal(torch.rand(3), expected)
    shown = repr(results)
    assert len(shown) < 200 and "3 probes, lams 0.4..0.1" in shown  # every row made it 2,300 characters
    assert any("Not sized for a budget" in n for n in results.notices)  # which budgets the ladder suits


def test_numpy_batch_sizes_budgets_and_tolerances_in_probe(tmp_path: Path) -> None:
    """batch_size=np.int64 was refused; probe_budget=np.int64 and tolerance=np.float32 raised a raw
    TypeError and left an empty probes.jsonl; a callback's param_groups=np.array([0]) crashed."""
    g = torch.Generator().manual_seed(0)
    y = torch.randint(0, 4, (128,), generator=g)
    x = torch.randn(128, 8, generator=g) + y[:, None]
    results = l2advisor.probe(lambda: torch.nn.Sequential(torch.nn.Linear(8, 4)), (x[:96], y[:96]), (x[96:], y[96:]),
                              out=tmp_path / "n", seeds=(0,), progress=False, device="cpu", batch_size=np.int64(16),
                              probe_budget=np.int64(4000), tolerance=np.float32(0.01))
    settings = results.results.header["settings"]
    assert settings["batch_size"] == 16 and isinstance(settings["batch_size"], int)
    assert settings["probe"]["tolerance"] == pytest.approx(0.01) and len(results.probes) >= 3
    from l2advisor.integrations._config import json_safe_settings

    assert json_safe_settings({"param_groups": np.array([0, 2])}) == {"param_groups": [0, 2]}


def test_the_api_says_when_the_validation_set_is_too_coarse(tmp_path: Path) -> None:
    g = torch.Generator().manual_seed(0)
    y = torch.randint(0, 4, (106,), generator=g)
    x = torch.randn(106, 8, generator=g) + y[:, None]
    results = l2advisor.probe(lambda: torch.nn.Sequential(torch.nn.Linear(8, 4)), (x[:96], y[:96]),
                              (x[96:], y[96:]), out=tmp_path / "c", lambdas=(0.4, 0.2, 0.1), horizon=1, seeds=(0,),
                              progress=False, device="cpu", early_stop=False)
    assert any(n.startswith("the validation set has 10 examples") for n in results.notices), results.notices
