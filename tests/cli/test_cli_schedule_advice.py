"""`l2advisor recommend --lr-schedule/--warmup`: the advice carried over on the tau clock, on the
synthetic run directory of test_cli_advice (c = 3, lam_c = 0.02, lr = 0.1)."""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

import pytest
import synthetic as S
from test_cli_advice import LR, as_json, flat, recommend, train_flags, write_run


@pytest.fixture(scope="module")
def run(tmp_path_factory) -> Path:
    return write_run(tmp_path_factory.mktemp("syn") / "run", S.family())


def test_cosine_doubles_the_constant_lr_advice(run: Path) -> None:
    constant = as_json(run, "--budget", "3000")
    d = as_json(run, "--budget", "6000", "--lr-schedule", "cosine")
    # 6000 cosine steps sum to 3000.5 lr: the tau of 3000 constant-lr steps
    assert d["lr_schedule"] == "cosine" and d["warmup"] == 0 and d["run_steps"] == 6000
    assert d["lr_integral"] == pytest.approx(6001 / 12000) and d["budget_steps"] in (3000, 3001)
    assert d["weight_decay"] == pytest.approx(constant["weight_decay"], rel=1e-3)  # same tau budget
    assert d["weight_decay"] == pytest.approx(2 * d["constant_lr_weight_decay"], rel=1e-3)
    assert d["peak_step"] == pytest.approx(6000, abs=2)  # tau reaches c at the end of the run
    # the advice's own numbers stay on the tau clock (constant-lr steps); peak_step is the run's
    assert d["predicted_peak_step"] == pytest.approx(constant["predicted_peak_step"], rel=1e-3)
    assert constant["lr_schedule"] == "constant" and constant["lr_integral"] == 1.0
    assert json.loads((run / "advice.json").read_text())["lr_schedule"] == "cosine"


def test_linear_with_warmup(run: Path) -> None:
    # linear over 5000 steps after 1000 warmup: 500.5 + 2500.5 = 3001 constant-lr steps
    d = as_json(run, "--budget", "6000", "--lr-schedule", "linear", "--warmup", "1000")
    assert d["warmup"] == 1000 and d["effective_steps"] == pytest.approx(3001.0) and d["budget_steps"] == 3001
    assert d["weight_decay"] == pytest.approx(d["c"] / (LR * 3001))
    assert d["constant_lr_weight_decay"] == pytest.approx(d["c"] / (LR * 6000))


def test_constant_with_warmup_loses_half_the_warmup(run: Path) -> None:
    d = as_json(run, "--budget", "3000", "--warmup", "200")
    assert d["lr_schedule"] == "constant" and d["effective_steps"] == pytest.approx(3000 - 99.5)


def test_clipped_advice_never_reaches_its_peak_under_cosine(run: Path) -> None:
    d = as_json(run, "--budget", "1000", "--lr-schedule", "cosine")  # c/(lr*500) = 0.06 > lam_c = 0.02
    assert d["weight_decay"] == pytest.approx(0.02, rel=0.2) and d["weight_decay"] < d["unclipped"]
    assert d["peak_step"] is None or not math.isfinite(d["peak_step"])  # tau never reaches c
    panel = flat(recommend(run, "--budget", "1000", "--lr-schedule", "cosine").stdout)
    assert "not within the run: its lr decays before the peak's tau, so the run ends below it" in panel  # was "around step -"
    assert f"at most about {d['predicted_metric']:.4f} peak validation accuracy, not within the run" in panel  # review 44


def test_a_step_schedule_whose_run_ends_before_the_peak_says_so(run: Path) -> None:
    """The step schedule holds lr/100 past the end, so the peak's tau was reached "around step 56687"
    of a 2000-step run (in the panel and as --json's peak_step); it is not within the run."""
    d = as_json(run, "--budget", "1000", "--lr-schedule", "step", "--warmup", "100")
    assert d["peak_step"] is None and d["predicted_peak_step"] > d["effective_steps"]
    panel = flat(recommend(run, "--budget", "1000", "--lr-schedule", "step", "--warmup", "100").stdout)
    assert "not within the run" in panel and "around step" not in panel.split("verdict")[0]
    within = as_json(run, "--budget", "20000", "--lr-schedule", "step")  # the control: the peak comes in the run
    assert 0 < within["peak_step"] <= 20000


