"""A metric that is NaN at some evaluations (a macro precision while a class is never predicted):
those evaluations are left out, not the probes (a reviewer's probes were called "diverged" with a
finite loss, 5 of 6 dropped, and the advice was the worst probed lam, exit 0, with nothing said);
the panel and --json say what was left out. The controls: a loss or a metric that blows up still
diverges."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import synthetic as S
from test_cli_advice import as_json, flat, recommend, write_run

from l2advisor.science.curves import analyze_curve
from l2advisor.science.fit import fit_relations


def _holes(cv, every: int = 3):
    """The curve with its metric NaN at every `every`-th evaluation after the first."""
    val = np.array(cv.val_metric, dtype=float)
    val[1::every] = np.nan
    return dataclasses.replace(cv, val_metric=val)


def test_nan_evaluations_are_left_out_not_called_divergence() -> None:
    cv = S.curve(0.02, 0.1, 0)
    holed = analyze_curve(_holes(cv))
    assert not holed.diverged and holed.nan_evals == len(range(1, len(cv.steps), 3))
    assert abs(holed.peak_metric - analyze_curve(cv).peak_metric) < 0.01
    blown_loss = dataclasses.replace(cv, train_loss=np.where(np.arange(len(cv.steps)) > 50, np.nan, cv.train_loss))
    assert analyze_curve(blown_loss).diverged  # the control: the loss went NaN
    blown_metric = dataclasses.replace(cv, val_metric=np.where(np.arange(len(cv.steps)) > 50, -np.inf, cv.val_metric))
    assert analyze_curve(blown_metric).diverged  # -MSE of a run that blew up


def test_the_advice_of_holed_curves_is_the_advice_of_whole_ones() -> None:
    whole, holed = fit_relations(S.family()), fit_relations([_holes(cv) for cv in S.family()])
    assert holed.n_usable == whole.n_usable and not holed.excluded
    assert holed.verdict == whole.verdict and abs(np.log(holed.c / whole.c)) < 0.2
    assert any(r.startswith("the metric was NaN at ") for r in holed.reasons)
    assert not any("NaN" in r for r in whole.reasons)  # the control


def test_the_panel_and_json_say_what_was_left_out(tmp_path: Path) -> None:
    curves = S.family(lam_c=0.0005, alpha=0.0)  # "cannot tell": many reasons compete for the 4 caveats
    loss = np.array(curves[0].train_loss, dtype=float)
    loss[50:] = np.nan  # diverged
    curves[0] = dataclasses.replace(curves[0], train_loss=loss)
    curves[1:] = [_holes(cv) for cv in curves[1:]]
    run_dir = write_run(tmp_path / "r", curves)
    d = as_json(run_dir, "--budget", "20000")
    assert any(c.startswith("1 probe(s) excluded: lam=0.08") for c in d["caveats"]), d["caveats"]
    assert any(c.startswith("the metric was NaN at ") for c in d["caveats"]), d["caveats"]
    assert d["fit"]["excluded"] == [{"lam": 0.08, "lr": 0.1, "seed": 0,
                                     "reason": "diverged (its status, a non-finite training loss or an infinite metric)"}]
    assert "the metric was NaN at" in flat(recommend(run_dir, "--budget", "20000").stdout)
    assert d["predicted_metric_is_floor"] is False  # "cannot tell" below the smallest probe: its peak, no floor
    assert json.loads((run_dir / "advice.json").read_text())["fit"]["excluded"] == d["fit"]["excluded"]


def test_json_says_when_the_probes_learned_nothing(tmp_path: Path) -> None:
    flat_curves = [dataclasses.replace(cv, val_metric=np.full(len(cv.steps), 0.1)) for cv in S.family()]
    d = as_json(write_run(tmp_path / "r", flat_curves), "--budget", "3000")
    assert d["learned_nothing"] is True


def _probe(tmp_path: Path, metric_body: str):
    from typer.testing import CliRunner

    from l2advisor.cli.app import app
    from tests.conftest import TINY_MODEL, write_model

    model = write_model(tmp_path, TINY_MODEL + metric_body)
    out = tmp_path / "run"
    args = ["probe", str(model), "--out", str(out), "--lambdas", "0.4,0.2,0.1", "--horizon", "2",
            "--seeds", "0", "--device", "cpu", "--no-early-stop"]
    return CliRunner().invoke(app, args), out


def test_probe_says_how_many_evaluations_the_metric_could_not_score(tmp_path: Path) -> None:
    result, out = _probe(tmp_path, '''
_calls = [0]

def metric(outputs, targets):
    _calls[0] += 1
    if _calls[0] > 1 and _calls[0] % 4 == 0:  # the check's call is the first; 3 stacked probes take turns
        return float("nan")
    return (outputs.argmax(1) == targets).float().mean().item()
''')
    assert result.exit_code == 0, result.output
    said = flat(result.stderr)
    assert "The validation metric was NaN at " in said and "those evaluations are left out" in said
    d = as_json(out, "--budget", "2000")
    assert d["fit"]["n_probes"] == 3 and d["fit"]["excluded"] == []  # none dropped as "diverged"


def test_a_metric_nan_everywhere_is_the_model_files_mistake(tmp_path: Path) -> None:
    result, _ = _probe(tmp_path, '''
_calls = [0]

def metric(outputs, targets):
    _calls[0] += 1
    return 0.5 if _calls[0] == 1 else float("nan")  # the model file's check sees a number
''')
    assert result.exit_code == 2, result.output
    assert "the validation metric was NaN at every evaluation of every probe" in flat(result.stderr)
    assert "fix `metric`" in flat(result.stderr)


def test_t_star_is_never_a_step_the_metric_did_not_score() -> None:
    """Smoothing filled NaN evaluations in from their neighbours: a macro precision's probe got
    t* = 26 at a peak of 0.7304 where its first scored evaluation was step 51 (t* 100 without them)."""
    from l2advisor.science.curves import scored

    cv = S.curve(0.02, 0.1, 0)
    val = np.array(cv.val_metric, dtype=float)
    val[:40] = np.nan  # the metric scores nothing until evaluation 40
    holed = dataclasses.replace(cv, val_metric=val)
    m = analyze_curve(holed)
    assert m.t_star >= cv.steps[40] and m.peak_step >= cv.steps[40] and m.nan_evals == 40
    kept = scored(holed)
    assert len(kept.steps) == len(cv.steps) - 40 and not np.isnan(kept.val_metric).any()
    assert scored(cv) is cv  # the control: nothing to leave out
    for lam in (0.08, 0.04, 0.02, 0.01):  # every other evaluation unscored: t* and the peak on scored ones
        base = S.curve(lam, 0.1, 1)
        val = np.array(base.val_metric, dtype=float)
        val[1::2] = np.nan
        m = analyze_curve(dataclasses.replace(base, val_metric=val))
        on = set(np.asarray(base.steps)[~np.isnan(val)].tolist())
        assert m.t_star in on and m.peak_step in on, (lam, m.t_star, m.peak_step)
    f = fit_relations([dataclasses.replace(c, val_metric=np.where(np.arange(len(c.steps)) < 5, np.nan,
                                                                     c.val_metric)) for c in S.family()])
    assert f.n_usable == len(S.family()) and f.verdict == fit_relations(S.family()).verdict


def test_recommend_on_a_metric_nan_everywhere_says_to_fix_the_metric(tmp_path: Path) -> None:
    """recommend said "probe smaller lams or a smaller lr" (exit 1) where probe said to fix `metric` (exit 2)."""
    import l2advisor
    from l2advisor.errors import InputError

    nothing = [dataclasses.replace(cv, val_metric=np.full(len(cv.steps), np.nan)) for cv in S.family()]
    run_dir = write_run(tmp_path / "r", nothing)
    result = recommend(run_dir, "--budget", "3000")
    assert result.exit_code == 2 and "fix `metric` in the model file" in flat(result.stderr)
    assert "smaller lams" not in flat(result.stderr)
    try:
        l2advisor.recommend(run_dir, 3000, write=False)
    except InputError as refused:
        assert "NaN at every evaluation" in str(refused)
    else:
        raise AssertionError("the API advised from probes whose metric was NaN everywhere")
