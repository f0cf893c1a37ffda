"""The numeric flags that need no model file (--lrs, --lambdas, --factor, --horizon, --probe-budget,
--lam-max, --tolerance; --trials and the lam range of tune and compare) are checked before the model
file runs: they were checked only after it loaded (seconds), or never, when the file failed first
with an unrelated message. `train` takes none of them."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from l2advisor.cli.app import app
from tests.conftest import write_model

RUNS_ON_IMPORT = '''
from pathlib import Path
Path(__file__).with_name("ran.txt").write_text("the model file ran")
raise RuntimeError("the model file ran")
'''


def _refused_first(tmp_path: Path, args: list[str], says: str) -> None:
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 2, result.output
    said = " ".join(result.stderr.split())
    assert says in said, said
    assert result.stdout == "", result.stdout
    assert "the model file ran" not in said and "Threads" not in said
    assert not (tmp_path / "ran.txt").exists()  # the model file was never imported


PROBE = [
    (("--lrs", "0.1,0"), "--lrs must be finite numbers > 0, got 0.0."),
    (("--lrs", "nan"), "--lrs must be finite numbers > 0, got nan."),
    (("--lambdas", "0.4,-1"), "--lambdas must be finite numbers > 0, got -1.0."),
    (("--factor", "1"), "--factor must be a finite number > 1, got 1.0."),
    (("--factor", "inf"), "--factor must be a finite number > 1, got inf."),
    (("--horizon", "0"), "--horizon must be a finite number > 0, got 0.0."),
    (("--horizon", "nan"), "--horizon must be a finite number > 0, got nan."),
    (("--probe-budget", "0"), "--probe-budget must be a finite number > 0, got 0."),
    (("--lam-max", "-1"), "--lam-max must be a finite number > 0, got -1.0."),
    (("--tolerance", "-0.1"), "--tolerance must be a finite number >= 0, got -0.1."),
]


@pytest.mark.bad_input
@pytest.mark.parametrize(("flags", "says"), PROBE)
def test_probe_checks_its_numbers_before_the_model_file(tmp_path: Path, flags: tuple[str, ...], says: str) -> None:
    model = write_model(tmp_path, RUNS_ON_IMPORT)
    _refused_first(tmp_path, ["probe", str(model), "--out", str(tmp_path / "run"), *flags], says)


@pytest.mark.bad_input
def test_probe_with_a_budget_checks_its_one_lr_before_the_model_file(tmp_path: Path) -> None:
    model = write_model(tmp_path, RUNS_ON_IMPORT)
    _refused_first(tmp_path, ["probe", str(model), "--out", str(tmp_path / "run"), "--budget", "40000",
                              "--lrs", "-0.1"], "--lrs must be finite numbers > 0, got -0.1.")


STUDY = [
    (("--trials", "0"), "--trials must be at least 1, got 0."),
    (("--lam-low", "0"), "--lam-low and --lam-high must satisfy 0 < low < high"),
]


@pytest.mark.bad_input
@pytest.mark.parametrize("command", ["tune", "compare"])
@pytest.mark.parametrize(("flags", "says"), STUDY)
def test_tune_and_compare_check_the_study_before_the_model_file(tmp_path: Path, command: str,
                                                                flags: tuple[str, ...], says: str) -> None:
    model = write_model(tmp_path, RUNS_ON_IMPORT)
    args = [command, str(model), "--budget", "100", "--out", str(tmp_path / "out"), *flags]
    _refused_first(tmp_path, args + (["--trials", "2"] if "--trials" not in flags else []), says)


@pytest.mark.bad_input
@pytest.mark.parametrize("horizon", ["0", "-2", "nan"])
def test_compare_checks_its_horizon_before_the_model_file(tmp_path: Path, horizon: str) -> None:
    model = write_model(tmp_path, RUNS_ON_IMPORT)
    _refused_first(tmp_path, ["compare", str(model), "--budget", "100", "--out", str(tmp_path / "out"),
                              "--horizon", horizon], f"--horizon must be a finite number > 0, got {float(horizon)}.")


def test_the_control_good_numbers_reach_the_model_file(tmp_path: Path) -> None:
    model = write_model(tmp_path, RUNS_ON_IMPORT)
    result = CliRunner().invoke(app, ["probe", str(model), "--out", str(tmp_path / "run"), "--lrs", "0.1,0.05",
                                      "--factor", "3", "--horizon", "2", "--tolerance", "0"])
    assert (tmp_path / "ran.txt").exists(), result.output
    from l2advisor.probing.probe import check_ladder_flags

    check_ladder_flags()  # the defaults pass


def test_train_takes_none_of_these_flags() -> None:
    result = CliRunner().invoke(app, ["train", "--help"])
    assert result.exit_code == 0
    assert not {"--lrs", "--lambdas", "--factor", "--horizon", "--trials"} & set(result.stdout.split())
