"""advice.json written by `l2advisor.recommend` holds the "autol2" entry that `l2advisor recommend
--autol2` writes: the callbacks' `from_advice(run_dir / "advice.json")` read the API's file (it was
refused: "neither a `lam0` key nor an `autol2` entry") and get the CLI's settings from it."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import torch
from test_api import FAST, blobs, build_model
from typer.testing import CliRunner

import l2advisor
from l2advisor.cli.app import app
from l2advisor.errors import InputError
from l2advisor.training.advised_settings import advice_lr, settings_from_advice


@pytest.fixture(scope="module")
def advised(tmp_path_factory: pytest.TempPathFactory) -> tuple[l2advisor.Recommendation, Path, Path]:
    """One probe, advised by the API (its advice.json kept aside), then by the CLI with --autol2."""
    run = tmp_path_factory.mktemp("entry") / "run"
    results = l2advisor.probe(build_model, blobs(64, 1), blobs(32, 2), out=run, progress=False, **FAST)
    made = l2advisor.recommend(results, budget=500)
    api_file = shutil.copy(run / "advice.json", run.parent / "api_advice.json")
    outcome = CliRunner().invoke(app, ["recommend", str(run), "--budget", "500", "--autol2"])
    assert outcome.exit_code == 0, outcome.output
    return made, Path(api_file), run / "advice.json"


def test_the_api_advice_json_holds_the_autol2_settings(advised) -> None:
    made, api_file, _ = advised
    settings = settings_from_advice(api_file)  # what AutoL2Callback / AutoL2TrainerCallback.from_advice read
    assert settings == settings_from_advice(made) and advice_lr(api_file) == made.lr
    sched = l2advisor.AutoL2(torch.optim.SGD(build_model().parameters(), lr=made.lr), **settings)
    assert sched.lam == made.autol2.lam0


def test_it_gives_the_settings_of_the_cli_advice_json(advised) -> None:
    _, api_file, cli_file = advised
    assert settings_from_advice(api_file) == settings_from_advice(cli_file)
    assert advice_lr(api_file) == advice_lr(cli_file)
    api_entry, cli_entry = (json.loads(Path(f).read_text())["autol2"] for f in (api_file, cli_file))
    assert {k: cli_entry[k] for k in api_entry} == api_entry  # the CLI's adds its command line and snippet


def test_lightning_from_advice_reads_the_api_file(advised) -> None:
    pytest.importorskip("lightning.pytorch")
    from l2advisor.integrations.lightning import AutoL2Callback

    made, api_file, _ = advised
    callback = AutoL2Callback.from_advice(api_file)
    assert callback.settings["lam0"] == made.autol2.lam0 and callback.advised_lr == made.lr


def test_under_an_lr_schedule_too(advised, tmp_path: Path) -> None:
    """A cosine run: both entries give the AutoL2 settings for the real run (budget_steps: its steps,
    not the constant-lr equivalent the weight decay is advised for), as the CLI's train command does."""
    run = shutil.copytree(advised[2].parent, tmp_path / "run")
    made = l2advisor.recommend(run, budget=500, lr_schedule="cosine", warmup=50)
    api_entry = json.loads((run / "advice.json").read_text())["autol2"]
    outcome = CliRunner().invoke(app, ["recommend", str(run), "--budget", "500", "--autol2",
                                       "--lr-schedule", "cosine", "--warmup", "50"])
    assert outcome.exit_code == 0, outcome.output
    cli_entry = json.loads((run / "advice.json").read_text())["autol2"]
    assert {k: cli_entry[k] for k in api_entry} == api_entry == made.to_dict()["autol2"]
    assert api_entry["budget_steps"] == 500 and made.budget_steps < 500  # the advice's T_eff


def test_autol2_from_advice_in_a_plain_loop(advised) -> None:
    """`AutoL2(opt, **advice.autol2.to_dict())` failed on schema_version and had no lr check: a plain
    loop now gets the advised schedule from the Recommendation, its `.autol2`, its dict or advice.json."""
    made, api_file, cli_file = advised
    expected = (made.autol2.lam0, made.autol2.decay, made.autol2.refractory_tau, made.autol2.lam_min)
    for advice in (made, made.autol2, made.autol2.to_dict(), api_file, cli_file, cli_file.parent):
        optimizer = torch.optim.SGD(build_model().parameters(), lr=made.lr)
        sched = l2advisor.AutoL2.from_advice(optimizer, advice)
        assert (sched.lam0, sched.decay, sched.refractory_tau, sched.lam_min) == expected
        assert {g["weight_decay"] for g in optimizer.param_groups} == {made.autol2.lam0}
    kept = l2advisor.AutoL2.from_advice(torch.optim.SGD(build_model().parameters(), lr=made.lr), made, decay=10.0,
                                        check_every=5)
    assert (kept.decay, kept.check_every, kept.lam0) == (10.0, 5, made.autol2.lam0)


def test_autol2_from_advice_warns_at_another_lr_and_refuses_what_is_no_advice(advised) -> None:
    made, _, _ = advised
    with pytest.warns(UserWarning, match=f"advice was made for lr={made.lr:g} but the optimizer trains at lr=0.5"):
        l2advisor.AutoL2.from_advice(torch.optim.SGD(build_model().parameters(), lr=0.5), made)
    with pytest.raises(InputError, match="neither a `lam0` key nor an `autol2` entry"):  # a plain advice's dict
        l2advisor.AutoL2.from_advice(torch.optim.SGD(build_model().parameters(), lr=made.lr), {"weight_decay": 0.01})
    with pytest.raises(TypeError, match="got a float"):  # the control: not an advice at all
        l2advisor.AutoL2.from_advice(torch.optim.SGD(build_model().parameters(), lr=made.lr), 0.01)
