"""An empty item in a comma-separated list flag (`--seeds 0,,1`, a trailing `0,1,`) is the user's
slip: it was skipped, so `0,,1` ran as `0,1`. Now one sentence naming the flag, exit 2, said
before the model file runs; a list of nothing but commas stays "no items" (its own refusal)."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from l2advisor.cli.app import app
from l2advisor.cli.lists import parse_floats, parse_ints
from l2advisor.errors import InputError
from tests.conftest import write_model

RUNS_ON_IMPORT = '''
from pathlib import Path
Path(__file__).with_name("ran.txt").write_text("the model file ran")
raise RuntimeError("the model file ran")
'''

EMPTY = "has an empty item in"


def _refused(tmp_path: Path, args: list[str], flag: str) -> None:
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 2, result.output
    said = " ".join(result.stderr.split())
    assert f"{flag} {EMPTY}" in said, said
    assert result.stdout == "", result.stdout  # a diagnostic: stderr only
    assert "the model file ran" not in said and not (tmp_path / "ran.txt").exists()


@pytest.mark.bad_input
@pytest.mark.parametrize(("flag", "value"), [
    ("--seeds", "0,,1"), ("--seeds", "0,1,"), ("--seeds", ",0"), ("--lrs", "0.1,,0.05"),
    ("--lambdas", "0.2,0.1,"), ("--lambdas", "0.2, ,0.1"), ("--devices", "cpu,,cpu")])
def test_probe_refuses_an_empty_item(tmp_path: Path, flag: str, value: str) -> None:
    model = write_model(tmp_path, RUNS_ON_IMPORT)
    _refused(tmp_path, ["probe", str(model), "--out", str(tmp_path / "run"), flag, value], flag)


@pytest.mark.bad_input
def test_compare_refuses_an_empty_probe_seed(tmp_path: Path) -> None:
    model = write_model(tmp_path, RUNS_ON_IMPORT)
    _refused(tmp_path, ["compare", str(model), "--budget", "100", "--out", str(tmp_path / "c"),
                        "--probe-seeds", "0,1,"], "--probe-seeds")


@pytest.mark.bad_input
def test_train_advise_refuses_an_empty_probe_seed(tmp_path: Path) -> None:
    model = write_model(tmp_path, RUNS_ON_IMPORT)
    _refused(tmp_path, ["train", str(model), "--budget", "100", "--advise", "--out", str(tmp_path / "t"),
                        "--probe-seeds", "0,,1"], "--probe-seeds")


def test_the_parsers_still_read_good_lists_and_nothing_but_commas() -> None:
    assert parse_ints(" 0, 1 ,2", "--seeds") == (0, 1, 2)
    assert parse_floats("0.1, 0.05", "--lrs") == (0.1, 0.05)
    assert parse_ints(",", "--seeds") == ()  # nothing given: check_seeds says "must name at least one seed"
    assert parse_floats(None, "--lrs") is None and parse_floats(" ", "--lrs") is None
    with pytest.raises(InputError, match=r"^--lrs has an empty item in '0.1,,0.05' \(two commas"):
        parse_floats("0.1,,0.05", "--lrs")
