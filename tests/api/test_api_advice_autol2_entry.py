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
from l2advisor.integrations._config import advice_lr, settings_from_advice


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