def test_panel_names_the_schedule(run: Path) -> None:
    result = recommend(run, "--budget", "6000", "--lr-schedule", "cosine")
    assert result.exit_code == 0, result.output
    text = flat(result.stdout)
    assert "6000 steps of cosine lr" in text and "sum of lr_t = 0.500 x lr*T" in text
    assert re.search(r"sees 300[01] constant-lr steps, so lam = c/\(lr\*300[01]\)", text)
    assert "constant lr for 6000 steps:" in text and "around step 6000" in text


def test_panel_under_does_not_hold_names_no_formula(tmp_path: Path) -> None:
    same = write_run(tmp_path / "same", S.no_effect_family())
    text = flat(recommend(same, "--budget", "6000", "--lr-schedule", "cosine").stdout)
    assert "does not hold" in text and "no formula is rescaled" in text
    assert "lam = c/(lr*" not in text  # the advice is a measured lam: no c/(lr*T) to show


def test_numbers_never_show_a_negative_zero() -> None:
    from l2advisor.cli.advice_panel import _num
    from l2advisor.reporting.page import _f

    assert _num(-0.001, ".2f") == "0.00" and _f(-0.004, ".2f") == "0.00"
    assert _num(-0.5, ".2f") == "-0.50" and _f(-0.006, ".2f") == "-0.01"  # real negatives keep their sign


def test_autol2_command_carries_the_schedule(run: Path) -> None:
    result = recommend(run, "--budget", "6000", "--autol2", "--lr-schedule", "linear", "--warmup", "100")
    assert result.exit_code == 0, result.output
    line = next(ln for ln in result.stdout.splitlines() if ln.startswith("l2advisor train"))
    assert line.startswith("l2advisor train mymodel.py --budget 6000 --autol2")
    assert line.endswith("--lr-schedule linear --warmup 100")
    assert {w for w in line.split() if w.startswith("--")} <= train_flags()


@pytest.mark.parametrize(("args", "message"), [
    (["--lr-schedule", "exponential"], "--lr-schedule must be one of"),
    (["--warmup", "3000"], "--warmup must be a whole number of steps in [0, 3000)"),
    (["--warmup", "-5"], "--warmup must be"),
])
def test_bad_schedule_flags(run: Path, args: list[str], message: str) -> None:
    result = recommend(run, "--budget", "3000", *args)
    assert result.exit_code == 2, result.output
    assert message in " ".join(result.stderr.split()) and "Traceback" not in result.output


def test_an_unknown_peak_step_at_constant_lr_is_not_blamed_on_a_schedule() -> None:
    import io

    from rich.console import Console

    from l2advisor.cli.advice_panel import advice_panel
    from l2advisor.science.advise import advise
    from l2advisor.science.fit import fit_relations

    fit = fit_relations(S.no_effect_family())
    advice = advise(fit, 100, 0.05)  # "does not hold" at another lr: no peak step is predicted
    assert not math.isfinite(advice.predicted_peak_step)
    console = Console(file=io.StringIO(), width=200, color_system=None)
    console.print(advice_panel(advice, fit, "accuracy"))
    text = " ".join(console.file.getvalue().split())
    assert "no predicted metric: the probes ran at lr = 0.1" in text and "decays to 0" not in text
    assert "around step -" not in text  # said in words, not a placeholder


def test_a_bad_schedule_name_is_refused_before_anything_is_said(run: Path) -> None:
    """Without --budget, "No --budget: advising for ..." came before the refusal of a misspelt schedule."""
    result = recommend(run, "--lr-schedule", "cosin")
    assert result.exit_code == 2 and result.stderr.lstrip().startswith("Error: --lr-schedule must be one of")
    assert "No --budget" not in result.stderr
