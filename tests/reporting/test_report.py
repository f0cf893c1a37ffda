"""`l2advisor report` and report.py: the figures exist and are real PNGs, the data behind them
is what the fit used, and odd fits (relations failing, a diverged probe) still draw."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
import synthetic as S
from test_cli_advice import recommend, write_run
from typer.testing import CliRunner

from l2advisor.cli.app import app
from l2advisor.reporting.data import report_data
from l2advisor.reporting.page import FIGURES, markdown, write_report
from l2advisor.science.advise import advise
from l2advisor.science.curves import Curve
from l2advisor.science.fit import fit_relations

runner = CliRunner()
PNG = b"\x89PNG\r\n\x1a\n"


def check_png(path: Path) -> None:
    data = path.read_bytes()
    assert data[:8] == PNG and len(data) > 10_000, path  # a real picture, not an empty canvas


@pytest.fixture(scope="module")
def family() -> list[Curve]:
    return S.family()


@pytest.fixture(scope="module")
def fit(family):
    return fit_relations(family, n_bootstrap=50)


def test_report_command_writes_figures_and_markdown(tmp_path: Path, family) -> None:
    run = write_run(tmp_path / "run", family)
    assert recommend(run, "--budget", "8000").exit_code == 0  # advice.json: marked in the figures
    out = tmp_path / "figs"
    result = runner.invoke(app, ["report", str(run), "--out", str(out)])
    assert result.exit_code == 0, result.output
    printed = result.stdout.split()
    for name in FIGURES:
        check_png(out / name)
        assert str(out / name) in printed
    md = (out / "report.md").read_text()
    assert str(out / "report.md") in printed
    assert "Verdict (the paper's relations): holds." in md and "## Advice" in md and "8000 steps" in md
    assert all(f"]({name})" in md for name in FIGURES)
    assert md.count("| 0.1 |") == 6  # one table row per lam


def test_report_without_advice_defaults_to_run_dir(tmp_path: Path, family) -> None:
    run = write_run(tmp_path / "run", family)
    result = runner.invoke(app, ["report", str(run)])
    assert result.exit_code == 0, result.output
    assert (run / "fit.json").exists() and not (run / "advice.json").exists()
    assert "## Advice" not in (run / "report.md").read_text()
    for name in FIGURES:
        check_png(run / name)


@pytest.mark.bad_input
def test_report_on_missing_run(tmp_path: Path) -> None:
    result = runner.invoke(app, ["report", str(tmp_path / "nowhere")])
    assert result.exit_code == 2 and "Error" in result.stderr


def test_data_follows_the_fit(family, fit) -> None:
    data = report_data(family, fit, advise(fit, 3000), title="t")
    assert len(data.lines) == len(family)
    for ln in data.lines:
        assert np.all(ln.steps > 0)  # log axes
        np.testing.assert_allclose(ln.tau, ln.lr * ln.lam * ln.steps)
        assert ln.in_plateau == (ln.lam <= fit.lam_c)
        assert ln.in_tstar_fit == (ln.lam <= fit.lam_c and ln.peaked)
    # the band brackets the fit's own line t* = c0 (1/(lr*lam))^alpha
    line = fit.c0 * data.band_x ** fit.alpha
    inside = (data.band_lo <= line * 1.02) & (line <= data.band_hi * 1.02)
    assert inside.mean() > 0.9


def test_markdown_lists_reasons_table_and_rules(fit, family) -> None:
    a = advise(fit, 100_000)
    md = markdown(report_data(family, fit, a, title="t", advice_source="the budget given to report()"), list(FIGURES))
    assert all(r in md for r in fit.reasons)
    assert "rule of thumb" in md and "extrapolated" in md
    assert "at lr 0.1 (the budget given to report()):" in md  # where the page's budget comes from
    assert f"alpha = {fit.alpha:.2f} [" in md


def test_markdown_says_what_was_not_measured_without_placeholders(fit, family) -> None:
    import dataclasses

    blind = dataclasses.replace(fit, alpha=math.nan, alpha_interval=(math.nan, math.nan), tau_star_median=math.nan)
    md = markdown(report_data(family, blind, None, title="t"), list(FIGURES))
    assert "alpha not measured" in md and "- [-, -]" not in md


def test_odd_fits_still_draw(tmp_path: Path) -> None:
    curves = S.no_effect_family()
    bad = curves[0]
    curves[0] = Curve(lam=bad.lam, lr=bad.lr, seed=bad.seed, steps=bad.steps, tau=bad.tau,
                      val_metric=bad.val_metric * math.nan, train_acc=bad.train_acc,
                      train_loss=bad.train_loss, status="diverged")
    f = fit_relations(curves, n_bootstrap=20)
    paths = write_report(report_data(curves, f, advise(f, 5000)), tmp_path)
    assert [p.name for p in paths] == [*FIGURES, "report.md"]
    for p in paths[:-1]:
        check_png(p)
    assert "does not hold" in paths[-1].read_text() and "Excluded" in paths[-1].read_text()


def test_nothing_usable_still_draws(tmp_path: Path) -> None:
    f = fit_relations([])
    paths = write_report(report_data([], f), tmp_path)
    assert all(p.exists() for p in paths)


def test_a_saved_advice_says_it_is_the_last_recommends_and_for_which_run() -> None:
    from l2advisor.reporting.data import saved_advice_source

    plain = saved_advice_source({"budget_steps": 5000, "lr_schedule": "constant"})
    assert plain == "the budget of the last `l2advisor recommend` on this directory (advice.json)"
    scheduled = saved_advice_source({"budget_steps": 5000, "lr_schedule": "cosine", "run_steps": 10000})
    assert scheduled.endswith(": 10000 steps of cosine lr, which the tau clock sees as 5000 constant-lr steps")


def test_a_fit_pooled_on_another_clock_than_tau_still_draws(tmp_path: Path, family, fit) -> None:
    import dataclasses

    other = dataclasses.replace(fit, b_used=0.7)  # the t* plot's line and the budget's mark follow that clock
    paths = write_report(report_data(family, other, advise(other, 100_000), title="t"), tmp_path)
    for path in paths[:-1]:
        check_png(path)


def _x_labels(ax, minor: bool) -> list[str]:
    ax.figure.canvas.draw()  # labels are decided when drawn
    return [t.get_text() for t in ax.get_xticklabels(minor=minor) if t.get_text()]


def test_short_log_axes_label_2_and_5_long_ones_only_powers_of_ten() -> None:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    from l2advisor.reporting.axes import log_x

    def axis(low: float, high: float, **kw):
        fig = Figure()
        FigureCanvasAgg(fig)
        ax = fig.subplots()
        ax.plot([low, high], [0, 1])
        log_x(ax, **kw)
        ax.set_xlim(low, high)
        return ax

    short = axis(0.15, 5)  # a tau axis: only "1" was labelled
    assert {"0.2", "0.5", "2"} <= set(_x_labels(short, minor=True)) and "1" in _x_labels(short, minor=False)
    assert _x_labels(axis(1e-3, 1e3), minor=True) == []  # six decades: minor labels would collide
    assert _x_labels(axis(1.0, 1e3), minor=True) == []  # three: past the 2.5-decade edge
    assert _x_labels(axis(0.15, 5, minor_labels=False), minor=True) == []  # the caller's own ticks
    fig = Figure()
    FigureCanvasAgg(fig)
    ax = fig.subplots()
    ax.plot([0, 1], [120, 3000])
    log_x(ax, axis="y")  # t*'s steps axis
    fig.canvas.draw()
    assert {"200", "500", "2000"} <= {t.get_text() for t in ax.get_yticklabels(minor=True)}


def test_a_scheduled_advice_is_reported_for_the_run_its_steps_and_its_warmup(tmp_path: Path, family) -> None:
    run = write_run(tmp_path / "run", family)
    advised = recommend(run, "--budget", "6000", "--lr-schedule", "cosine", "--warmup", "100", "--json")
    assert advised.exit_code == 0, advised.output
    saved = json.loads(advised.stdout)
    assert runner.invoke(app, ["report", str(run)]).exit_code == 0
    advice_part = (run / "report.md").read_text().split("## Advice")[1].split("##")[0]
    assert "For a budget of **6000 steps**" in advice_part and "after 100 warmup steps" in advice_part
    assert f"around step {saved['peak_step']:.0f} of the 6000-step run" in advice_part  # the panel's step
    constant = tmp_path / "constant"
    write_run(constant, family)
    assert recommend(constant, "--budget", "6000").exit_code == 0  # the control: no schedule, no run steps
    assert runner.invoke(app, ["report", str(constant)]).exit_code == 0
    assert "-step run" not in (constant / "report.md").read_text()


def test_a_smoothed_line_ends_without_the_hook_of_an_end_evaluation_twin() -> None:
    """A rung's last evaluation (its end) can follow the last log-spaced one by 1-2 steps: the two
    smoothed values differ (their windows do) and the line ended in a vertical tick."""
    from l2advisor.reporting.figures import _without_end_twin

    x, y = np.array([10.0, 100.0, 398.0, 400.0]), np.array([0.5, 0.8, 0.85, 0.9])
    kept_x, kept_y = _without_end_twin(x, y)
    assert kept_x.tolist() == [10.0, 100.0, 400.0] and kept_y.tolist() == [0.5, 0.8, 0.9]  # the rung's end stays
    apart = np.array([10.0, 100.0, 200.0, 400.0])  # the control: evaluations far apart are all drawn
    assert _without_end_twin(apart, y)[0].tolist() == apart.tolist()


@pytest.mark.parametrize("c, side", [(4.0, "right"), (0.5, "left")])
def test_c_is_labelled_inside_the_axes(c: float, side: str) -> None:
    """Near the right edge the label goes left of its line (it ran under the legend there)."""
    import dataclasses

    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    from l2advisor.reporting.figures import _mark_c

    fig = Figure()
    FigureCanvasAgg(fig)
    ax = fig.subplots()
    ax.set_xscale("log")
    ax.set_xlim(0.1, 4.2)
    f = dataclasses.replace(fit_relations(S.family()), c=c, c_bound="lower")
    _mark_c(ax, f)
    (label,) = ax.texts
    assert label.get_text() == f"c >= {c:.3g}" and label.get_horizontalalignment() == side


def test_the_plateau_shows_the_peaks_at_equal_steps_when_windows_differ(tmp_path: Path) -> None:
    """What "cannot tell" and "does not hold" compare (peaks within the shortest probe's steps) is
    drawn beside the peaks in each probe's own window, when the two differ."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    from l2advisor.reporting.figures import _equal_steps

    def labels(curves: list[Curve]) -> list[str]:
        f = fit_relations(curves)
        fig = Figure()
        FigureCanvasAgg(fig)
        ax = fig.subplots()
        _equal_steps(ax, sorted((r for r in f.table if r.lr == f.lr), key=lambda r: r.lam), f.common_steps)
        return [ln.get_label() for ln in ax.lines]

    (drawn,) = labels(S.family())  # windows of 1/(lr*lam): the shorter ones cut the longer
    assert drawn.startswith("mean within the first")
    assert labels(S.no_effect_family()) == []  # the control: every probe ran the same steps


def test_a_predicted_floor_reads_as_one_on_the_page() -> None:
    """"does not hold" for a budget past the steps the lams were compared at: the panel says "at
    least", and so must report.md (it read as an estimate)."""
    curves = S.no_effect_family()
    f = fit_relations(curves)
    far, near = advise(f, int(10 * f.common_steps)), advise(f, int(f.common_steps))
    page = markdown(report_data(curves, f, far, title="t"), list(FIGURES))
    assert f"predicted at least {far.predicted_metric:.4f} peak validation accuracy: this lam's peak in its own " \
        "probes" in page and "may climb further" in page and "typical c" not in page  # as the panel says it
    assert "at least" not in markdown(report_data(curves, f, near, title="t"), list(FIGURES))  # the control


def test_the_page_qualifies_a_cannot_tell_prediction_as_the_panel_does() -> None:
    """Review 41: report.md said "predicted peak accuracy 0.9534 around step 6000 (extrapolated)" where the
    panel said the metric is no floor and the step rests on a borrowed c; and "peak ... around step 800"
    for a 300-step run the panel called still rising at its end."""
    curves = S.family(lam_c=0.0005, alpha=0.0)  # "cannot tell": the probes may all sit above the plateau
    f = fit_relations(curves)
    below, short = advise(f, 20_000), advise(f, 100 * 20)
    page = markdown(report_data(curves, f, below, title="t"), list(FIGURES))
    assert "(extrapolated below the smallest probed lam: a smaller lam may do better or worse)" in page
    assert "if the typical c holds (it may come much earlier or later: keep the best checkpoint, not the last)" in page
    assert "at least" not in page.split("## Runs")[0]
    late = markdown(report_data(curves, f, short, title="t"), list(FIGURES))
    assert "at the run's end, still rising (its top comes around step" in late and "checkpoint" not in late
    held = markdown(report_data(S.family(), fit_relations(S.family()), advise(fit_relations(S.family()), 3000),
                                title="t"), list(FIGURES))
    assert "peak validation accuracy, around step" in held and "typical c" not in held and "checkpoint" not in held


def test_the_page_gives_no_number_alone_from_probes_that_learned_nothing() -> None:
    """Review 45: the panel's "use" row said "none yet" where report.md still bolded the number."""
    curves = S.solved_for_seed_0()
    f = fit_relations(curves)
    page = markdown(report_data(curves, f, advise(f, 2000), title="t"), list(FIGURES))
    assert f"none yet: `weight_decay={advise(f, 2000).weight_decay:.3g}` from these probes means nothing" in page
    assert "**`weight_decay=" not in page
    learned = markdown(report_data(S.family(), fit_relations(S.family()), advise(fit_relations(S.family()), 3000),
                                   title="t"), list(FIGURES))
    assert "**`weight_decay=" in learned and "none yet" not in learned  # the control


def test_a_cannot_tell_peak_beyond_a_scheduled_run_is_no_ceiling() -> None:
    """Review 46: "at most about 0.9427 ..., not within the run: ... the run ends below it" under "cannot tell"
    (a borrowed c); the ResNet's run peaked at 0.981, within it. Measured c keeps "at most about"."""
    import math

    from l2advisor.reporting.expected import expected_words

    above = fit_relations(S.family(lam_c=0.0005, alpha=0.0))  # "cannot tell"
    a = advise(above, 2000)
    said = expected_words(a, above, "accuracy", math.inf, scheduled=True)
    assert "at most" not in said and "not within the run if the typical c holds: its lr decays" in said, said
    assert "(it may come much earlier or later: keep the best checkpoint, not the last)" in said
    held = fit_relations(S.family())  # "holds": c measured
    b = advise(held, 2000)
    assert expected_words(b, held, "accuracy", math.inf, scheduled=True).startswith(
        f"at most about {b.predicted_metric:.4f} peak validation accuracy, not within the run: its lr decays")


def test_a_peak_step_solved_for_on_the_tau_clock_names_the_fitted_b_step() -> None:
    """Review 48: 16 images, "holds approximately" with b = 0.47 [0.43, 0.51]; the lam solved on the tau
    clock puts the top at the run's end by construction ("around step 2000", not flagged), where runs
    peaked at steps 980-1260 and the fitted b said 990. The control: a b whose interval holds 1."""
    import dataclasses

    from l2advisor.reporting.expected import expected_words
    from l2advisor.science.advise import advice_flags, fitted_b_step
    from l2advisor.science.scaling import steps_to_top

    held = dataclasses.replace(fit_relations(S.family()), b=0.98, b_interval=(0.9, 1.1))  # the control
    a = advise(held, 2000)
    assert a.predicted_peak_step == pytest.approx(2000, rel=0.005)  # solved for the run's end
    assert fitted_b_step(a, held) is None and not advice_flags(a, held)["predicted_peak_step_is_assumed"]
    assert "fitted b" not in expected_words(a, held, "accuracy", a.predicted_peak_step)
    slow = dataclasses.replace(held, verdict="holds approximately", b=0.47, b_interval=(0.43, 0.51), b_used=1.0)
    b = advise(slow, 2000)
    step = steps_to_top(b.c, 0.47, slow.clock_ref, b.lr * b.weight_decay)
    assert fitted_b_step(b, slow) == pytest.approx(step) and abs(step - 2000) > 200
    assert advice_flags(b, slow)["predicted_peak_step_is_assumed"]
    said = expected_words(b, slow, "accuracy", b.predicted_peak_step)
    assert (f"around step 2000, the run's end (the lam was solved for it on the tau clock; the fitted b = 0.47 puts "
            f"it nearer step {step:.0f})") in said, said
    assert "keep the best checkpoint, not the last" in said
    # controls (review 49): b far from 1 whose interval holds 1; an advice clipped to the plateau edge (its
    # step is not the budget, so nothing was solved for the run's end)
    wide = dataclasses.replace(slow, b=0.6, b_interval=(0.3, 1.05))
    assert fitted_b_step(advise(wide, 2000), wide) is None
    clipped = advise(slow, 300)
    assert clipped.weight_decay < clipped.unclipped and fitted_b_step(clipped, slow) is None
    assert not advice_flags(clipped, slow)["predicted_peak_step_is_assumed"]
    # under an lr schedule the fitted b's step is said in the run's own steps (review 49: it was dropped)
    from l2advisor.reporting.data import run_peak_step, run_step
    from l2advisor.science.schedules import schedule_budget

    cosine = advise(slow, round(schedule_budget("cosine", 16000, 100).effective_steps))  # recommend's constant-lr scale
    early = fitted_b_step(cosine, slow)
    ran = run_step(early, cosine, "cosine", 16000, 100)
    at = run_peak_step(cosine, "cosine", 16000, 100)
    said = expected_words(cosine, slow, "accuracy", at, scheduled=True,
                          to_run=lambda s: run_step(s, cosine, "cosine", 16000, 100))
    assert at == pytest.approx(16000, rel=0.005) and ran < at and ran != pytest.approx(early), (at, ran, early)
    assert (f"around step {at:.0f}, the run's end (the lam was solved for it on the tau clock; the fitted b = 0.47 "
            f"puts it nearer step {ran:.0f})") in said, said
    # a fitted step the scheduled run never reaches (run_step's inf) is no step number
    assert "around step 2000, the run's end (the lam was solved for it on the tau clock; the fitted b = 0.47 puts it " \
           "after the run's end)" in expected_words(b, slow, "accuracy", 2000.0, scheduled=True,
                                                    to_run=lambda s: s if s == 2000 else math.inf)


def test_a_cannot_tell_step_under_a_schedule_is_the_runs_end_by_construction() -> None:
    """Under "cannot tell" the lam is solved for the run's end, with an lr schedule too (the run's own
    steps, through `run_step`); one test of the run's end serves "cannot tell" and the fitted b's step."""
    from l2advisor.reporting.data import run_peak_step, run_step
    from l2advisor.reporting.expected import expected_words
    from l2advisor.science.schedules import schedule_budget

    above = fit_relations(S.family(lam_c=0.0005, alpha=0.0))  # "cannot tell"
    a = advise(above, round(schedule_budget("cosine", 40_000, 100).effective_steps))
    at = run_peak_step(a, "cosine", 40_000, 100)
    said = expected_words(a, above, "accuracy", at, scheduled=True, to_run=lambda s: run_step(s, a, "cosine", 40_000, 100))
    assert at == pytest.approx(40_000, rel=0.005)
    assert f"around step {at:.0f}, the run's end (the lam was solved for it), if the typical c holds" in said, said
    plain = expected_words(a, above, "accuracy", at, scheduled=True)  # the control: no map to the run's steps
    assert "the run's end" not in plain
